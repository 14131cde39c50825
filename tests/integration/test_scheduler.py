"""Real APScheduler on the real job store: timers scheduled by one process fire in another,
and a scheduler killed with SIGKILL and started again owes nobody a reminder or sends one twice.

The "web process" is this test: it runs a workshop through the service and schedules its
timers with the scheduler paused, as `serve --no-scheduler` does. The scheduler process is
`ambition-bot serve --scheduler`, started and killed as a subprocess.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import delete, func, select

from adapters.app import Store, build_service, open_store, plan_files
from adapters.config import Settings
from adapters.console.chat import ConsoleChat
from adapters.console.files import PlanSaver
from bot.clock import ManualClock
from bot.events import timer_fired
from bot.flow.phases import phase_timers, timer_id
from bot.scheduler import JobStoreTimers, create_scheduler, stop
from bot.store.tables import OutboxRow, ProcessedEventRow, SchedulerJobRow
from bot.store.uow import SqlUnitOfWork

BOT = str(Path(sys.executable).with_name("ambition-bot"))
TIME_UP = "Tiden er gået: Gruppearbejde"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SchedulerProcess:
    """`ambition-bot serve --scheduler` on the same database, started and killed at will."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder = url, folder
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        port = free_port()
        self.starts += 1
        log = open(self.folder / f"serve-{self.starts}.log", "wb")  # noqa: SIM115 - the child writes it
        env = {**os.environ, "DATABASE_URL": self.url}
        self.process = subprocess.Popen([BOT, "serve", "--scheduler", "--port", str(port)],
                                        cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: _answers(port), f"serve to answer on port {port}", self.log)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def last_log(self) -> str:
        return (self.folder / f"serve-{self.starts}.log").read_text("utf-8", "replace")

    def log(self) -> str:
        return "\n".join(p.read_text("utf-8", "replace") for p in sorted(self.folder.glob("serve-*.log")))


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], what: str, log: Callable[[], str] = str,
             timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}\n{log()}")


class WebProcess:
    """A workshop driven through the service, its timers scheduled into the shared job store."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.scheduler = create_scheduler(store.engine)  # paused: it only writes jobs
        self.folder = folder

    def workshop(self, ends_in: float, org: str) -> str:
        """A workshop in phase 2 (one minute long) whose end is `ends_in` real seconds away."""
        clock = ManualClock(datetime.now(UTC) + timedelta(seconds=ends_in) - timedelta(minutes=1))
        settings = Settings(database_url=str(self.store.engine.url))
        chat = ConsoleChat(build_service(self.store, clock, settings), self.store.outbox, clock,
                           Console(file=io.StringIO()), "da", org,
                           PlanSaver(plan_files(self.store, clock), self.folder))
        chat.dispatcher.timers = JobStoreTimers(self.scheduler, clock)
        return asyncio.run(_to_ambitions(chat))

    def close(self) -> None:
        stop(self.scheduler)


async def _to_ambitions(chat: ConsoleChat) -> str:
    f = "Mette"
    workshop = (await chat.say(f, "plenum", "ny Fjordly")).workshop_id
    await chat.press(f, "plenum", "setup_measures")
    await chat.fill(f, {"measures": "E-energi,S-tilfredshed,G-indkoeb"})
    await chat.press(f, "plenum", "setup_agenda")
    await chat.fill(f, {"ambitions": "1"})
    for group in ("E", "S", "G"):
        await chat.say(f, group, f"gruppe {group}")
    await chat.press(f, "plenum", "start")
    for name, area in (("Anders", "E"), ("Hanne", "S"), ("Maja", "G")):
        await chat.press(name, "plenum", "interest", area=area)
    await chat.press(f, "plenum", "propose_split")
    await chat.press(f, "plenum", "approve_split")
    await chat.say(f, "plenum", "næste")
    return workshop


def times_up(store: Store, workshop: str) -> int:
    """How often the facilitator was asked what to do now that phase 2's time is up."""
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.workshop_id == workshop, OutboxRow.payload.contains(TIME_UP))) or 0


