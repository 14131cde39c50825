"""Connecting to the database named by DATABASE_URL: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

BUSY_SECONDS = 30  # how long a transaction waits for another to finish before it gives up
# A connection's execution options for a transaction that only reads: on SQLite it neither
# takes the write lock nor waits for a writer, and reads what was committed when it began.
READ_ONLY = {"read_only": True}
_giving_way = False


def upsert(model: type[Any], keys: Sequence[str], columns: Sequence[str]) -> Mapping[str, Any]:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET columns, by dialect name: one statement, where
    the ORM's merge read a row before writing it, and two writers of a new row at once failed
    the second."""
    def on(insert: Any) -> Any:
        statement = insert(model)
        return statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: statement.excluded[name] for name in columns})

    return {"sqlite": on(sqlite_dialect.insert), "postgresql": on(postgresql_dialect.insert)}


def give_way() -> None:
    """From now on this process's writers let other processes' waiting writers go first, on
    SQLite. For serve's dispatcher: when the machine is short of time, people's clicks must be
    acknowledged within Slack's 3 seconds, while a card may come a moment later."""
    global _giving_way
    _giving_way = True


def connect(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    # One turn for the whole engine: its connections take turns at writing; and, through a file
    # beside the database, with the other processes on it (serve's dispatcher, the scheduler's).
    path = make_url(url).database
    turns = {"turn": threading.Lock(), "turn_file": f"{path}-turn" if path and path != ":memory:" else None}
    factory = type("_EngineConnection", (_TurnTakingConnection,), turns)
    engine = create_engine(url, connect_args={"timeout": BUSY_SECONDS, "check_same_thread": False,
                                              "factory": factory})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if connection.get_execution_options().get("read_only"):
            connection.connection.dbapi_connection.execute("BEGIN")  # deferred: WAL readers never wait
        else:
            connection.connection.dbapi_connection.begin()

    return engine


class _TurnTakingConnection(sqlite3.Connection):
    """Each transaction takes SQLite's write lock up front (BEGIN IMMEDIATE): a read-then-write
    transaction can then never fail half-way because another process wrote in between.

    The connections first wait for their turn on locks of ours: within the process a thread
    lock, and between processes an flock on a file beside the database. SQLite itself makes a
    waiting connection sleep in growing steps (up to 100 ms) and try again, so under load the
    lock sat free while everyone slept; ours wake the next one as the holder commits. The
    kernel drops a killed process's flock, so a crash never leaves the turn taken."""

    turn: threading.Lock
    turn_file: str | None
    _holding = False
    _turn_fd: int | None = None
    _wanted_fd: int | None = None

    def begin(self) -> None:
        if not self.turn.acquire(timeout=BUSY_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        try:
            self._take_file_turn()
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise
        self._holding = True

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._hand_over()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._hand_over()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._holding:
                self._holding = False
                self._release()
            for fd in (self._turn_fd, self._wanted_fd):
                if fd is not None:
                    os.close(fd)
            self._turn_fd = self._wanted_fd = None

    def _hand_over(self) -> None:
        if self._holding and not self.in_transaction:
            self._holding = False
            self._release()

    def _take_file_turn(self) -> None:
        """Blocks until no other process is writing. Without a timeout: a holder is inside
        one short transaction, and the lock goes with it if it dies."""
        if self.turn_file is None:
            return
        if self._turn_fd is None:  # its own open files: flock excludes other descriptions only
            self._turn_fd = _opened(self.turn_file)
            self._wanted_fd = _opened(f"{self.turn_file}-wanted")
        if not _giving_way:
            # Shared while waiting: a process that gives way sees that someone is waiting.
            fcntl.flock(self._wanted_fd, fcntl.LOCK_SH)
            try:
                fcntl.flock(self._turn_fd, fcntl.LOCK_EX)
            finally:
                fcntl.flock(self._wanted_fd, fcntl.LOCK_UN)
            return
        while True:
            fcntl.flock(self._wanted_fd, fcntl.LOCK_EX)  # until nobody else is waiting
            fcntl.flock(self._wanted_fd, fcntl.LOCK_UN)
            fcntl.flock(self._turn_fd, fcntl.LOCK_EX)
            try:  # someone may have come while this one waited: they go first
                fcntl.flock(self._wanted_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fcntl.flock(self._turn_fd, fcntl.LOCK_UN)
                continue
            fcntl.flock(self._wanted_fd, fcntl.LOCK_UN)
            return

    def _release(self) -> None:
        try:
            if self._turn_fd is not None:
                fcntl.flock(self._turn_fd, fcntl.LOCK_UN)
        finally:
            self.turn.release()


def _opened(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
