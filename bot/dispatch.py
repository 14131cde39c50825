"""Delivering the outbox: in order per conversation, retried with backoff, never lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.effects import Cancel, Effect, Schedule, Update
from bot.ports import Clock, Outbox, Pending

log = logging.getLogger(__name__)

# At most a minute between tries: a workshop goes on at most a minute after the platform is
# back (the soak in tests/soak/faults.py measured 222 s of silence with a 300 s step), and a
# try a minute per waiting conversation is no burden on a platform that is down.
BACKOFF_SECONDS = (1, 2, 5, 15, 30, 60)
MAX_ATTEMPTS = 75  # about 70 minutes of trying before an effect is set aside


class DeliveryError(Exception):
    """A platform refused or failed. `retry_after` is its own hint (HTTP 429 Retry-After);
    `progress` is what the attempt did before it failed, handed to the next attempt;
    `in_doubt`: the platform may have acted all the same (a timeout, a dropped connection,
    a 5xx), so the next attempt must look for what this one did before sending again."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False,
                 progress: str | None = None, in_doubt: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.progress = progress
        self.in_doubt = in_doubt


@dataclass(frozen=True)
class Attempt:
    """The outbox item a deliverer is sending, for the platform calls it makes: a platform
    that can tag a message with `item` lets a doubtful retry find its earlier copy."""

    item: str
    in_doubt: bool


# Set while an item is being delivered, so that every deliverer and the HTTP layers below
# it can see which item it is without each signature on the way carrying it.
ATTEMPT: ContextVar[Attempt | None] = ContextVar("ATTEMPT", default=None)


def retry_after(headers: Mapping[str, str]) -> int | None:
    """A platform's HTTP Retry-After header, in seconds (None when it gives none we can read)."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class Deliverer(Protocol):
    async def deliver(self, effect: Effect, ref: str | None) -> str | None:
        """Send a message; for a post, return the platform's id of it (to update it later).
        `ref` is the `progress` of the effect's last failed attempt, or, for an Update tried
        for the first time, the id of the message it edits (None if there is none)."""


class Timers(Protocol):
    def schedule(self, effect: Schedule) -> None: ...
    def cancel(self, effect: Cancel) -> None: ...


class Dispatcher:
    def __init__(self, outbox: Outbox, deliverer: Deliverer, timers: Timers, clock: Clock,
                 batch: int = 500, lanes_at_once: int = 16) -> None:
        self.outbox = outbox
        self.deliverer = deliverer
        self.timers = timers
        self.clock = clock
        self.batch = batch
        self.lanes_at_once = lanes_at_once
        self._marks = _Marks(outbox, clock)

    async def deliver_due(self) -> int:
        """One pass over the outbox; returns how many effects were delivered."""
        delivered, _ = await self._pass()
        return delivered

    async def drain(self) -> int:
        """Deliver until nothing more is due; returns how many effects were delivered."""
        total = 0
        while True:
            delivered, progressed = await self._pass()
            total += delivered
            if not progressed:
                return total

    async def _pass(self) -> tuple[int, int]:
        """Returns (delivered, delivered or set aside) for one pass over what is due.

        Conversations are delivered side by side (a slow or paced one does not hold up the
        others), each in its own order."""
        lanes: dict[str, list[Pending]] = {}
        for item in self.outbox.due(self.clock.now(), self.batch):
            lanes.setdefault(item.lane, []).append(item)
        width = asyncio.Semaphore(self.lanes_at_once)

        async def lane(items: list[Pending]) -> tuple[int, int]:
            async with width:
                return await self._lane(items)

        counts = await asyncio.gather(*(lane(items) for items in lanes.values()))
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    async def _lane(self, items: list[Pending]) -> tuple[int, int]:
        """Each effect is sent once the one before it is answered; its mark is written while
        the next is sent (so the marks of a busy lane go in groups), except that an Update
        waits for the marks before it: the message it edits may be one posted just now, whose
        ref its mark stores."""
        delivered = progressed = 0
        marking: list[asyncio.Future[None]] = []
        try:
            for index, item in enumerate(items):
                progressed += 1
                if marking and isinstance(item.effect, Update):
                    await _settled(marking)
                try:
                    ref = await self._send(item)
                except Exception as error:  # noqa: BLE001 - every failure is retried or set aside
                    if self._failed(item, error):
                        # The rest of the lane waits, to keep its order, untried: not in doubt.
                        if rest := items[index + 1:]:
                            self.outbox.release(rest)
                        break
                    continue
                marking.append(asyncio.ensure_future(self._marks.delivered(item, ref)))
                delivered += 1
        finally:
            await _settled(marking)
        return delivered, progressed

    async def _send(self, item: Pending) -> str | None:
        effect = item.effect
        if isinstance(effect, Schedule):
            self.timers.schedule(effect)
            return None
        if isinstance(effect, Cancel):
            self.timers.cancel(effect)
            return None
        ref = item.progress  # what an earlier attempt did: for an Update, it starts with the ref
        if ref is None and isinstance(effect, Update):
            ref = self.outbox.ref(item.workshop_id, effect.key)
        attempt = ATTEMPT.set(Attempt(str(item.id), item.in_doubt))
        try:
            return await self.deliverer.deliver(effect, ref)
        finally:
            ATTEMPT.reset(attempt)

    def _failed(self, item: Pending, error: Exception) -> bool:
        """Record the failure; True if the item will be retried, False if it is set aside."""
        now = self.clock.now()
        attempts = item.attempts + 1
        permanent = isinstance(error, DeliveryError) and error.permanent
        progress = error.progress if isinstance(error, DeliveryError) else None
        # Unknown failures too: better to look once more than to post twice.
        in_doubt = item.in_doubt or not isinstance(error, DeliveryError) or error.in_doubt
        if permanent or attempts >= MAX_ATTEMPTS:
            log.error("giving up on outbox item %s after %s attempts: %s", item.id, attempts, error)
            self.outbox.failed(item, repr(error), None, now, progress)
            return False
        hint = error.retry_after if isinstance(error, DeliveryError) else None
        wait = hint if hint is not None else BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
        log.warning("outbox item %s failed (attempt %s), retrying in %ss: %s", item.id, attempts,
                    wait, error)
        self.outbox.failed(item, repr(error), now + timedelta(seconds=wait), now, progress, in_doubt)
        return True


async def _settled(marking: list[asyncio.Future[None]]) -> None:
    """Wait for these marks to be written (raising if one could not be), and forget them."""
    waiting = list(marking)
    marking.clear()
    await asyncio.gather(*waiting)


class _Marks:
    """Marks delivered effects as such, in group commits: effects delivered while one commit
    is under way are marked together in the next, on a thread of its own, so the lanes go on
    sending while it waits for the database. Nothing waits on purpose to fill a group: the
    time between a platform's answer and its mark stays one commit at most. (A crash in that
    time sends the effect again; a lane may have sent one or two more in it than before.)"""

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock
        self._waiting: list[tuple[Pending, str | None, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def delivered(self, item: Pending, ref: str | None) -> None:
        marked = asyncio.get_running_loop().create_future()
        self._waiting.append((item, ref, marked))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await marked

    async def _write(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(self.outbox.delivered, [(item, ref) for item, ref, _ in group],
                                        self.clock.now())
            except Exception as error:  # noqa: BLE001 - each lane hears of it, as from its own mark
                for _, _, marked in group:
                    marked.set_exception(error)
            else:
                for _, _, marked in group:
                    marked.set_result(None)
