"""The messages people see, built from the workshop's state. No decisions are made here."""

from __future__ import annotations

from collections import Counter

from bot import smart
from bot.domain import agenda
from bot.domain.groups import measures_of, members_of
from bot.domain.model import Comment, Level, Measure, Phase, SmartGoal, Workshop
from bot.flow.turn import Turn
from bot.effects import Invite
from bot.ui import Block, Button, Buttons, Fields, Heading, Message, Note, Text

LEVELS = tuple(Level)
MAX_GOALS = 3  # the guide: 1–3 SMART goals per målepunkt
LATEST_COMMENTS = 3


def button(turn: Turn, label: str, action: str, style: str = "", **args: str) -> Button:
    """A button that names its workshop and phase, so a stale press can be recognised."""
    full = {"workshop": turn.ws.id, "seq": str(turn.ws.phase_seq), **args}
    return Button(label, action, full, style)


def message(*blocks: Block | None, summary: str = "") -> Message:
    kept = tuple(b for b in blocks if b is not None)
    first = next((b.text for b in kept if isinstance(b, (Heading, Text))), "")
    return Message(kept, summary or first)


def name_of(ws: Workshop, user: str) -> str:
    member = ws.members.get(user)
    return member.name if member else user


def group_label(turn: Turn, code: str) -> str:
    return turn.t("group.label", code=code, area=turn.t(f"area.{turn.ws.groups[code].area}"))


def level_label(turn: Turn, level: str) -> str:
    return turn.t(f"level.{level}.name")


def phase_title(turn: Turn, phase: Phase) -> str:
    number = agenda.number(phase)
    name = turn.t(f"phase.{phase}.name")
    if number is None or phase == Phase.FOLLOW_UP:
        return name
    return turn.t("phase.numbered", number=number, total=6, name=name)


def value_with_unit(measure: Measure) -> str:
    return f"{measure.current_value} {measure.unit}".strip() if measure.current_value else ""


def tally(ws: Workshop, measure_id: str) -> Counter[str]:
    return Counter(v.level.value for v in ws.votes.values() if v.measure_id == measure_id)


def leading_level(ws: Workshop, measure_id: str) -> str:
    counts = tally(ws, measure_id)
    return max(LEVELS, key=lambda lv: (counts[lv], -LEVELS.index(lv))).value if counts else ""


def tally_text(turn: Turn, measure_id: str) -> str:
    counts = tally(turn.ws, measure_id)
    return " · ".join(f"{level_label(turn, lv)} {counts[lv]}" for lv in LEVELS)


def goals_of(ws: Workshop, measure_id: str) -> list[SmartGoal]:
    return sorted((g for g in ws.goals.values() if g.measure_id == measure_id),
                  key=lambda g: g.number)


def comments_on(turn: Turn, measure_id: str) -> list[Block]:
    found: list[Comment] = sorted(
        (c for c in turn.ws.comments.values() if c.measure_id == measure_id),
        key=lambda c: (c.updated_at, c.id))
    return [Note(turn.t("comment.line", name=name_of(turn.ws, c.author), text=c.text))
            for c in found[-LATEST_COMMENTS:]]


def ambition_fields(turn: Turn, measure_id: str) -> Fields:
    ambition = turn.ws.ambitions.get(measure_id)
    if ambition is None:
        return Fields(((turn.t("ambition.sentence"), turn.t("ambition.missing")),))
    return Fields(((turn.t("ambition.level"), level_label(turn, ambition.level)),
                   (turn.t("ambition.sentence"), ambition.sentence)))


def smart_fields(turn: Turn, goal: SmartGoal) -> Fields:
    rows = []
    for check in smart.check(goal, turn.today()):
        label = turn.t(f"smart.{check.criterion}")
        advice = turn.t(f"smart.advice.{check.advice}", **check.params) if check.advice else ""
        rows.append((label, turn.t("smart.ok") if check.ok else turn.t("smart.missing", advice=advice)))
    return Fields(tuple(rows))


def goal_fields(turn: Turn, goal: SmartGoal) -> Fields:
    none = turn.t("common.none")
    deadline = turn.t.date(goal.deadline) if goal.deadline else none
    return Fields((
        (turn.t("goal.indicator"), goal.indicator or none),
        (turn.t("goal.baseline"), goal.baseline or none),
        (turn.t("goal.target"), goal.target or none),
        (turn.t("goal.deadline"), deadline),
    ))


def goal_line(turn: Turn, goal: SmartGoal) -> str:
    checks = smart.check(goal, turn.today())
    return turn.t("goal.line", number=goal.number, text=goal.text,
                  passed=smart.passed(checks), total=len(checks))


def welcome(turn: Turn, code: str, conversation: str) -> None:
    """A group's channel, once the split is approved: its people are invited, then welcomed."""
    members = tuple(m.id for m in members_of(turn.ws, code))
    if members:
        turn.effects.append(Invite(conversation, members))
    turn.post(conversation, welcome_card(turn, code), key=f"welcome:{code}")


def announcement(turn: Turn, where: str) -> Message:
    """A phase starts: its name, what to do here, and when it ends."""
    ws = turn.ws
    phase = ws.phase
    minutes = ws.durations.get(phase, 0)
    todo = f"phase.{phase}.todo_{where}"
    if not ws.phase_ends_at:
        return message(Heading(phase_title(turn, phase)),
                       Text(turn.t(todo if turn.t.has(todo) else f"phase.{phase}.todo")))
    end = (turn.moment(ws.phase_ends_at),)
    back = turn.t("phase.break.back_at", time=end[0].shown) if phase == Phase.BREAK else None
    return message(Heading(phase_title(turn, phase)),
                   Text(turn.t(todo if turn.t.has(todo) else f"phase.{phase}.todo")),
                   Text(back, end) if back else None,
                   Note(turn.t("announce.ends", time=end[0].shown, minutes=minutes), end))


