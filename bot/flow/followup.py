"""After the workshop: the owners keep their goals alive (the guide's "løbende opfølgning").

When phase 6 ends, each owner gets their goals in their own chat with the bot, with a button
per status. Each goal has one reminder timer: the monthly check-in (first working day, 09:00)
or a deadline reminder (14 and 3 days before, and on the day), whichever comes first, moved
into working hours and off Danish holidays. An answer or a snooze sets the next one; a goal
that is done, or a workshop closed for follow-up, gets no more. Once a month the plenum sees
how each ESG area's goals stand, and the facilitator gets one digest of the goals that are
stuck: past their deadline, or with two reminders left unanswered.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from bot.domain import followup as history
from bot.domain.groups import plenum_of
from bot.domain.model import FollowUp, GoalStatus, Phase, SmartGoal, Workshop
from bot.domain.workdays import WorkingHours
from bot.effects import Schedule
from bot.flow import views
from bot.flow.turn import Refusal, Turn
from bot.domain.numbers import parse_number, show_number
from bot.flow.inputs import FormReader
from bot.ui import Buttons, FieldKind, Fields, Form, FormField, Heading, Message, Note, Text

CHECK_IN = time(9)
DEADLINE_DAYS = (14, 3, 0)
SNOOZE_DAYS = {"day": 1, "week": 7}
UNANSWERED = 2  # reminders left unanswered before the facilitator hears of the goal
DIGEST = "digest"
MAX_COMMENT = 1000


def timer_id(workshop_id: str, goal_id: str) -> str:
    return f"{workshop_id}:followup:{goal_id}"


def is_followup_timer(workshop_id: str, timer: str) -> bool:
    return timer.startswith(f"{workshop_id}:followup:")


def hours(ws: Workshop) -> WorkingHours:
    return WorkingHours(timezone=ws.timezone, start=time(ws.work_start), end=time(ws.work_end))


def check_in_time(ws: Workshop) -> time:
    """Nine in the morning, or the first hour reminders are allowed when nine is not."""
    return CHECK_IN if ws.work_start <= CHECK_IN.hour < ws.work_end else time(ws.work_start)


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
            Text(turn.t("followup.welcome", count=len(goals), when=turn.t(f"followup.when_{ws.reminder_cadence}"),
                        start=ws.work_start, end=ws.work_end))))
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
    """The goal's next reminder after `after`: the check-in or a deadline reminder."""
    work, clock = hours(ws), check_in_time(ws)
    candidates = [(next_check_in(ws, after), "check_in")]
    if goal.deadline:
        for days in DEADLINE_DAYS:
            at = work.at(goal.deadline - timedelta(days=days), clock)
            if at > after:
                candidates.append((at, f"deadline_{days}"))
    return min(candidates)


def next_check_in(ws: Workshop, after: datetime) -> datetime:
    """The first working day of the next month (or quarter), or two weeks on, as set."""
    work, clock = hours(ws), check_in_time(ws)
    local = after.astimezone(work.zone).date()
    if ws.reminder_cadence == "fortnightly":
        return work.at(local + timedelta(days=14), clock)
    months = 3 if ws.reminder_cadence == "quarterly" else 1
    year, month = local.year, local.month
    while True:
        if (month - 1) % months == 0:
            at = work.at(work.first_working_day(year, month), clock)
            if at > after:
                return at
        year, month = _next_month(date(year, month, 1))


