"""What the service and dispatcher need from the outside world, as small protocols."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from bot.domain.model import Workshop
from bot.effects import Effect


class ConcurrencyConflict(Exception):
    """Another process changed the workshop since it was loaded; handle the event again."""


class WorkshopStore(Protocol):
    def get(self, workshop_id: str) -> Workshop | None: ...
    def by_conversation(self, org: str, conversation: str) -> Workshop | None: ...
    def latest_for_facilitator(self, org: str, user: str) -> Workshop | None: ...
    def with_clock(self) -> list[Workshop]: ...
    def following_up(self) -> list[Workshop]: ...
    def owned_by(self, org: str, user: str) -> Workshop | None: ...
    def save(self, old: Workshop | None, new: Workshop, actor: str, now: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: the state change, its effects and the event's id land together."""

    @property
    def workshops(self) -> WorkshopStore: ...

    def __enter__(self) -> Self: ...
    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None: ...
    def seen(self, event_ids: Collection[str]) -> set[str]:
        """Those of the events already handled."""

    def mark_seen(self, event_id: str, workshop_id: str, now: datetime) -> None: ...
    def add_effects(self, workshop_id: str, effects: Sequence[Effect], now: datetime) -> None: ...
    def commit(self) -> None: ...


@dataclass(frozen=True)
class Pending:
    """An effect waiting in the outbox."""

    id: int
    workshop_id: str
    lane: str  # effects in one lane (a conversation) are delivered in order
    effect: Effect
    attempts: int
    next_attempt_at: datetime
    progress: str | None = None  # what an earlier, failed attempt already did on the platform
    in_doubt: bool = False  # an earlier attempt may have gone through: its outcome is unknown


class Outbox(Protocol):
    def due(self, now: datetime, limit: int, busy: Collection[str] = ()) -> Sequence[Pending]:
        """Pending items, oldest first, leaving out every lane whose head waits for a retry
        (so a lane stuck on a slow platform never starves the others, and keeps its order)
        and the `busy` lanes (being delivered: their next items wait their turn)."""

    def delivered(self, done: Sequence[tuple[Pending, str | None]], now: datetime) -> None:
        """Mark these delivered, each with the platform's id of what it posted (or None)."""

    def failed(self, item: Pending, error: str, retry_at: datetime | None, now: datetime,
               progress: str | None = None, in_doubt: bool = False) -> None:
        """Try again at `retry_at`, or give up for good when it is None. `in_doubt`: the
        platform may have acted on this attempt, so the next one must look before it sends."""

    def release(self, items: Sequence[Pending]) -> None:
        """Hand back items taken but not tried (their lane stopped on a failure)."""

    def refs(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The platform's ids of the messages posted under these (workshop, key)s."""


class Clock(Protocol):
    def now(self) -> datetime: ...


