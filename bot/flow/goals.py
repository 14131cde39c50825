"""Phase 4 in each group: 1–3 SMART goals per målepunkt, checked as they are written."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace

from bot.domain.groups import conversation_of, measures_of, plenum_of, working_groups
from bot.domain.model import Phase, SmartGoal
from bot.flow import views
from bot.flow.access import goal_in, measure_in, require_member_of, require_unchanged
from bot.flow.inputs import FormReader
from bot.flow.turn import Refusal, Turn
from bot.smart import Criterion
from bot.ui import FieldKind, Fields, Form, FormField, Heading, Text

MAX_GOALS = views.MAX_GOALS
MAX_GOAL = 500
MAX_INDICATOR = 200
MAX_VALUE = 100


def open_smart_goals(turn: Turn) -> None:
    t = turn.t
    guide = views.message(
        Heading(t("smart.heading")), Text(t("smart.steps")),
        Fields(tuple((t(f"smart.{c}"), t(f"smart.explain.{c}")) for c in Criterion)))
    for group in working_groups(turn.ws):
        conversation = conversation_of(turn.ws, group.code)
        if not conversation:
            continue
        turn.post(conversation, guide)
        for measure in measures_of(turn.ws, group.code):
            turn.post(conversation, views.goals_card(turn, measure), key=f"goals:{measure.id}")


def _may_edit(turn: Turn, group: str) -> None:
    if turn.ws.phase == Phase.GOALS_PLENUM and turn.is_facilitator:
        return
    turn.require_phase(Phase.SMART_GOALS, Phase.GOALS_PLENUM)
    require_member_of(turn, group)


def add(turn: Turn, args: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    turn.require_phase(Phase.SMART_GOALS)
    measure = measure_in(turn, args)
    require_member_of(turn, measure.group)
    _room_for_one_more(turn, measure.id, measure.name)
    turn.open_form(_goal_form(turn, measure.id, None))


def edit(turn: Turn, args: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    goal = goal_in(turn, args)
    _may_edit(turn, turn.ws.measures[goal.measure_id].group)
    turn.open_form(_goal_form(turn, goal.measure_id, goal))


def _room_for_one_more(turn: Turn, measure_id: str, name: str) -> None:
    if len(views.goals_of(turn.ws, measure_id)) >= MAX_GOALS:
        raise Refusal("refuse.too_many_goals", max=MAX_GOALS, name=name)


def _goal_form(turn: Turn, measure_id: str, goal: SmartGoal | None) -> Form:
    t = turn.t
    measure = turn.ws.measures[measure_id]
    ambition = turn.ws.ambitions.get(measure_id)
    deadline = goal.deadline.isoformat() if goal and goal.deadline else ""
    return Form(
        form="goal", title=t("form.goal.title"), submit=t("form.save"),
        intro=t("goal.form_intro", name=measure.name,
                sentence=ambition.sentence if ambition else t("ambition.missing")),
        args={"workshop": turn.ws.id, "seq": str(turn.ws.phase_seq), "m": measure_id,
              "goal": goal.id if goal else "", "version": str(goal.version if goal else 0),
              # A new goal's id comes with its form: in Teams one form card in the channel can
              # be sent by two members, and the second must hear of the first, not add a twin.
              **({} if goal else {"new": _new_id(turn)})},
        fields=(
            FormField("text", t("goal.text"), FieldKind.LONG_TEXT, required=True,
                      value=goal.text if goal else "", max_length=MAX_GOAL, hint=t("goal.text_hint")),
            FormField("indicator", t("goal.indicator"), value=goal.indicator if goal else "",
                      max_length=MAX_INDICATOR, hint=t("goal.indicator_hint")),
            FormField("baseline", t("goal.baseline"), value=goal.baseline if goal else "",
                      max_length=MAX_VALUE, hint=t("goal.baseline_hint")),
            FormField("target", t("goal.target"), value=goal.target if goal else "",
                      max_length=MAX_VALUE, hint=t("goal.target_hint")),
            FormField("deadline", t("goal.deadline"), FieldKind.DATE, value=deadline,
                      hint=t("goal.deadline_hint")),
        ))


def save(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    old = goal_in(turn, args) if args.get("goal") else None
    measure = turn.ws.measures[old.measure_id] if old else measure_in(turn, args)
    if old:
        _may_edit(turn, measure.group)
    else:
        turn.require_phase(Phase.SMART_GOALS)
        require_member_of(turn, measure.group)
    form = FormReader(turn.t, values)
    fields = dict(
        text=form.text("text", MAX_GOAL, required=True, multiline=True),
        indicator=form.text("indicator", MAX_INDICATOR),
        baseline=form.text("baseline", MAX_VALUE),
        target=form.text("target", MAX_VALUE),
        deadline=form.date("deadline", today=turn.today(), future=True),
    )
    form.done()
    if old:
        require_unchanged(turn, args, old.version, old.updated_by)
        goal = turn.save(replace(old, **fields))
    else:
        goal_id = args.get("new") or _new_id(turn)
        if twin := turn.ws.goals.get(goal_id):  # this very form was saved by someone else
            require_unchanged(turn, args, twin.version, twin.updated_by)
        _room_for_one_more(turn, measure.id, measure.name)  # someone may have added one meanwhile
        goal = turn.save(SmartGoal(id=goal_id, measure_id=measure.id,
                                   number=_free_number(turn, measure.id), author=turn.actor, **fields))
    _show(turn, goal, new=old is None)


def _new_id(turn: Turn) -> str:
    return "g" + hashlib.sha256(turn.event.event_id.encode()).hexdigest()[:10]


def _free_number(turn: Turn, measure_id: str) -> int:
    taken = {g.number for g in views.goals_of(turn.ws, measure_id)}
    return min(n for n in range(1, MAX_GOALS + 1) if n not in taken)


def _show(turn: Turn, goal: SmartGoal, new: bool = False) -> None:
    measure = turn.ws.measures[goal.measure_id]
    if turn.ws.phase == Phase.GOALS_PLENUM:
        turn.update(plenum_of(turn.ws), f"present:{measure.id}", views.present_card(turn, measure))
        return
    group_chat = conversation_of(turn.ws, measure.group)
    if new and group_chat:
        turn.post(group_chat, views.goal_card(turn, goal), key=f"goal:{goal.id}")
    else:
        turn.update(group_chat, f"goal:{goal.id}", views.goal_card(turn, goal))
    turn.update(group_chat, f"goals:{measure.id}", views.goals_card(turn, measure))


def support(turn: Turn, args: Mapping[str, str]) -> None:
    """'We stand behind this goal': the Accepted criterion needs someone besides the author."""
    turn.require_fresh(args)
    turn.require_phase(Phase.SMART_GOALS)
    goal = goal_in(turn, args)
    require_member_of(turn, turn.ws.measures[goal.measure_id].group)
    backers = tuple(s for s in goal.supporters if s != turn.actor)
    if len(backers) == len(goal.supporters):
        backers += (turn.actor,)
    _show(turn, turn.save(replace(goal, supporters=backers)))
