"""The clock of the day: starting, advancing, extending and pausing phases."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.domain import agenda
from bot.domain.groups import conversation_of, members_of, plenum_of, working_groups
from bot.domain.model import Phase, PhaseRun, Workshop
from bot.effects import PostPrivate
from bot.flow import ambitions, goals, intro, nudges, plenum, views, wrapup
from bot.flow.setup import refresh_setup
from bot.flow.turn import Refusal, Turn
from bot.ui import Buttons, Heading, Note, Text

MAX_EXTEND = 60
# The phase's timers: reminders this many minutes before the end, and the end itself.
MARKS = (("10", 10), ("5", 5), ("end", 0))
TEN_MINUTE_REMINDER_FROM = 20  # a phase shorter than this gets no 10-minute reminder


def timer_id(workshop_id: str, mark: str = "end") -> str:
    return f"{workshop_id}:phase:{mark}"


def is_phase_timer(workshop_id: str, timer: str) -> bool:
    return timer.startswith(f"{workshop_id}:phase")


def group_conversations(turn: Turn) -> list[str]:
    found = (conversation_of(turn.ws, g.code) for g in working_groups(turn.ws))
    return list(dict.fromkeys(c for c in found if c))


def conversations_now(turn: Turn) -> list[str]:
    """Where people are working in the current phase (the plenum always hears the clock)."""
    groups = group_conversations(turn) if agenda.in_groups(turn.ws.phase) else []
    return [plenum_of(turn.ws), *groups]


def start(turn: Turn, args: Mapping[str, str] | Sequence[str] = ()) -> None:
    turn.require_facilitator("start")
    if turn.ws.phase != Phase.SETUP:
        raise Refusal("refuse.already_started")
    if not turn.ws.measures:
        raise Refusal("refuse.no_measures")
    enter(turn, Phase.INTRO)
    refresh_setup(turn)


def advance(turn: Turn, args: Mapping[str, str] | Sequence[str] = ()) -> None:
    turn.require_facilitator("next")
    if isinstance(args, Mapping):
        turn.require_fresh(args)
    phase = turn.ws.phase
    if phase == Phase.SETUP:
        raise Refusal("refuse.not_started")
    if phase == Phase.FOLLOW_UP:
        raise Refusal("refuse.workshop_over")
    problems = READINESS.get(phase, _nothing)(turn)
    if problems:
        raise Refusal("refuse.not_ready", problems=_listed(problems))
    _go_on(turn)


def _listed(problems: list[str]) -> str:
    return "\n".join(f"• {p}" for p in problems)


def _go_on(turn: Turn) -> None:
    phase = turn.ws.phase
    if agenda.in_groups(phase):
        for conversation in group_conversations(turn):
            turn.post(conversation, views.message(Text(turn.t("phase.back_to_plenum"))))
    enter(turn, agenda.next_phase(phase, turn.ws.durations))


def enter(turn: Turn, phase: Phase) -> None:
    ws, now = turn.ws, turn.now
    log = tuple(r if r.ended_at else PhaseRun(r.phase, r.started_at, now) for r in ws.phase_log)
    minutes = ws.durations.get(phase, 0) if phase in agenda.TIMED else 0
    ends = now + timedelta(minutes=minutes) if minutes else None
    turn.change(phase=phase, phase_seq=ws.phase_seq + 1, phase_started_at=now, phase_ends_at=ends,
                paused_at=None, timer_gen=ws.timer_gen + 1, armed_at=now,
                phase_log=log + ((PhaseRun(phase, now),) if phase != Phase.FOLLOW_UP else ()))
    _arm(turn)
    plenum = plenum_of(turn.ws)
    turn.post(plenum, views.announcement(turn, "plenum"))
    if agenda.in_groups(phase):
        for conversation in group_conversations(turn):
            turn.post(conversation, views.announcement(turn, "group"))
    OPENERS[phase](turn)


def _arm(turn: Turn) -> None:
    """(Re)schedule the phase's reminders and end. Each arming is a new generation, so a
    timer of an earlier phase, extension or pause finds itself stale when it fires."""
    ws = turn.ws
    pending = {timer: (at, args) for timer, at, args in phase_timers(ws)}
    for mark, _ in MARKS:
        timer = timer_id(ws.id, mark)
        if timer in pending:
            turn.schedule(timer, *pending[timer])
        else:
            turn.cancel(timer)


def phase_timers(ws: Workshop) -> list[tuple[str, datetime, dict[str, str]]]:
    """The timers the phase's clock was armed with: (timer id, when, args). A reminder whose
    moment had passed when the clock was set (an extension in the last minutes) has none.
    It depends on the workshop row alone, so a restarted scheduler can tell what is owed."""
    if not ws.phase_ends_at or ws.paused_at or ws.armed_at is None:
        return []
    found = []
    for mark, before in MARKS:
        at = ws.phase_ends_at - timedelta(minutes=before)
        if _wanted(ws, mark) and (at > ws.armed_at or not before):
            found.append((timer_id(ws.id, mark), at, {"workshop": ws.id, "seq": str(ws.phase_seq),
                                                      "gen": str(ws.timer_gen), "mark": mark}))
    return found


def _wanted(ws: Workshop, mark: str) -> bool:
    if mark == "end":
        return True
    if ws.phase == Phase.BREAK:  # the break only ends
        return False
    return mark != "10" or ws.durations.get(ws.phase, 0) >= TEN_MINUTE_REMINDER_FROM


def _require_clock(turn: Turn) -> datetime:
    """The current phase's end; a phase without a clock cannot be extended or paused."""
    if turn.ws.phase_ends_at is None:
        raise Refusal("refuse.no_clock", phase=turn.t(f"phase.{turn.ws.phase}.name"))
    return turn.ws.phase_ends_at


