"""The platform memory: small texts an adapter keeps by its own keys, across restarts."""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.store.database import READ_ONLY, upsert
from bot.store.tables import PlatformMemoryRow

FRESH_SECONDS = 30.0  # how long a value read here is trusted before the store is asked again
MAX_KEPT = 10_000  # values kept at most; the least recently used go first


_PUT = upsert(PlatformMemoryRow, ["key"], ["value", "updated_at"])


class PlatformMemory:
    """One per process, shared by its adapters: what one of them writes, the others read at
    once; what another process writes is seen within FRESH_SECONDS. The store is asked far
    less often than once per message."""

    def __init__(self, session_factory: sessionmaker[Session], fresh_seconds: float = FRESH_SECONDS) -> None:
        self._sessions = session_factory
        self._fresh = fresh_seconds
        self._read: OrderedDict[str, tuple[float, str | None]] = OrderedDict()  # key → (when, value)

    def get(self, key: str) -> str | None:
        known = self._read.get(key)
        if known is not None and time.monotonic() - known[0] < self._fresh:
            return known[1]
        asked = time.monotonic()
        with self._sessions() as session:
            session.connection(execution_options=READ_ONLY)  # not behind the writers
            row = session.get(PlatformMemoryRow, key)
            value = row.value if row else None
        newer = self._read.get(key)
        if newer is not None and newer[0] >= asked:
            # Written by another thread while this read ran: what it wrote is at least as new.
            # Kept instead, this read put a Teams conversation's reference back to "unknown"
            # for FRESH_SECONDS when the same first message arrived twice at once, and every
            # message to it meanwhile was given up on.
            return newer[1]
        self._keep(key, value)
        return value

    def put(self, key: str, value: str) -> None:
        # Two writers of a new key at once: a Teams re-send of the same activity, two first
        # messages of a conversation (with the ORM's merge, a 500 on PostgreSQL).
        with self._sessions.begin() as session:
            session.execute(_PUT[session.get_bind().dialect.name],
                            {"key": key, "value": value, "updated_at": datetime.now(UTC)})
        self._keep(key, value)

    def _keep(self, key: str, value: str | None) -> None:
        self._read[key] = (time.monotonic(), value)
        self._read.move_to_end(key)
        while len(self._read) > MAX_KEPT:
            self._read.popitem(last=False)
