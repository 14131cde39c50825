"""The embedded SQLite store under many threads: each transaction gets its turn, none is lost,
and a transaction that fails or is abandoned never keeps the others waiting."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.store import database
from bot.store.database import connect, sessions
from bot.store.tables import ProcessedEventRow
from tests.conftest import START


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setattr(database, "BUSY_SECONDS", 2)  # a turn never handed on fails fast
    engine = connect(f"sqlite:///{tmp_path}/turns.sqlite3")
    ProcessedEventRow.__table__.create(engine)
    yield engine
    engine.dispose()


def test_writers_on_many_threads_all_get_their_turn(engine) -> None:  # noqa: ANN001
    factory = sessions(engine)
    errors: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for n in range(25):
                with factory.begin() as session:  # read, then write: the pattern of every event
                    session.scalars(select(ProcessedEventRow.event_id)).all()
                    session.add(ProcessedEventRow(event_id=f"{thread}-{n}", workshop_id="w", handled_at=START))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with factory() as session:
        assert len(session.scalars(select(ProcessedEventRow)).all()) == 8 * 25


def test_a_failed_transaction_hands_the_turn_on(engine) -> None:  # noqa: ANN001
    factory = sessions(engine)
    with pytest.raises(RuntimeError), factory.begin() as session:
        session.add(ProcessedEventRow(event_id="lost", workshop_id="w", handled_at=START))
        raise RuntimeError("the engine failed half-way")
    with pytest.raises(Exception), factory.begin() as session:  # noqa: B017, PT011 - any database error
        session.execute(text("INSERT INTO no_such_table VALUES (1)"))

    done: list[str] = []

    def next_one() -> None:
        with factory.begin() as session:
            session.add(ProcessedEventRow(event_id="kept", workshop_id="w", handled_at=START))
        done.append("kept")

    thread = threading.Thread(target=next_one)  # another thread: it must not find the turn taken
    thread.start()
    thread.join()
    assert done == ["kept"]
    with factory() as session:
        assert session.scalars(select(ProcessedEventRow.event_id)).all() == ["kept"]


def test_a_connection_dropped_in_a_transaction_hands_the_turn_on(engine) -> None:  # noqa: ANN001
    connection = engine.connect()
    connection.begin()
    connection.invalidate()  # as when the pool throws a broken connection away

    with sessions(engine).begin() as session:
        session.add(ProcessedEventRow(event_id="after", workshop_id="w", handled_at=START))
    with sessions(engine)() as session:
        assert session.scalars(select(ProcessedEventRow.event_id)).all() == ["after"]


def _hold_a_transaction(url: str, began: Any, seconds: float) -> None:
    """In another process: take the write turn, keep it `seconds`, then commit."""
    engine = connect(url)
    with sessions(engine).begin() as session:
        session.add(ProcessedEventRow(event_id="other process", workshop_id="w", handled_at=START))
        session.flush()
        began.set()
        time.sleep(seconds)


@pytest.fixture
def other_process(tmp_path: Path) -> Iterator[Callable[[float], multiprocessing.Process]]:
    context = multiprocessing.get_context("spawn")  # as serve's dispatcher: its own connections
    started: list[multiprocessing.Process] = []

    def start(seconds: float) -> multiprocessing.Process:
        began = context.Event()
        process = context.Process(target=_hold_a_transaction,
                                  args=(f"sqlite:///{tmp_path}/turns.sqlite3", began, seconds))
        process.start()
        started.append(process)
        assert began.wait(30), "the other process never began its transaction"
        return process

    yield start
    for process in started:
        process.kill()
        process.join()


def test_a_writer_waits_for_another_process_to_finish_rather_than_failing(engine, other_process) -> None:  # noqa: ANN001
    """SQLite alone gives up after its busy timeout (2 s here) with "database is locked"; the
    turn on the file beside the database waits for the other process's commit instead."""
    other_process(3.0)
    with sessions(engine).begin() as session:
        session.add(ProcessedEventRow(event_id="this process", workshop_id="w", handled_at=START))
    with sessions(engine)() as session:
        assert sorted(session.scalars(select(ProcessedEventRow.event_id))) == ["other process", "this process"]


def test_a_killed_process_does_not_keep_the_turn(engine, other_process) -> None:  # noqa: ANN001
    other_process(600.0).kill()
    with sessions(engine).begin() as session:
        session.add(ProcessedEventRow(event_id="after the kill", workshop_id="w", handled_at=START))
    with sessions(engine)() as session:
        assert session.scalars(select(ProcessedEventRow.event_id)).all() == ["after the kill"]


def _hold_until(url: str, began: Any, release: Any) -> None:
    with sessions(connect(url)).begin() as session:
        session.add(ProcessedEventRow(event_id="holder", workshop_id="w", handled_at=START))
        session.flush()
        began.set()
        release.wait(60)


def _write_one(url: str, name: str, gives_way: bool, asking: Any) -> None:
    if gives_way:
        database.give_way()
    factory = sessions(connect(url))
    asking.set()
    with factory.begin() as session:
        session.add(ProcessedEventRow(event_id=name, workshop_id="w", handled_at=START))


def test_a_process_that_gives_way_lets_a_request_that_came_later_go_first(engine, tmp_path: Path) -> None:  # noqa: ANN001
    """serve's dispatcher gives way: waiting since before the server's request, it still
    writes after it, so that the click is acknowledged first."""
    url = f"sqlite:///{tmp_path}/turns.sqlite3"
    context = multiprocessing.get_context("spawn")
    began, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_until, args=(url, began, release))
    holder.start()
    assert began.wait(30)
    writers = []
    for name, gives_way in (("dispatcher", True), ("request", False)):
        asking = context.Event()
        writers.append(process := context.Process(target=_write_one, args=(url, name, gives_way, asking)))
        process.start()
        assert asking.wait(30)
        time.sleep(0.5)  # waiting for the turn by now
    release.set()
    for process in (holder, *writers):
        process.join(30)

    with engine.connect() as connection:
        order = connection.execute(text("SELECT event_id FROM processed_events ORDER BY rowid")).scalars().all()
    assert order == ["holder", "request", "dispatcher"]


def test_a_platform_memory_read_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """A Teams message reads where its conversation is (PlatformMemory.get) before it is
    answered. Under load another process is writing all the time; when every read took the
    write lock, the answer waited for the writer's transaction (bench/load.py: Teams `next`
    p50 70-120 ms at the half-time burst)."""
    from bot.store.memory import PlatformMemory
    from bot.store.tables import PlatformMemoryRow

    engine = connect(f"sqlite:///{tmp_path}/memory.sqlite3")
    PlatformMemoryRow.__table__.create(engine)
    factory = sessions(engine)
    PlatformMemory(factory).put("teams:place:C1", "kept")
    read: list[str | None] = []
    writing = factory.begin()
    session = writing.__enter__()
    session.merge(PlatformMemoryRow(key="teams:place:C2", value="being written", updated_at=START))
    session.flush()  # the write lock is held until this transaction ends
    try:
        reader = threading.Thread(target=lambda: read.append(PlatformMemory(factory).get("teams:place:C1")))
        reader.start()
        reader.join(timeout=database.BUSY_SECONDS / 2)
        assert not reader.is_alive(), "the read waited for the writer"
        assert read == ["kept"]
    finally:
        writing.__exit__(None, None, None)
        engine.dispose()
