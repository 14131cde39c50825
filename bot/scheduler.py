"""APScheduler 3 wiring: timer effects become jobs in the database's job store, and a job that
fires becomes a TimerFired event for the engine.

Every process can schedule (a web process runs the scheduler paused, only to write jobs);
exactly one runs it. Jobs carry ids only and call a module-level function, so they survive
restarts. The engine ignores a timer that is no longer current, so a job that fires twice or
late is harmless; `restore` re-creates what a crash took out of the store while it fired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from sqlalchemy.engine import Engine

from bot.effects import Cancel, Schedule
from bot.events import timer_fired
from bot.flow.phases import phase_timers
from bot.ports import UnitOfWork

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=30)  # fired this much after its time: the message says it is late
POLL_SECONDS = 1.0  # how soon the scheduler notices a job another process added


class RealTime(Protocol):
    def to_real(self, moment: datetime) -> datetime: ...


Handler = Callable[[str, Mapping[str, str], datetime], None]
_handler: Handler | None = None


def fire(timer: str, args: dict[str, str], at: str) -> None:
    """The job function: module level, and given ids only, so a stored job outlives the process."""
    if _handler is None:
        raise RuntimeError("this process runs the scheduler without a timer handler")
    _handler(timer, args, datetime.fromisoformat(at))


def _poll() -> None:
    """Runs every second so the scheduler looks at the shared job store again (APScheduler 3
    only wakes for jobs it added itself)."""


def create_scheduler(engine: Engine) -> BackgroundScheduler:
    """The scheduler on the database's job store, started paused: it can add jobs at once, and
    runs them only after `resume()` (call that once the timer handler is installed)."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs"),
                   "local": MemoryJobStore()},
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        timezone=UTC)
    scheduler.start(paused=True)
    scheduler.add_job(_poll, "interval", seconds=POLL_SECONDS, id="poll", jobstore="local")
    return scheduler


class JobStoreTimers:
    """The dispatcher's Timers port on APScheduler: one job per timer id, replaced when moved."""

    def __init__(self, scheduler: BackgroundScheduler, clock: RealTime) -> None:
        self.scheduler = scheduler
        self.clock = clock

    def schedule(self, effect: Schedule) -> None:
        self.scheduler.add_job(
            fire, "date", run_date=self.clock.to_real(effect.at), id=effect.timer,
            replace_existing=True,
            kwargs={"timer": effect.timer, "args": dict(effect.args), "at": effect.at.isoformat()})

    def cancel(self, effect: Cancel) -> None:
        try:
            self.scheduler.remove_job(effect.timer)
        except JobLookupError:
            pass  # it fired already, or was never there


class TimerRunner:
    """What a fired job does in the scheduler process: hand the event to the service."""

    def __init__(self, handle: Callable[[object], object], clock: RealTime,
                 wake: Callable[[], None] = lambda: None, now: Callable[[], datetime] | None = None) -> None:
        self._handle = handle
        self._clock = clock
        self._wake = wake
        self._now = now or (lambda: datetime.now(UTC))

    def install(self) -> None:
        global _handler
        _handler = self.run

    def run(self, timer: str, args: Mapping[str, str], at: datetime) -> None:
        late = self._now() - self._clock.to_real(at) > LATE_AFTER
        try:
            self._handle(timer_fired(timer, args, late))
        except Exception:
            # The job is gone from the store now; `restore` brings it back on the next start.
            log.exception("timer %s failed", timer)
            raise
        self._wake()


def restore(units: Callable[[], UnitOfWork], timers: JobStoreTimers) -> int:
    """Re-create every timer a running phase is owed whose event was never handled (a crash
    while it fired takes it out of the job store). Returns how many it scheduled."""
    with units() as uow:
        owed = [Schedule(timer, at, args) for ws in uow.workshops.with_clock()
                for timer, at, args in phase_timers(ws)
                if not uow.seen(timer_fired(timer, args).event_id)]
    for effect in owed:  # after the transaction: the job store writes on its own connection
        timers.schedule(effect)
    return len(owed)


def stop(scheduler: BackgroundScheduler) -> None:
    """Shut the scheduler down. One that never ran lets go of the shared job store first:
    APScheduler 3 would otherwise run (and drop) the jobs that are due as it shuts down."""
    if scheduler.state == STATE_PAUSED:
        scheduler.remove_jobstore("default")
    scheduler.shutdown(wait=False)
