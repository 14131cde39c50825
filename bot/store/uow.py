"""The SQL unit of work: one session, one transaction, for one event."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.codec import dumps
from bot.effects import Effect, conversation_of
from bot.ports import ConcurrencyConflict
from bot.store.repository import SqlWorkshops, WorkshopCache
from bot.store.tables import OutboxRow, ProcessedEventRow


class SqlUnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], cache: WorkshopCache | None = None) -> None:
        self._factory = session_factory
        self._cache = cache

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._factory()
        self.workshops = SqlWorkshops(self.session, self._cache)
        self._seen: list[dict[str, object]] = []  # written as one statement each, at commit
        self._effects: list[dict[str, object]] = []
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.session.rollback()
        self.session.close()

    def seen(self, event_ids: Collection[str]) -> set[str]:
        return set(self.session.scalars(select(ProcessedEventRow.event_id)
                                        .where(ProcessedEventRow.event_id.in_(event_ids))))

    def mark_seen(self, event_id: str, workshop_id: str, now: datetime) -> None:
        self._seen.append({"event_id": event_id, "workshop_id": workshop_id, "handled_at": now})

    def add_effects(self, workshop_id: str, effects: Sequence[Effect], now: datetime) -> None:
        self._effects += ({"workshop_id": workshop_id, "lane": conversation_of(e), "payload": dumps(e),
                           "created_at": now, "attempts": 0, "next_attempt_at": now, "last_error": "",
                           "claimed_by": ""} for e in effects)

    def commit(self) -> None:
        try:
            # in the order they were made: the outbox's ids are its delivery order
            for table, rows in ((OutboxRow, self._effects), (ProcessedEventRow, self._seen)):
                if rows:
                    self.session.execute(insert(cast(Table, table.__table__)), rows)
            self._seen, self._effects = [], []
            self.session.commit()
        except IntegrityError as error:  # the same event or workshop, committed by someone else
            raise ConcurrencyConflict(str(error.orig)) from error
        if self._cache is not None:  # only now: a rolled-back save must never be served
            for workshop in self.workshops.saved:
                self._cache.put(workshop)