def _next_month(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def schedule_next(turn: Turn, goal: SmartGoal, at: datetime | None = None, kind: str = "") -> None:
    if turn.ws.followup_closed or history.status_of(turn.ws, goal.id) == GoalStatus.DONE:
        turn.cancel(timer_id(turn.ws.id, goal.id))
        return
    if at is None:
        at, kind = next_reminder(turn.ws, goal, turn.now)
    turn.effects.append(_reminder_timer(turn.ws, goal, at, kind))


def _reminder_timer(ws: Workshop, goal: SmartGoal, at: datetime, kind: str) -> Schedule:
    # `due` makes each firing an event of its own: the same kind of reminder comes back month
    # after month, and a firing is handled once by its arguments.
    return Schedule(timer_id(ws.id, goal.id), at, {"workshop": ws.id, "goal": goal.id, "kind": kind,
                                                   "due": at.isoformat()})


def schedule_digest(turn: Turn) -> None:
    turn.effects.append(_digest_timer(turn.ws, turn.now))


def _digest_timer(ws: Workshop, now: datetime) -> Schedule:
    work = hours(ws)
    year, month = _next_month(now.astimezone(work.zone).date())
    at = work.at(work.first_working_day(year, month), check_in_time(ws))
    return Schedule(timer_id(ws.id, DIGEST), at, {"workshop": ws.id, "goal": DIGEST, "due": at.isoformat()})


def owed_timers(ws: Workshop, now: datetime) -> list[Schedule]:
    """Every follow-up timer the workshop should have from `now`: the next reminder of each
    owned goal not done, and the digest. A restarted scheduler re-creates those it lacks (a
    one-off job leaves the store as it fires: a crash while it ran would end that goal's
    reminders for good)."""
    if ws.phase != Phase.FOLLOW_UP or ws.followup_closed:
        return []
    goals = [g for g in owned(ws) if history.status_of(ws, g.id) != GoalStatus.DONE]
    return [*(_reminder_timer(ws, g, *next_reminder(ws, g, now)) for g in goals), _digest_timer(ws, now)]


# -- timers --------------------------------------------------------------------------------


def timer_fired(turn: Turn, args: Mapping[str, str]) -> None:
    ws = turn.ws
    if ws.followup_closed:
        return
    if args.get("goal") == DIGEST:
        post_progress(turn)
        send_digest(turn)
        schedule_digest(turn)
        return
    goal = ws.goals.get(args.get("goal", ""))
    if goal is None or not goal.owner_id or history.status_of(ws, goal.id) == GoalStatus.DONE:
        return
    # The reminder becomes the goal's card: an answer given on it shows on it.
    turn.direct(plenum_of(ws), goal.owner_id, reminder(turn, goal, args.get("kind", "check_in")),
                key=card_key(goal))
    # Counted without stamping the goal: a reminder is not a change anyone made to it.
    turn.change(goals={**ws.goals, goal.id: replace(goal, unanswered=goal.unanswered + 1, updated_by=turn.actor)})
    schedule_next(turn, goal)


def reminder(turn: Turn, goal: SmartGoal, kind: str) -> Message:
    deadline = turn.t.date(goal.deadline) if goal.deadline else ""
    days = kind.removeprefix("deadline_")
    text = (turn.t("followup.deadline_today", deadline=deadline) if kind == "deadline_0"
            else turn.t("followup.deadline_soon", days=days, deadline=deadline) if kind.startswith("deadline_")
            else turn.t(f"followup.check_in_{turn.ws.reminder_cadence}"))
    return goal_card(turn, goal, text)


# -- the owner's answers ---------------------------------------------------------------------


def report(turn: Turn, args: Mapping[str, str]) -> None:
    goal = answerable(turn, args)
    try:
        status = GoalStatus(args.get("status", ""))
    except ValueError:
        raise Refusal("refuse.unknown_item") from None
    _record(turn, goal, status)


def _record(turn: Turn, goal: SmartGoal, status: GoalStatus, progress: float | None = None,
            comment: str = "") -> None:
    turn.save(FollowUp(id=uuid.uuid4().hex[:12], goal_id=goal.id, status=status, progress=progress,
                       comment=comment))
    answered(turn, goal)
    turn.update(plenum_of(turn.ws), card_key(goal), goal_card(turn, goal))
    turn.reply(turn.t("followup.thanks", status=turn.t(f"goal_status.{status.value}")))
    schedule_next(turn, goal)


def open_update(turn: Turn, args: Mapping[str, str]) -> None:
    """The longer answer: status, how far towards the target, and a comment."""
    goal = answerable(turn, args)
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
    goal = answerable(turn, args)
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
    if not turn.has_workshop:
        raise Refusal("refuse.no_goals_of_yours")
    turn.require_phase(Phase.FOLLOW_UP)
    goals = [g for g in owned(turn.ws) if g.owner_id == turn.actor]
    if not goals:
        raise Refusal("refuse.no_goals_of_yours")
    for goal in goals:
        turn.direct(plenum_of(turn.ws), turn.actor, goal_card(turn, goal), key=card_key(goal))


def snooze(turn: Turn, args: Mapping[str, str]) -> None:
    goal = answerable(turn, args)
    days = SNOOZE_DAYS.get(args.get("for", ""))
    if days is None:
        raise Refusal("refuse.unknown_item")
    at = hours(turn.ws).next_allowed(turn.now + timedelta(days=days))
    answered(turn, goal)
    schedule_next(turn, goal, at, "check_in")
    turn.reply(turn.t("followup.snoozed", when=turn.t.date(turn.local(at).date())))


def answered(turn: Turn, goal: SmartGoal) -> None:
    """The owner (or someone for them) has answered: the count of unanswered reminders starts over."""
    if goal.unanswered:
        turn.save(replace(turn.ws.goals[goal.id], unanswered=0))


def answerable(turn: Turn, args: Mapping[str, str], anyone: bool = False) -> SmartGoal:
    """The goal a follow-up button or form names, if its owner or a facilitator may act on
    it now (`anyone`: whoever acts, e.g. the person asked to take the goal over)."""
    turn.require_phase(Phase.FOLLOW_UP)
    if turn.ws.followup_closed:
        raise Refusal("refuse.followup_closed")
    goal = turn.ws.goals.get(args.get("goal", ""))
    if goal is None:
        raise Refusal("refuse.unknown_item")
    if not anyone and turn.actor != goal.owner_id and not turn.is_facilitator:
        raise Refusal("refuse.not_owner", owner=goal.owner or "?")
    return goal


CADENCES = ("monthly", "fortnightly", "quarterly")


def open_settings(turn: Turn, args: Sequence[str] = ()) -> None:
    """`påmindelser`: the facilitator sets how often owners are asked, and between which hours."""
    turn.require_facilitator("reminders")
    ws, t = turn.ws, turn.t
    turn.open_form(Form(
        form="reminders", title=t("followup.settings_title"), submit=t("form.save"),
        intro=t("followup.settings_intro"), args={"workshop": ws.id},
        fields=(FormField("cadence", t("followup.cadence"), FieldKind.CHOICE, required=True,
                          value=ws.reminder_cadence,
                          options=tuple((c, t(f"followup.cadence_{c}")) for c in CADENCES)),
                FormField("start", t("followup.work_start"), FieldKind.NUMBER, required=True,
                          value=str(ws.work_start), max_length=2),
                FormField("end", t("followup.work_end"), FieldKind.NUMBER, required=True,
                          value=str(ws.work_end), max_length=2))))


def save_settings(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    turn.require_facilitator("reminders")
    form = FormReader(turn.t, values)
    cadence = form.choice("cadence", CADENCES)
    start, end = form.integer("start", 0, 22), form.integer("end", 1, 23)
    if "start" not in form.errors and "end" not in form.errors and end <= start:
        form.errors["end"] = turn.t("followup.bad_hours", start=start)
    form.done()
    turn.change(reminder_cadence=cadence, work_start=start, work_end=end)
    if turn.ws.phase == Phase.FOLLOW_UP and not turn.ws.followup_closed:
        for goal in owned(turn.ws):  # the reminders already set move to the new rhythm
            schedule_next(turn, goal)
        schedule_digest(turn)
    turn.reply(turn.t("followup.settings_saved", when=turn.t(f"followup.when_{cadence}"), start=start, end=end))


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
               for key in SNOOZE_DAYS),
             views.button(turn, t("followup.handover"), "followup_handover", goal=goal.id))
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