def vote_card(turn: Turn, measure: Measure) -> Message:
    counts = tally(turn.ws, measure.id)
    voters = sum(counts.values())
    members = len(members_of(turn.ws, measure.group))
    inspiration = Fields(tuple((turn.t(f"level.{lv}.long"), measure.inspiration.get(lv, ""))
                               for lv in LEVELS if measure.inspiration.get(lv)))
    ambition = turn.ws.ambitions.get(measure.id)
    edit = "ambition.edit" if ambition else "ambition.write"
    return message(
        Heading(turn.t("measure.heading", name=measure.name, area=measure.area)),
        Text(measure.description) if measure.description else None,
        measure_facts(turn, measure),
        inspiration if inspiration.items else None,
        Text(turn.t("vote.tally", tally=tally_text(turn, measure.id), voters=voters,
                    members=members)),
        ambition_fields(turn, measure.id) if ambition else None,
        Buttons(tuple(button(turn, turn.t("vote.button", level=level_label(turn, lv),
                                          count=counts[lv]), "vote", m=measure.id, level=lv)
                      for lv in LEVELS)
                + (button(turn, turn.t(edit), "edit_ambition", "primary", m=measure.id),)),
    )


def measure_facts(turn: Turn, measure: Measure) -> Fields | None:
    facts = tuple((label, value) for label, value in (
        (turn.t("measure.current"), value_with_unit(measure)),
        (turn.t("measure.why"), measure.why)) if value)
    return Fields(facts) if facts else None


def agree_card(turn: Turn, measure: Measure) -> Message:
    ambition = turn.ws.ambitions.get(measure.id)
    status = turn.t(f"ambition.status.{ambition.status}", note=ambition.note) if ambition \
        else turn.t("ambition.status.missing")
    return message(
        Heading(turn.t("plenum.heading", group=group_label(turn, measure.group),
                       name=measure.name)),
        ambition_fields(turn, measure.id),
        Fields(((turn.t("vote.dots"), tally_text(turn, measure.id)),
                (turn.t("ambition.status_label"), status))),
        *comments_on(turn, measure.id),
        Buttons((
            button(turn, turn.t("plenum.agree"), "agree", "primary", m=measure.id),
            button(turn, turn.t("plenum.send_back"), "send_back", "danger", m=measure.id),
            button(turn, turn.t("comment.button"), "comment", m=measure.id),
        )),
    )


def goals_card(turn: Turn, measure: Measure) -> Message:
    goals = goals_of(turn.ws, measure.id)
    lines = "\n".join(goal_line(turn, g) for g in goals) or turn.t("goal.none_yet")
    return message(
        Heading(turn.t("measure.heading", name=measure.name, area=measure.area)),
        ambition_fields(turn, measure.id),
        Text(lines),
        Note(turn.t("goal.count", count=len(goals), max=MAX_GOALS)),
        Buttons((button(turn, turn.t("goal.add"), "add_goal", "primary", m=measure.id),)),
    )


def goal_card(turn: Turn, goal: SmartGoal) -> Message:
    measure = turn.ws.measures[goal.measure_id]
    backers = [name_of(turn.ws, s) for s in goal.supporters]
    return message(
        Heading(turn.t("goal.heading", number=goal.number, name=measure.name)),
        Text(goal.text),
        goal_fields(turn, goal),
        smart_fields(turn, goal),
        Note(turn.t("goal.byline", name=name_of(turn.ws, goal.author),
                    backers=turn.t.join(backers) or turn.t("common.nobody"))),
        Buttons((
            button(turn, turn.t("goal.edit"), "edit_goal", goal=goal.id),
            button(turn, turn.t("goal.support", count=len(goal.supporters)), "support_goal",
                   goal=goal.id),
        )),
    )


def present_card(turn: Turn, measure: Measure) -> Message:
    goals = goals_of(turn.ws, measure.id)
    blocks: list[Block | None] = [
        Heading(turn.t("plenum.heading", group=group_label(turn, measure.group),
                       name=measure.name)),
        ambition_fields(turn, measure.id)]
    for goal in goals:
        blocks += [Text(goal_line(turn, goal)), goal_fields(turn, goal)]
    if not goals:
        blocks.append(Text(turn.t("goal.none_yet")))
    blocks += comments_on(turn, measure.id)
    edits = tuple(button(turn, turn.t("goal.edit_numbered", number=g.number), "edit_goal",
                         goal=g.id) for g in goals)
    blocks.append(Buttons(edits + (button(turn, turn.t("comment.button"), "comment",
                                          m=measure.id),)))
    return message(*blocks)


def owner_card(turn: Turn, goal: SmartGoal) -> Message:
    measure = turn.ws.measures[goal.measure_id]
    missing = turn.t("owner.missing")
    return message(
        Heading(turn.t("goal.heading", number=goal.number, name=measure.name)),
        Text(goal.text),
        Fields(((turn.t("owner.owner"), goal.owner or missing),
                (turn.t("owner.next_step"), goal.next_step or turn.t("common.none")),
                (turn.t("goal.deadline"),
                 turn.t.date(goal.deadline) if goal.deadline else turn.t("common.none")))),
        Buttons((button(turn, turn.t("owner.button"), "set_owner", "primary", goal=goal.id),)),
    )


def welcome_card(turn: Turn, code: str) -> Message:
    people = [m.name for m in members_of(turn.ws, code)]
    return message(
        Heading(group_label(turn, code)),
        Fields(((turn.t("group.members"), turn.t.join(people) or turn.t("common.nobody")),
                (turn.t("group.measures"),
                 turn.t.join([m.name for m in measures_of(turn.ws, code)]) or turn.t("common.none")))),
    )