def handled(store: Store, workshop: str) -> bool:
    """Whether the end of the workshop's current phase has been handled as an event."""
    with SqlUnitOfWork(store.sessions) as uow:
        ws = uow.workshops.get(workshop)
        assert ws is not None
        [(timer, _, args)] = [t for t in phase_timers(ws) if t[0] == timer_id(workshop)]
        return bool(uow.seen([timer_fired(timer, args).event_id]))


@pytest.fixture
def processes(database_url: str, tmp_path: Path) -> Iterator[tuple[Store, WebProcess, SchedulerProcess]]:
    store = open_store(database_url)
    web = WebProcess(store, tmp_path)
    scheduler = SchedulerProcess(database_url, tmp_path)
    yield store, web, scheduler
    scheduler.stop()
    web.close()
    store.close()


def test_a_timer_scheduled_by_one_process_fires_in_the_scheduler_process(
        processes: tuple[Store, WebProcess, SchedulerProcess]) -> None:
    store, web, scheduler = processes
    # The console's messages are this process's to deliver: the other process has no console
    # to show them on, so it starts once the workshop is set up (real deployments give every
    # process the same platforms).
    workshop = web.workshop(ends_in=6, org="org-a")
    with store.sessions() as session:  # the job is in the shared store, written by this process
        assert session.get(SchedulerJobRow, timer_id(workshop)) is not None
    scheduler.start()

    wait_for(lambda: times_up(store, workshop) > 0, "the end of phase 2 to fire", scheduler.log)

    assert times_up(store, workshop) == 1

    def gone() -> bool:
        with store.sessions() as session:
            return session.get(SchedulerJobRow, timer_id(workshop)) is None

    # Done, gone from the store: at the end of the scheduler's pass (bot/scheduler.py,
    # _BatchedJobStore), which on a busy machine may come just after the job's own work.
    wait_for(gone, "the job to leave the store", scheduler.log, timeout=10)


def test_a_killed_scheduler_sends_what_fell_due_while_it_was_down_once_and_the_rest_on_time(
        processes: tuple[Store, WebProcess, SchedulerProcess]) -> None:
    store, web, scheduler = processes
    scheduler.start()
    scheduler.kill()
    # Written once the scheduler is down, so nothing can fire before the kill however slow the
    # machine is (started after them, a scheduler slow to answer ran them before its kill).
    while_down = web.workshop(ends_in=6, org="org-b")
    lost = web.workshop(ends_in=6, org="org-d")
    due_at = time.monotonic() + 6
    later = web.workshop(ends_in=24, org="org-c")  # well after the restart has taken stock
    # A crash while a job ran: APScheduler had already taken it out of the store.
    with store.sessions.begin() as session:
        session.execute(delete(SchedulerJobRow).where(SchedulerJobRow.id == timer_id(lost)))
    time.sleep(max(0.0, due_at - time.monotonic()) + 1)  # two phases end while no scheduler runs
    assert not handled(store, while_down) and not handled(store, lost)

    scheduler.start()
    wait_for(lambda: handled(store, while_down) and handled(store, lost), "the overdue timers", scheduler.log)
    # the one that fell due, the one not due yet, and the lost one
    assert "(3 restored)" in scheduler.last_log()
    assert not handled(store, later)
    wait_for(lambda: handled(store, later), "the timer that was not due yet", scheduler.log)
    scheduler.kill()
    scheduler.start()  # a second restart owes nothing and repeats nothing
    time.sleep(2)

    assert [times_up(store, w) for w in (while_down, later, lost)] == [1, 1, 1]
    with store.sessions() as session:
        events = session.scalar(select(func.count()).select_from(ProcessedEventRow)
                                .where(ProcessedEventRow.event_id.like("timer:%:phase:end:%"))) or 0
    assert events >= 3
