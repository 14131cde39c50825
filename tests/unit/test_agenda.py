"""The agenda from the guide: order, default lengths, the optional break."""

from __future__ import annotations

from bot.domain.agenda import DEFAULT_MINUTES, next_phase, number, schedule
from bot.domain.model import Phase
from tests.conftest import START


def test_the_guides_day_takes_about_three_hours() -> None:
    assert sum(DEFAULT_MINUTES.values()) == 185
    assert [number(p) for p, _ in schedule(DEFAULT_MINUTES, START)] == [1, 2, 3, None, 4, 5, 6]


def test_a_break_of_zero_minutes_is_skipped() -> None:
    no_break = {**DEFAULT_MINUTES, Phase.BREAK: 0}
    assert next_phase(Phase.AMBITIONS_PLENUM, DEFAULT_MINUTES) == Phase.BREAK
    assert next_phase(Phase.AMBITIONS_PLENUM, no_break) == Phase.SMART_GOALS
    assert next_phase(Phase.BREAK, no_break) == Phase.SMART_GOALS  # switched off while it ran
    assert next_phase(Phase.WRAP_UP, no_break) == Phase.FOLLOW_UP
