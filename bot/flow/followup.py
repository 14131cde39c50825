"""After the workshop: the owners keep their goals alive (the guide's "løbende opfølgning").

When phase 6 ends, each owner gets their goals in their own chat with the bot, with a button
per status. Each goal has one reminder timer: the monthly check-in (first working day, 09:00)
or a deadline reminder (14 and 3 days before, and on the day), whichever comes first, moved
into working hours and off Danish holidays. An answer or a snooze sets the next one; a goal
that is done, or a workshop closed for follow-up, gets no more. Once a month the facilitator
gets one digest of what is stuck.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta

from bot.domain import followup as history
from bot.domain.groups import plenum_of
from bot.domain.model import FollowUp, GoalStatus, Phase, SmartGoal, Workshop
from bot.domain.workdays import WorkingHours
from bot.flow import views
from bot.flow.turn import Refusal, Turn
from bot.domain.numbers import parse_number, show_number
from bot.flow.inputs import FormReader
from bot.ui import Buttons, FieldKind, Fields, Form, FormField, Heading, Message, Note, Text

CHECK_IN = time(9)
DEADLINE_DAYS = (14, 3, 0)
SNOOZE_DAYS = {"day": 1, "week": 7}
QUIET_MONTHS = 2  # months without an answer before the facilitator hears of the goal
DIGEST = "digest"
MAX_COMMENT = 1000


def timer_id(workshop_id: str, goal_id: str) -> str:
    return f"{workshop_id}:followup:{goal_id}"


def is_followup_timer(workshop_id: str, timer: str) -> bool:
    return timer.startswith(f"{workshop_id}:followup:")


def hours(ws: Workshop) -> WorkingHours:
    return WorkingHours(timezone=ws.timezone)


def owned(ws: Workshop) -> list[SmartGoal]:
    return sorted((g for g in ws.goals.values() if g.owner_id), key=lambda g: (g.measure_id, g.number))


# -- the start: phase 6 is over ------------------------------------------------------------


def begin(turn: Turn) -> None:
    ws = turn.ws
    by_owner: dict[str, list[SmartGoal]] = {}
    for goal in owned(ws):
        by_owner.setdefault(goal.owner_id, []).append(goal)
    plenum = plenum_of(ws)
    for owner, goals in by_owner.items():
        turn.direct(plenum, owner, views.message(
            Heading(turn.t("followup.welcome_heading", title=ws.title)),
            Text(turn.t("followup.welcome", count=len(goals)))))
        for goal in goals:
            turn.direct(plenum, owner, goal_card(turn, goal), key=card_key(goal))
            schedule_next(turn, goal)
    unowned = [g for g in ws.goals.values() if not g.owner_id]
    turn.post(plenum, views.message(Text(turn.t("followup.started", owners=len(by_owner))),
                                    Note(turn.t("followup.unowned", count=len(unowned))) if unowned else None))
    schedule_digest(turn)


def card_key(goal: SmartGoal) -> str:
    return f"followup:{goal.id}"


# -- when the next reminder is ---------------------------------------------------------------


def next_reminder(ws: Workshop, goal: SmartGoal, after: datetime) -> tuple[datetime, str]:
    """The goal's next reminder after `after`: the monthly check-in or a deadline reminder."""
    work = hours(ws)
    local = after.astimezone(work.zone)
    candidates = [(work.at(work.first_working_day(*_next_month(local.date())), CHECK_IN), "check_in")]
    if goal.deadline:
        for days in DEADLINE_DAYS:
            at = work.at(goal.deadline - timedelta(days=days), CHECK_IN)
            if at > after:
                candidates.append((at, f"deadline_{days}"))
    this_month = work.at(work.first_working_day(local.year, local.month), CHECK_IN)
    if this_month > after:
        candidates.append((this_month, "check_in"))
    return min(candidates)