def stuck(ws: Workshop, now: datetime) -> list[tuple[SmartGoal, str]]:
    """Goals not done that are past their deadline, or whose owner has left two reminders
    unanswered; each with why ("late" or "quiet")."""
    today = now.astimezone(hours(ws).zone).date()
    found = []
    for goal in ws.goals.values():
        if history.status_of(ws, goal.id) == GoalStatus.DONE:
            continue
        if goal.deadline is not None and goal.deadline < today:
            found.append((goal, "late"))
        elif goal.unanswered >= UNANSWERED:
            found.append((goal, "quiet"))
    return sorted(found, key=lambda item: (item[0].measure_id, item[0].number))


def send_digest(turn: Turn) -> None:
    goals = stuck(turn.ws, turn.now)
    if not goals:
        return
    lines = [turn.t("followup.digest_line", goal=g.text, owner=g.owner or turn.t("owner.missing"),
                    status=turn.t(f"goal_status.{history.status_of(turn.ws, g.id).value}"),
                    why=turn.t(f"followup.digest_{why}", count=g.unanswered,
                               deadline=turn.t.date(g.deadline) if g.deadline else ""))
             for g, why in goals]
    message = views.message(Heading(turn.t("followup.digest_heading", count=len(goals))),
                            Text("\n".join(lines)))
    for facilitator in turn.ws.facilitators:
        turn.direct(plenum_of(turn.ws), facilitator, message)


BAR = {"done": "🟩", "on_track": "🟨", "late": "🟥"}
BAR_WIDTH = 12  # squares at most: an area with more goals is drawn to scale


def post_progress(turn: Turn) -> None:
    """The monthly word to the plenum: per ESG area, goals done, on track and late."""
    today = turn.local(turn.now).date()
    areas = history.standing_by_area(turn.ws, today)
    if not areas:
        return
    lines = [turn.t("followup.progress_line", area=turn.t(f"area.{area.value}"), bar=_bar(standing),
                    done=standing.done, on_track=standing.on_track, late=standing.late)
             for area, standing in areas.items()]
    turn.post(plenum_of(turn.ws), views.message(
        Heading(turn.t("followup.progress_heading", title=turn.ws.title, date=turn.t.date(today))),
        Text("\n".join(lines)), Note(turn.t("followup.progress_plan"))))


def _bar(standing: history.Standing) -> str:
    counts = {"done": standing.done, "on_track": standing.on_track, "late": standing.late}
    total = sum(counts.values())
    scale = min(1.0, BAR_WIDTH / total) if total else 1.0
    # Each kind keeps at least one square when it has any goal: a late goal is never rounded away.
    return "".join(BAR[kind] * (max(1, round(n * scale)) if n else 0) for kind, n in counts.items())


def overview(turn: Turn) -> Message:
    """The facilitator's `status` after the workshop: each goal, its owner and where it stands."""
    rows = tuple((g.text, f"{g.owner or turn.t('owner.missing')} · "
                          f"{turn.t('goal_status.' + history.status_of(turn.ws, g.id).value)}")
                 for g in sorted(turn.ws.goals.values(), key=lambda g: (g.measure_id, g.number)))
    closed = Note(turn.t("followup.is_closed")) if turn.ws.followup_closed else None
    return views.message(Heading(turn.t("followup.overview", title=turn.ws.title)), Fields(rows), closed)

