"""How the phase timers hold up: 10 000 reminders across 500 workshops on APScheduler's job store.

    python bench/timers.py [--database-url URL] [--spread 30]

Prints, for the database given (default: a SQLite file in a temporary folder):
- scheduling: how long one job store write takes (what a dispatcher waits for), and how much
  the server's event loop is held up while 10 000 are written from the dispatcher's thread;
- firing: how late each job runs after its time (p50, p99), while they fall due over `spread` s;
- restore: a scheduler killed with everything still pending starts again: how long until it is
  running, and until every job that fell due while it was down has fired once.
Only the timer path is measured here (job store, APScheduler, the job function); what a fired
timer then does in the engine is one event like any other.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.app import open_store  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.effects import Schedule  # noqa: E402
from bot.events import Event, TimerFired  # noqa: E402
from bot.scheduler import JobStoreTimers, TimerRunner, create_scheduler, stop  # noqa: E402

WORKSHOPS, PER_WORKSHOP = 500, 20


class Recorder:
    """Stands in for the service: notes when each timer fired, against when it was due."""

    def __init__(self, due: Mapping[str, datetime]) -> None:
        self.due = due
        self.late: dict[str, float] = {}
        self.done = threading.Event()

    def handle(self, event: Event) -> None:
        assert isinstance(event, TimerFired)
        self.late.setdefault(event.timer, (datetime.now(UTC) - self.due[event.timer]).total_seconds())
        if len(self.late) == len(self.due):
            self.done.set()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def plan(start: datetime, spread: float) -> dict[str, datetime]:
    count = WORKSHOPS * PER_WORKSHOP
    return {f"w{w:03}:phase:n{k:02}": start + timedelta(seconds=spread * (w * PER_WORKSHOP + k) / count)
            for w in range(WORKSHOPS) for k in range(PER_WORKSHOP)}


async def schedule_all(timers: JobStoreTimers, due: Mapping[str, datetime]) -> tuple[list[float], list[float]]:
    """Write every job from a worker thread while this loop measures how late its own wake-ups are."""
    writes: list[float] = []
    lag: list[float] = []

    def write() -> None:
        for timer, at in due.items():
            started = time.perf_counter()
            timers.schedule(Schedule(timer, at, {"workshop": timer[:4], "seq": "1", "gen": "1"}))
            writes.append(time.perf_counter() - started)

    worker = asyncio.get_running_loop().run_in_executor(None, write)
    while not worker.done():
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        lag.append(time.perf_counter() - before - 0.005)
    await worker
    return writes, lag


def run(url: str, spread: float) -> None:
    store = open_store(url)
    writer = create_scheduler(store.engine)  # paused, as in a web process
    timers = JobStoreTimers(writer, SystemClock())
    count = WORKSHOPS * PER_WORKSHOP
    print(f"database: {store.engine.url.render_as_string()} · {count} jobs, {WORKSHOPS} workshops")

    # 1. Scheduling, while they are all still in the future.
    due = plan(datetime.now(UTC) + timedelta(seconds=120), spread)
    writes, lag = asyncio.run(schedule_all(timers, due))
    print(f"scheduling: {len(writes) / sum(writes):.0f} jobs/s · one write p50 "
          f"{statistics.median(writes) * 1000:.1f} ms, p99 {percentile(writes, 0.99) * 1000:.1f} ms · "
          f"server loop held up p99 {percentile(lag, 0.99) * 1000:.1f} ms, max {max(lag) * 1000:.1f} ms")

    # 2. Firing on time: move every job to fall due over `spread` seconds, starting once
    # they are all written again (at the rate just measured, with room to spare).
    writer.remove_all_jobs(jobstore="default")  # new jobs, not replacements: an insert each
    due = plan(datetime.now(UTC) + timedelta(seconds=3 + 1.5 * sum(writes)), spread)
    for timer, at in due.items():
        timers.schedule(Schedule(timer, at, {"workshop": timer[:4], "seq": "1", "gen": "2"}))
    fired = Recorder(due)
    TimerRunner(fired.handle, SystemClock()).install()
    runner = create_scheduler(store.engine)
    runner.resume()
    fired.done.wait(spread + 120)
    late = list(fired.late.values())
    print(f"firing: {len(late)}/{count} fired · late p50 {statistics.median(late) * 1000:.0f} ms, "
          f"p99 {percentile(late, 0.99) * 1000:.0f} ms, max {max(late) * 1000:.0f} ms")

    # 2b. Pick-up: another process (here: another scheduler, paused, on the same store) adds a
    # job that is due at once; the running scheduler hears nothing of it and must find it.
    now_due = {f"pickup:{n}": datetime.now(UTC) for n in range(20)}
    picked = Recorder(now_due)
    TimerRunner(picked.handle, SystemClock()).install()
    for timer in now_due:
        now_due[timer] = datetime.now(UTC)
        timers.schedule(Schedule(timer, now_due[timer], {"workshop": "pickup"}))
        time.sleep(0.37)
    picked.done.wait(10)
    stop(runner)
    waits = list(picked.late.values())
    print(f"pick-up of a job another process added: {len(waits)}/20 · p50 "
          f"{statistics.median(waits) * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms")

    # 3. Restore: everything fell due while no scheduler ran; one starts again.
    writer.remove_all_jobs(jobstore="default")
    due = plan(datetime.now(UTC) - timedelta(seconds=60), 30)
    for timer, at in due.items():
        timers.schedule(Schedule(timer, at, {"workshop": timer[:4], "seq": "1", "gen": "3"}))
    stop(writer)
    caught_up = Recorder(due)
    started = time.perf_counter()
    TimerRunner(caught_up.handle, SystemClock()).install()
    restarted = create_scheduler(store.engine)
    restarted.resume()
    running = time.perf_counter() - started
    caught_up.done.wait(300)
    all_fired = time.perf_counter() - started
    stop(restarted)
    print(f"restore: running after {running:.2f} s · all {len(caught_up.late)}/{count} overdue jobs "
          f"fired once after {all_fired:.2f} s")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--spread", type=float, default=30.0, help="seconds over which jobs fall due")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run(options.database_url or f"sqlite:///{folder}/bench.sqlite3", options.spread)


if __name__ == "__main__":
    main()
