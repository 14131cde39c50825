"""The platform memory: small texts an adapter keeps by its own keys, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.store.tables import PlatformMemoryRow


class PlatformMemory:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def get(self, key: str) -> str | None:
        with self._sessions() as session:
            row = session.get(PlatformMemoryRow, key)
            return row.value if row else None

    def put(self, key: str, value: str) -> None:
        with self._sessions.begin() as session:
            session.merge(PlatformMemoryRow(key=key, value=value, updated_at=datetime.now(UTC)))