def extend(turn: Turn, args: Mapping[str, str] | Sequence[str]) -> None:
    turn.require_facilitator("extend")
    if isinstance(args, Mapping):
        turn.require_fresh(args)
        raw = args.get("minutes", "")
    else:
        raw = args[0] if args else ""
    ends = _require_clock(turn)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_EXTEND:
        raise Refusal("refuse.extend_usage", max=MAX_EXTEND)
    # More time after time is up is more time from now, not from the end that has passed.
    ends = max(ends, turn.ws.paused_at or turn.now) + timedelta(minutes=int(raw))
    turn.change(phase_ends_at=ends, timer_gen=turn.ws.timer_gen + 1, armed_at=turn.now)
    _arm(turn)
    _tell_everyone(turn, turn.t("clock.extended", minutes=raw, time=turn.clock(ends)), ends)


def pause(turn: Turn, args: Sequence[str] = ()) -> None:
    turn.require_facilitator("pause")
    _require_clock(turn)
    if turn.ws.paused_at:
        raise Refusal("refuse.already_paused")
    turn.change(paused_at=turn.now, timer_gen=turn.ws.timer_gen + 1, armed_at=turn.now)
    _arm(turn)
    _tell_everyone(turn, turn.t("clock.paused"))


def resume(turn: Turn, args: Sequence[str] = ()) -> None:
    turn.require_facilitator("resume")
    paused_at = turn.ws.paused_at
    if not paused_at:
        raise Refusal("refuse.not_paused")
    left = max(_require_clock(turn) - paused_at, timedelta(0))  # what was left when paused
    ends = turn.now + left
    turn.change(phase_ends_at=ends, paused_at=None, timer_gen=turn.ws.timer_gen + 1,
                armed_at=turn.now)
    _arm(turn)
    _tell_everyone(turn, turn.t("clock.resumed", time=turn.clock(ends)), ends)


