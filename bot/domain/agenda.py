"""The day's agenda from the facilitator guide: order, place and default length of each phase."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.domain.model import Phase

# The guide's timings ("ca. 30 min", "ca. 25 min", …, "Evt. 10 min pause").
DEFAULT_MINUTES: Mapping[str, int] = {
    Phase.INTRO: 30,
    Phase.AMBITIONS: 25,
    Phase.AMBITIONS_PLENUM: 30,
    Phase.BREAK: 10,
    Phase.SMART_GOALS: 45,
    Phase.GOALS_PLENUM: 30,
    Phase.WRAP_UP: 15,
}

TIMED = tuple(DEFAULT_MINUTES)  # the phases with a clock, in agenda order
GROUP_PHASES = frozenset({Phase.AMBITIONS, Phase.SMART_GOALS})
OPTIONAL = frozenset({Phase.BREAK})
MAX_MINUTES = 240

_NUMBERS = {
    Phase.INTRO: 1,
    Phase.AMBITIONS: 2,
    Phase.AMBITIONS_PLENUM: 3,
    Phase.SMART_GOALS: 4,
    Phase.GOALS_PLENUM: 5,
    Phase.WRAP_UP: 6,
    Phase.FOLLOW_UP: 7,
}


def number(phase: Phase) -> int | None:
    """The phase's number in the guide (1–7); the break has none."""
    return _NUMBERS.get(phase)


def in_groups(phase: Phase) -> bool:
    return phase in GROUP_PHASES


def planned(durations: Mapping[str, int]) -> tuple[Phase, ...]:
    """The timed phases that will run: an optional phase of 0 minutes is skipped."""
    return tuple(p for p in TIMED if durations.get(p, 0) > 0 or p not in OPTIONAL)


def next_phase(current: Phase, durations: Mapping[str, int]) -> Phase:
    order = (Phase.SETUP, *planned(durations), Phase.FOLLOW_UP)
    if current not in order:  # a break that was switched off while it ran
        order = (Phase.SETUP, *TIMED, Phase.FOLLOW_UP)
    return order[min(order.index(current) + 1, len(order) - 1)]


def schedule(durations: Mapping[str, int], start: datetime) -> tuple[tuple[Phase, datetime], ...]:
    """When each planned phase would start if the day began at `start`."""
    times, at = [], start
    for phase in planned(durations):
        times.append((phase, at))
        at += timedelta(minutes=durations[phase])
    return tuple(times)
