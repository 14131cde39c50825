"""The outbox as the dispatcher sees it: what is pending, and how each attempt went."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.codec import loads
from bot.effects import Direct, Post, Update
from bot.ports import Pending
from bot.store.database import upsert
from bot.store.tables import OutboxRow, PostedMessageRow

LEASE = timedelta(minutes=2)  # longer than any one delivery with its retries takes
_ROWS = cast(Table, OutboxRow.__table__)
# One statement for a whole group, compiled once: the ORM's bulk update built its statement
# anew each time, and one UPDATE a row was a round trip each on PostgreSQL (together a third
# of handling an activity in bench/teams.py). An item is counted delivered once.
_DELIVERED = (update(_ROWS).where(_ROWS.c.id.in_(bindparam("items", expanding=True)),
                                  _ROWS.c.delivered_at.is_(None))
              .values(delivered_at=bindparam("at"), attempts=_ROWS.c.attempts + 1, claimed_until=None))


# Where each posted message is, for a whole batch in one statement: the ORM's merge read each
# row before writing it, the dispatcher's biggest cost under load (bench/load.py).
_REMEMBER = upsert(PostedMessageRow, ["workshop_id", "key"], ["ref", "updated_at"])


class SqlOutbox:
    """Several processes may dispatch: `due` takes (claims) what it hands out for LEASE, so no
    item is handed to two of them, and a conversation's items go to one at a time, in order.
    A claim left by a process that died runs out, and another process takes the item over;
    a process that comes back under the same `owner` (serve: host and port) takes its own
    claims over at once.

    A claim is released when its attempt's outcome is known (delivered, failed, or never
    tried). So an item handed out while still claimed is in doubt: whoever held it may have
    sent it before dying, or its answer was lost (`failed(in_doubt=True)` keeps the claim)."""

    def __init__(self, session_factory: sessionmaker[Session], owner: str | None = None) -> None:
        self._sessions = session_factory
        self.owner = owner or uuid.uuid4().hex

    def pending(self, limit: int) -> Sequence[Pending]:
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None))
                .order_by(OutboxRow.id).limit(limit))
            return [_pending(r) for r in rows]

    def due(self, now: datetime, limit: int, busy: Collection[str] = ()) -> Sequence[Pending]:
        open_ = (OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None))
        taken = and_(OutboxRow.claimed_until > now, OutboxRow.claimed_by != self.owner)
        free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until <= now,
                   OutboxRow.claimed_by == self.owner)  # not `not_(taken)`: NULL is not false
        waiting = select(OutboxRow.lane).where(*open_, or_(OutboxRow.next_attempt_at > now, taken))
        with self._sessions.begin() as session:
            wanted = dict(session.execute(
                select(OutboxRow.id, OutboxRow.claimed_until.is_not(None))
                .where(*open_, OutboxRow.lane.not_in(waiting), OutboxRow.lane.not_in(list(busy)))
                .order_by(OutboxRow.id).limit(limit))
                .all())
            if not wanted:
                return []
            # Open again here: another dispatcher may have delivered one of them since the
            # select (a delivered row has no claim, so `free` alone would hand it out again).
            claimed = set(session.scalars(
                update(OutboxRow).where(OutboxRow.id.in_(wanted), *open_, free)
                .values(claimed_by=self.owner, claimed_until=now + LEASE)
                .returning(OutboxRow.id).execution_options(synchronize_session=False)))
            rows = session.execute(select(_ROWS).where(_ROWS.c.id.in_(claimed)).order_by(_ROWS.c.id)).all()
            return _in_lane_order(session, rows, self.owner, now, {i for i, c in wanted.items() if c})

    def delivered(self, done: Sequence[tuple[Pending, str | None]], now: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(_DELIVERED, {"items": [item.id for item, _ in done], "at": now})
            posted: dict[tuple[str, str], dict[str, object]] = {}  # the last one of each wins
            for item, ref in done:
                effect = item.effect
                # An update of a message that was never posted is posted: remember where, too.
                if isinstance(effect, (Post, Update, Direct)) and effect.key and ref is not None:
                    posted[item.workshop_id, effect.key] = {"workshop_id": item.workshop_id, "key": effect.key,
                                                            "ref": ref, "updated_at": now}
            if posted:
                session.execute(_REMEMBER[session.get_bind().dialect.name], list(posted.values()))

    def failed(self, item: Pending, error: str, retry_at: datetime | None, now: datetime,
               progress: str | None = None, in_doubt: bool = False) -> None:
        """Try again at `retry_at`, or give up for good when it is None."""
        with self._sessions.begin() as session:
            session.execute(update(OutboxRow).where(OutboxRow.id == item.id).values(
                attempts=item.attempts + 1, last_error=error[:2000],
                next_attempt_at=retry_at or now, failed_at=None if retry_at else now,
                claimed_until=now if in_doubt else None, progress=progress or item.progress))

    def release(self, items: Sequence[Pending]) -> None:
        with self._sessions.begin() as session:
            session.execute(update(OutboxRow).where(OutboxRow.id.in_([i.id for i in items]),
                                                    OutboxRow.claimed_by == self.owner)
                            .values(claimed_until=None).execution_options(synchronize_session=False))

    def refs(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], str]:
        if not keys:
            return {}
        with self._sessions() as session:
            rows = session.execute(select(PostedMessageRow.workshop_id, PostedMessageRow.key, PostedMessageRow.ref)
                                   .where(PostedMessageRow.workshop_id.in_({w for w, _ in keys}),
                                          PostedMessageRow.key.in_({k for _, k in keys})))
            return {(w, k): ref for w, k, ref in rows if (w, k) in keys}

    def state(self, now: datetime) -> OutboxState:
        """What an operator asks when messages seem slow: how many wait, how many are being
        retried and until when, how many were given up on, and the newest error."""
        open_ = (OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None))
        with self._sessions() as session:
            waiting, retrying, oldest, next_try = session.execute(select(
                func.count(), func.count().filter(OutboxRow.attempts > 0), func.min(OutboxRow.created_at),
                func.min(OutboxRow.next_attempt_at).filter(OutboxRow.attempts > 0)).where(*open_)).one()
            set_aside = session.scalar(select(func.count()).where(OutboxRow.failed_at.is_not(None))) or 0
            error = session.scalar(select(OutboxRow.last_error).where(OutboxRow.last_error != "",
                                                                      OutboxRow.delivered_at.is_(None))
                                   .order_by(OutboxRow.id.desc()).limit(1))
        return OutboxState(waiting, retrying, set_aside,
                           (now - _utc(oldest)).total_seconds() if oldest else 0.0,
                           _utc(next_try) if next_try else None, error or "")

    def backlog(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None))) or 0


@dataclass(frozen=True)
class OutboxState:
    waiting: int  # not delivered yet (being retried or not)
    retrying: int  # of those, tried and failed at least once
    set_aside: int  # given up on: a permanent refusal, or too many attempts
    oldest_seconds: float  # how long the oldest waiting one has waited
    next_retry_at: datetime | None
    last_error: str  # of the newest item not delivered


def _utc(moment: datetime) -> datetime:
    """Aggregates bypass the column type: SQLite hands back a naive UTC time."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _in_lane_order(session: Session, rows: Sequence[Row[Any]], owner: str, now: datetime,
                   doubted: set[int]) -> list[Pending]:
    """Keep a lane only if nothing older in it is still open in someone else's hands (a race
    between two processes on PostgreSQL can leave one with the tail of a lane)."""
    firsts: dict[str, int] = {}
    for row in rows:
        firsts.setdefault(row.lane, row.id)
    if not firsts:
        return []
    behind = set(session.scalars(select(OutboxRow.lane).where(
        OutboxRow.lane.in_(firsts), OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None),
        OutboxRow.id < case(*((OutboxRow.lane == lane, first) for lane, first in firsts.items())),
        or_(OutboxRow.claimed_by != owner, OutboxRow.claimed_until.is_(None),
            OutboxRow.claimed_until <= now))))
    if behind:
        session.execute(update(OutboxRow).where(OutboxRow.lane.in_(behind), OutboxRow.claimed_by == owner,
                                                OutboxRow.delivered_at.is_(None))
                        .values(claimed_until=case((OutboxRow.id.in_(doubted), now), else_=None)
                                if doubted else None)  # what was in doubt stays so
                        .execution_options(synchronize_session=False))
    return [_pending(r, r.id in doubted) for r in rows if r.lane not in behind]


def _pending(row: OutboxRow | Row[Any], in_doubt: bool = False) -> Pending:
    return Pending(row.id, row.workshop_id, row.lane, loads(row.payload), row.attempts,
                   row.next_attempt_at, row.progress, in_doubt)
