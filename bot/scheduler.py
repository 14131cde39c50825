"""APScheduler 3 wiring: timer effects become jobs in the database's job store, and a job that
fires becomes a TimerFired event for the engine.

Every process can schedule (a web process runs the scheduler paused, only to write jobs);
exactly one runs it. Jobs carry ids only and call a module-level function, so they survive
restarts. The engine ignores a timer that is no longer current, so a job that fires twice or
late is harmless; `restore` re-creates what a crash took out of the store while it fired.
"""

from __future__ import annotations

import logging
import threading
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
from bot.events import Event, timer_fired
from bot.flow.followup import owed_timers
from bot.flow.phases import phase_timers
from bot.ports import UnitOfWork

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=30)  # fired this much after its time: the message says it is late
POLL_SECONDS = 1.0  # how soon the scheduler notices a job another process added
BATCH_SECONDS = 0.05  # jobs due within this of each other run in one pass


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


class _BatchedJobStore(SQLAlchemyJobStore):
    """APScheduler's SQL job store, except that the jobs one pass of the scheduler ran are
    deleted in one statement at the end of the pass, not in a transaction each: 10 000 overdue
    jobs after a restart take seconds instead of tens of seconds. A crash before the delete
    runs them again on the next start, which the engine's event ids make harmless."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine=engine, tablename="apscheduler_jobs")
        self._pass = threading.local()
        self._ran: list[str] = []

    def begin_pass(self) -> None:
        self._pass.on = True

    def end_pass(self) -> None:
        self._pass.on = False
        self._delete_ran()

    def remove_job(self, job_id: str) -> None:
        if getattr(self._pass, "on", False):
            self._ran.append(job_id)
        else:
            super().remove_job(job_id)

    def get_next_run_time(self) -> datetime | None:
        self._delete_ran()  # the pass ends with this question: the ones that ran are gone
        return super().get_next_run_time()

    def _delete_ran(self) -> None:
        ran, self._ran = self._ran, []
        if not ran:
            return
        with self.engine.begin() as connection:
            for start in range(0, len(ran), 500):
                connection.execute(self.jobs_t.delete().where(self.jobs_t.c.id.in_(ran[start:start + 500])))


class _Scheduler(BackgroundScheduler):
    """Looks at the job store at most every BATCH_SECONDS, so that jobs falling due close
    together run in one pass (one query for them all) instead of one pass each."""

    def __init__(self, store: _BatchedJobStore, **options: object) -> None:
        super().__init__(**options)
        self._store = store

    def _process_jobs(self) -> float | None:
        self._store.begin_pass()
        try:
            wait = super()._process_jobs()
        finally:
            self._store.end_pass()
        return None if wait is None else max(wait, BATCH_SECONDS)


def create_scheduler(engine: Engine) -> BackgroundScheduler:
    """The scheduler on the database's job store, started paused: it can add jobs at once, and
    runs them only after `resume()` (call that once the timer handler is installed)."""
    store = _BatchedJobStore(engine)
    scheduler = _Scheduler(
        store, jobstores={"default": store, "local": MemoryJobStore()},
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

    def has(self, timer: str) -> bool:
        return self.scheduler.get_job(timer) is not None

    def cancel(self, effect: Cancel) -> None:
        try:
            self.scheduler.remove_job(effect.timer)
        except JobLookupError:
            pass  # it fired already, or was never there


class TimerRunner:
    """What a fired job does in the scheduler process: hand the event to the service."""

    def __init__(self, handle: Callable[[Event], object], clock: RealTime,
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


def restore(units: Callable[[], UnitOfWork], timers: JobStoreTimers, now: datetime) -> int:
    """Re-create every timer a running phase is owed whose event was never handled, and every
    follow-up timer that is missing (a crash while a timer fired takes it out of the job
    store). Returns how many it scheduled."""
    with units() as uow:
        following = [effect for ws in uow.workshops.following_up() for effect in owed_timers(ws, now)]
        running = [Schedule(timer, at, args) for ws in uow.workshops.with_clock()
                   for timer, at, args in phase_timers(ws)]
        fired = uow.seen([timer_fired(effect.timer, effect.args).event_id for effect in running])
        owed = [effect for effect in running if timer_fired(effect.timer, effect.args).event_id not in fired]
    # The job store only after the transaction: it reads and writes on its own connection.
    owed += [effect for effect in following if not timers.has(effect.timer)]
    for effect in owed:
        timers.schedule(effect)
    return len(owed)


def stop(scheduler: BackgroundScheduler) -> None:
    """Shut the scheduler down. One that never ran lets go of the shared job store first:
    APScheduler 3 would otherwise run (and drop) the jobs that are due as it shuts down."""
    if scheduler.state == STATE_PAUSED:
        scheduler.remove_jobstore("default")
    scheduler.shutdown(wait=False)