def _next_month(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def schedule_next(turn: Turn, goal: SmartGoal, at: datetime | None = None, kind: str = "") -> None:
    if turn.ws.followup_closed or history.status_of(turn.ws, goal.id) == GoalStatus.DONE:
        turn.cancel(timer_id(turn.ws.id, goal.id))
        return
    if at is None:
        at, kind = next_reminder(turn.ws, goal, turn.now)
    # `due` makes each firing an event of its own: the same kind of reminder comes back month
    # after month, and a firing is handled once by its arguments.
    turn.schedule(timer_id(turn.ws.id, goal.id), at, {
        "workshop": turn.ws.id, "goal": goal.id, "kind": kind, "due": at.isoformat()})


def schedule_digest(turn: Turn) -> None:
    work = hours(turn.ws)
    year, month = _next_month(turn.local(turn.now).date())
    at = work.at(work.first_working_day(year, month), CHECK_IN)
    turn.schedule(timer_id(turn.ws.id, DIGEST), at, {"workshop": turn.ws.id, "goal": DIGEST,
                                                     "due": at.isoformat()})


# -- timers --------------------------------------------------------------------------------


def timer_fired(turn: Turn, args: Mapping[str, str]) -> None:
    ws = turn.ws
    if ws.followup_closed:
        return
    if args.get("goal") == DIGEST:
        send_digest(turn)
        schedule_digest(turn)
        return
    goal = ws.goals.get(args.get("goal", ""))
    if goal is None or not goal.owner_id or history.status_of(ws, goal.id) == GoalStatus.DONE:
        return
    turn.direct(plenum_of(ws), goal.owner_id, reminder(turn, goal, args.get("kind", "check_in")))
    schedule_next(turn, goal)


def reminder(turn: Turn, goal: SmartGoal, kind: str) -> Message:
    deadline = turn.t.date(goal.deadline) if goal.deadline else ""
    days = kind.removeprefix("deadline_")
    text = (turn.t("followup.deadline_today", deadline=deadline) if kind == "deadline_0"
            else turn.t("followup.deadline_soon", days=days, deadline=deadline) if kind.startswith("deadline_")
            else turn.t("followup.check_in"))
    return goal_card(turn, goal, text)


# -- the owner's answers ---------------------------------------------------------------------


def report(turn: Turn, args: Mapping[str, str]) -> None:
    goal = _answerable(turn, args)
    try:
        status = GoalStatus(args.get("status", ""))
    except ValueError:
        raise Refusal("refuse.unknown_item") from None
    _record(turn, goal, status)


def _record(turn: Turn, goal: SmartGoal, status: GoalStatus, progress: float | None = None,
            comment: str = "") -> None:
    turn.save(FollowUp(id=uuid.uuid4().hex[:12], goal_id=goal.id, status=status, progress=progress,
                       comment=comment))
    turn.update(plenum_of(turn.ws), card_key(goal), goal_card(turn, goal))
    turn.reply(turn.t("followup.thanks", status=turn.t(f"goal_status.{status.value}")))
    schedule_next(turn, goal)


def open_update(turn: Turn, args: Mapping[str, str]) -> None:
    """The longer answer: status, how far towards the target, and a comment."""
    goal = _answerable(turn, args)
    t = turn.t
    latest = history.latest(turn.ws, goal.id)
    turn.open_form(Form(
        form="followup", title=t("followup.form_title"), submit=t("form.save"),
        intro=t("followup.form_intro", text=goal.text, target=goal.target or t("common.none")),
        args={"workshop": turn.ws.id, "goal": goal.id},
        fields=(FormField("status", t("followup.status"), FieldKind.CHOICE, required=True,
                          value=history.status_of(turn.ws, goal.id).value,
                          options=tuple((s.value, t(f"goal_status.{s.value}")) for s in GoalStatus)),
                FormField("progress", t("followup.progress"), FieldKind.TEXT, max_length=40,
                          value=show_number(latest.progress) if latest and latest.progress is not None else "",
                          hint=t("followup.progress_hint")),
                FormField("comment", t("followup.comment"), FieldKind.LONG_TEXT, max_length=MAX_COMMENT))))


def save_update(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    goal = _answerable(turn, args)
    form = FormReader(turn.t, values)
    status = form.choice("status", [s.value for s in GoalStatus])
    raw = form.text("progress", 40)
    progress = parse_number(raw) if raw else None
    if raw and progress is None:
        form.errors["progress"] = turn.t("followup.bad_progress", value=raw)
    comment = form.text("comment", MAX_COMMENT, multiline=True)
    form.done()
    _record(turn, goal, GoalStatus(status), progress, comment)


def my_goals(turn: Turn, args: Sequence[str] = ()) -> None:
    """`mine mål`: an owner's own goals, with their buttons, in their own chat."""
    turn.require_phase(Phase.FOLLOW_UP)
    goals = [g for g in owned(turn.ws) if g.owner_id == turn.actor]
    if not goals:
        raise Refusal("refuse.no_goals_of_yours")
    for goal in goals:
        turn.direct(plenum_of(turn.ws), turn.actor, goal_card(turn, goal), key=card_key(goal))


def snooze(turn: Turn, args: Mapping[str, str]) -> None:
    goal = _answerable(turn, args)
    days = SNOOZE_DAYS.get(args.get("for", ""))
    if days is None:
        raise Refusal("refuse.unknown_item")
    at = hours(turn.ws).next_allowed(turn.now + timedelta(days=days))
    schedule_next(turn, goal, at, "check_in")
    turn.reply(turn.t("followup.snoozed", when=turn.t.date(turn.local(at).date())))


def _answerable(turn: Turn, args: Mapping[str, str]) -> SmartGoal:
    turn.require_phase(Phase.FOLLOW_UP)
    if turn.ws.followup_closed:
        raise Refusal("refuse.followup_closed")
    goal = turn.ws.goals.get(args.get("goal", ""))
    if goal is None:
        raise Refusal("refuse.unknown_item")
    if turn.actor != goal.owner_id and not turn.is_facilitator:
        raise Refusal("refuse.not_owner", owner=goal.owner or "?")
    return goal


def close(turn: Turn, args: Sequence[str] = ()) -> None:
    turn.require_facilitator("close")
    turn.require_phase(Phase.FOLLOW_UP)
    turn.change(followup_closed=True)
    for goal in turn.ws.goals.values():
        turn.cancel(timer_id(turn.ws.id, goal.id))
    turn.cancel(timer_id(turn.ws.id, DIGEST))
    turn.post(plenum_of(turn.ws), views.message(Text(turn.t("followup.closed"))))


# -- what owners and the facilitator see -------------------------------------------------------


def goal_card(turn: Turn, goal: SmartGoal, lead: str = "") -> Message:
    ws, t = turn.ws, turn.t
    measure = ws.measures.get(goal.measure_id)
    status = history.status_of(ws, goal.id)
    none = t("common.none")
    buttons = tuple(views.button(turn, t(f"goal_status.{s.value}"), "followup_status",
                                 "primary" if s == GoalStatus.DONE else "", goal=goal.id, status=s.value)
                    for s in GoalStatus)
    later = (views.button(turn, t("followup.update"), "followup_update", goal=goal.id),
             *(views.button(turn, t(f"followup.snooze_{key}"), "followup_snooze", goal=goal.id, **{"for": key})
               for key in SNOOZE_DAYS))
    return views.message(
        Text(lead) if lead else None,
        Heading(t("goal.heading", number=goal.number, name=measure.name if measure else goal.measure_id)),
        Text(goal.text),
        Fields(((t("goal.target"), goal.target or none),
                (t("goal.deadline"), t.date(goal.deadline) if goal.deadline else none),
                (t("owner.next_step"), goal.next_step or none),
                (t("followup.status"), t(f"goal_status.{status.value}")))),
        Buttons(buttons) if status != GoalStatus.DONE else None,
        Buttons(later) if status != GoalStatus.DONE else None,
        summary=goal.text,
    )


def stuck(ws: Workshop, now: datetime) -> list[SmartGoal]:
    """Goals not done that are past their deadline, or with no answer for two months."""
    today = now.astimezone(hours(ws).zone).date()
    quiet_since = now - timedelta(days=31 * QUIET_MONTHS)
    found = []
    for goal in ws.goals.values():
        if history.status_of(ws, goal.id) == GoalStatus.DONE:
            continue
        late = goal.deadline is not None and goal.deadline < today
        latest = history.latest(ws, goal.id)
        quiet = (latest.updated_at if latest and latest.updated_at else _began(ws)) <= quiet_since
        if late or quiet:
            found.append(goal)
    return sorted(found, key=lambda g: (g.measure_id, g.number))


def _began(ws: Workshop) -> datetime:
    ended = [run.started_at for run in ws.phase_log if run.phase == Phase.WRAP_UP]
    return ended[-1] if ended else ws.created_at


def send_digest(turn: Turn) -> None:
    goals = stuck(turn.ws, turn.now)
    if not goals:
        return
    lines = [turn.t("followup.digest_line", goal=g.text, owner=g.owner or turn.t("owner.missing"),
                    status=turn.t(f"goal_status.{history.status_of(turn.ws, g.id).value}"))
             for g in goals]
    message = views.message(Heading(turn.t("followup.digest_heading", count=len(goals))),
                            Text("\n".join(lines)))
    for facilitator in turn.ws.facilitators:
        turn.direct(plenum_of(turn.ws), facilitator, message)


def overview(turn: Turn) -> Message:
    """The facilitator's `status` after the workshop: each goal, its owner and where it stands."""
    rows = tuple((g.text, f"{g.owner or turn.t('owner.missing')} · "
                          f"{turn.t('goal_status.' + history.status_of(turn.ws, g.id).value)}")
                 for g in sorted(turn.ws.goals.values(), key=lambda g: (g.measure_id, g.number)))
    closed = Note(turn.t("followup.is_closed")) if turn.ws.followup_closed else None
    return views.message(Heading(turn.t("followup.overview", title=turn.ws.title)), Fields(rows), closed)

