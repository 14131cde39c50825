"""Connecting to the database named by DATABASE_URL: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

BUSY_SECONDS = 30  # how long a transaction waits for another to finish before it gives up


def connect(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    # One turn for the whole engine: its connections take turns at writing.
    factory = type("_EngineConnection", (_TurnTakingConnection,), {"turn": threading.Lock()})
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
        connection.connection.dbapi_connection.begin()

    return engine


class _TurnTakingConnection(sqlite3.Connection):
    """Each transaction takes SQLite's write lock up front (BEGIN IMMEDIATE): a read-then-write
    transaction can then never fail half-way because another process wrote in between.

    Within one process the connections first wait for their turn on a lock of ours. SQLite
    itself makes a waiting connection sleep in growing steps (up to 100 ms) and try again, so
    under load the lock sat free while everyone slept; ours wakes the next one as the holder
    commits. Other processes still meet SQLite's own wait."""

    turn: threading.Lock
    _holding = False

    def begin(self) -> None:
        if not self.turn.acquire(timeout=BUSY_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.turn.release()
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
                self.turn.release()

    def _hand_over(self) -> None:
        if self._holding and not self.in_transaction:
            self._holding = False
            self.turn.release()


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
