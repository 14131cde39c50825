"""The outbox as the dispatcher sees it: what is pending, and how each attempt went."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.codec import loads
from bot.effects import Post
from bot.ports import Pending
from bot.store.tables import OutboxRow, PostedMessageRow


class SqlOutbox:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def pending(self, limit: int) -> Sequence[Pending]:
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None))
                .order_by(OutboxRow.id).limit(limit))
            return [_pending(r) for r in rows]

    def due(self, now: datetime, limit: int) -> Sequence[Pending]:
        waiting = select(OutboxRow.lane).where(
            OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None),
            OutboxRow.next_attempt_at > now)
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None),
                                        OutboxRow.lane.not_in(waiting))
                .order_by(OutboxRow.id).limit(limit))
            return [_pending(r) for r in rows]

    def delivered(self, item: Pending, ref: str | None, now: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(update(OutboxRow).where(OutboxRow.id == item.id)
                            .values(delivered_at=now, attempts=item.attempts + 1))
            effect = item.effect
            if isinstance(effect, Post) and effect.key and ref is not None:
                session.merge(PostedMessageRow(workshop_id=item.workshop_id, key=effect.key,
                                               ref=ref, updated_at=now))

    def failed(self, item: Pending, error: str, retry_at: datetime | None, now: datetime) -> None:
        """Try again at `retry_at`, or give up for good when it is None."""
        with self._sessions.begin() as session:
            session.execute(update(OutboxRow).where(OutboxRow.id == item.id).values(
                attempts=item.attempts + 1, last_error=error[:2000],
                next_attempt_at=retry_at or now, failed_at=None if retry_at else now))

    def ref(self, workshop_id: str, key: str) -> str | None:
        with self._sessions() as session:
            row = session.get(PostedMessageRow, {"workshop_id": workshop_id, "key": key})
            return row.ref if row else None

    def backlog(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None))) or 0


def _pending(row: OutboxRow) -> Pending:
    return Pending(row.id, row.workshop_id, row.lane, loads(row.payload), row.attempts,
                   row.next_attempt_at)