def _tell_everyone(turn: Turn, text: str, ends: datetime | None = None) -> None:
    said = Text(text, (turn.moment(ends),) if ends else ())
    for conversation in conversations_now(turn):
        turn.post(conversation, views.message(said))


def timer_fired(turn: Turn, args: Mapping[str, str], late: bool = False) -> None:
    """A phase timer fired. One from an older phase, extension or pause does nothing, so a
    timer that fires twice, or late after a restart, is harmless."""
    ws = turn.ws
    if (args.get("seq"), args.get("gen")) != (str(ws.phase_seq), str(ws.timer_gen)) or ws.paused_at:
        return
    mark = args.get("mark", "end")
    if mark == "end":
        time_up(turn, late)
    else:
        nudges.remind(turn, mark, late)


def time_up(turn: Turn, late: bool) -> None:
    ws = turn.ws
    if ws.phase == Phase.BREAK:
        turn.post(plenum_of(ws), views.message(Text(turn.t("clock.break_over"))))
    elif agenda.in_groups(ws.phase):
        for conversation in group_conversations(turn):
            turn.post(conversation, views.message(Text(turn.t("clock.time_up_group"))))
    problems = READINESS.get(ws.phase, _nothing)(turn)
    if ws.auto_advance and not problems:
        turn.post(plenum_of(ws), views.message(Text(turn.t("clock.auto_next"))))
        _go_on(turn)
        return
    name = turn.t(f"phase.{ws.phase}.name")
    choice = views.message(
        Heading(turn.t("clock.time_up", phase=name)),
        Text(turn.t("clock.not_ready", problems=_listed(problems))) if problems else None,
        Text(turn.t("clock.time_up_choice")),
        Buttons((views.button(turn, turn.t("clock.next"), "next", "primary"),
                 views.button(turn, turn.t("clock.extend", minutes=5), "extend", minutes="5"),
                 views.button(turn, turn.t("clock.extend", minutes=10), "extend", minutes="10"))),
        Note(turn.t("nudge.late")) if late else None,
        summary=turn.t("clock.time_up", phase=name))
    for facilitator in ws.facilitators:
        turn.effects.append(PostPrivate(plenum_of(ws), facilitator, choice))


def _nothing(turn: Turn) -> list[str]:
    return []


def _ready_for_groups(turn: Turn) -> list[str]:
    ws, t = turn.ws, turn.t
    if not ws.split_approved:
        return [t("ready.split_not_approved")]
    problems = []
    for group in working_groups(ws):
        if not [m for m in ws.measures.values() if m.group == group.code]:
            continue
        if not conversation_of(ws, group.code):
            problems.append(t("ready.no_channel", code=group.code))
        if not members_of(ws, group.code):
            problems.append(t("ready.no_members", code=group.code))
    return problems


def _ready_to_finish(turn: Turn) -> list[str]:
    missing = [g for g in turn.ws.goals.values() if not g.owner]
    return [turn.t("ready.no_owner", name=turn.ws.measures[g.measure_id].name, number=g.number)
            for g in sorted(missing, key=lambda g: (turn.ws.measures[g.measure_id].position, g.number))]


READINESS: Mapping[Phase, Callable[[Turn], list[str]]] = {
    Phase.INTRO: _ready_for_groups,
    Phase.WRAP_UP: _ready_to_finish,
}

# What each phase puts in front of people when it starts.
OPENERS: Mapping[Phase, Callable[[Turn], None]] = {
    Phase.INTRO: intro.open_intro,
    Phase.AMBITIONS: ambitions.open_ambitions,
    Phase.AMBITIONS_PLENUM: plenum.open_ambitions_plenum,
    Phase.BREAK: lambda turn: None,
    Phase.SMART_GOALS: goals.open_smart_goals,
    Phase.GOALS_PLENUM: plenum.open_goals_plenum,
    Phase.WRAP_UP: wrapup.open_wrap_up,
    Phase.FOLLOW_UP: wrapup.finish,
}
