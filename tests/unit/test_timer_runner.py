"""What a fired job turns into: the TimerFired event, marked late when the scheduler was away."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import ManualClock
from bot.events import Event, TimerFired, timer_fired
from bot.scheduler import TimerRunner, fire
from tests.conftest import START

ARGS = {"workshop": "w1", "seq": "3", "gen": "5", "mark": "5"}


def run_at(delay: timedelta) -> TimerFired:
    handled: list[Event] = []
    woken: list[bool] = []
    runner = TimerRunner(handled.append, ManualClock(START), lambda: woken.append(True),
                         now=lambda: START + delay)
    runner.install()
    fire("w1:phase:5", dict(ARGS), START.isoformat())  # as APScheduler calls the stored job
    [event] = handled
    assert isinstance(event, TimerFired) and woken == [True]  # and the dispatcher is told
    return event


def test_a_timer_on_time_is_not_late() -> None:
    event = run_at(timedelta(seconds=2))
    assert (event.timer, dict(event.args), event.late) == ("w1:phase:5", ARGS, False)


def test_a_timer_fired_after_a_restart_is_marked_late_but_is_still_the_same_event() -> None:
    event = run_at(timedelta(minutes=3))
    assert event.late
    assert event.event_id == timer_fired("w1:phase:5", ARGS).event_id  # handled once, late or not
