"""Delivering the outbox: in order per conversation, retried with backoff, never lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.effects import Cancel, Direct, Effect, Post, Schedule, Update
from bot.ports import Clock, Outbox, Pending

log = logging.getLogger(__name__)

# At most a minute between tries: a workshop goes on at most a minute after the platform is
# back (the soak in tests/soak/faults.py measured 222 s of silence with a 300 s step), and a
# try a minute per waiting conversation is no burden on a platform that is down.
BACKOFF_SECONDS = (1, 2, 5, 15, 30, 60)
MAX_ATTEMPTS = 75  # about 70 minutes of trying before an effect is set aside
POLL_SECONDS = 0.5  # how often a dispatcher looks for effects written by other processes
TAKE_SPACING = 4  # after looking for what is due, deliver for at least 4 times as long


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


Refs = dict[tuple[str, str], str]  # (workshop, message key) → the platform's id of that message


class Dispatcher:
    def __init__(self, outbox: Outbox, deliverer: Deliverer, timers: Timers, clock: Clock,
                 batch: int = 500, lanes_at_once: int = 256) -> None:
        self.outbox = outbox
        self.deliverer = deliverer
        self.timers = timers
        self.clock = clock
        self.batch = batch
        self.lanes_at_once = lanes_at_once
        self._marks = _Marks(outbox, clock)

    async def deliver_due(self) -> int:
        """One round: what is due now, each conversation to its end; returns how many effects
        were delivered."""
        lanes = [asyncio.create_task(self._lane(items, refs)) for items, refs in self._take(set())]
        return sum(await asyncio.gather(*lanes))

    async def drain(self, wake: asyncio.Event | None = None) -> int:
        """Deliver until nothing more is due; returns how many effects were delivered.

        Conversations go side by side, each in its own order, and each on its own time: as
        one finishes, or `wake` is set (new effects were written), what has come due since is
        taken up, while the others go on. With a hundred workshops at once, a paced channel
        (a second a message) must not hold up every other conversation until it is done."""
        total = 0
        running: dict[str, asyncio.Task[int]] = {}
        loop = asyncio.get_running_loop()
        try:
            while True:
                began = loop.time()
                for items, refs in self._take(set(running)):
                    running[items[0].lane] = asyncio.create_task(self._lane(items, refs))
                if not running:
                    return total
                # Looking costs queries: under load (lanes ending and wakes by the hundred a
                # second) at most a fifth of the time goes to looking, the rest to delivering.
                await asyncio.sleep((loop.time() - began) * TAKE_SPACING)
                woken = asyncio.ensure_future(wake.wait()) if wake is not None else None
                # ...and every POLL_SECONDS, for effects other processes wrote (no wake from them)
                await asyncio.wait([*running.values(), *([woken] if woken else [])],
                                   timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
                if woken is not None:
                    if woken.done():
                        wake.clear()  # type: ignore[union-attr]
                    woken.cancel()
                for lane, task in list(running.items()):
                    if task.done():
                        del running[lane]
                        total += task.result()
        finally:  # a lane that failed leaves the others to finish what they hold
            await asyncio.gather(*running.values(), return_exceptions=True)

    def _take(self, busy: set[str]) -> list[tuple[list[Pending], Refs]]:
        """What is due in conversations not being delivered already, by lane, with the refs
        its updates edit; lanes beyond `lanes_at_once` go back untried."""
        lanes: dict[str, list[Pending]] = {}
        for item in self.outbox.due(self.clock.now(), self.batch, busy):
            lanes.setdefault(item.lane, []).append(item)
        room = max(self.lanes_at_once - len(busy), 0)
        if later := [i for items in list(lanes.values())[room:] for i in items]:
            self.outbox.release(later)
        taken = list(lanes.values())[:room]
        refs = self.outbox.refs({(i.workshop_id, i.effect.key) for items in taken for i in items
                                 if isinstance(i.effect, Update) and i.progress is None})
        return [(items, refs) for items in taken]

    async def _lane(self, items: list[Pending], refs: Refs) -> int:
        """Each effect is sent once the one before it is answered; its mark is written while
        the next is sent (so the marks of a busy lane go in groups). An update of a message
        posted just now in this lane edits it by the ref the post returned."""
        delivered = 0
        marking: list[asyncio.Future[None]] = []
        try:
            for index, item in enumerate(items):
                try:
                    ref = await self._send(item, refs)
                except Exception as error:  # noqa: BLE001 - every failure is retried or set aside
                    if self._failed(item, error):
                        # The rest of the lane waits, to keep its order, untried: not in doubt.
                        if rest := items[index + 1:]:
                            self.outbox.release(rest)
                        break
                    continue
                effect = item.effect
                if isinstance(effect, (Post, Update, Direct)) and effect.key and ref is not None:
                    refs[(item.workshop_id, effect.key)] = ref  # a key is one conversation's
                marking.append(asyncio.ensure_future(self._marks.delivered(item, ref)))
                delivered += 1
        finally:
            await _settled(marking)
        return delivered

    async def _send(self, item: Pending, refs: Refs) -> str | None:
        effect = item.effect
        if isinstance(effect, Schedule):
            self.timers.schedule(effect)
            return None
        if isinstance(effect, Cancel):
            self.timers.cancel(effect)
            return None
        ref = item.progress  # what an earlier attempt did: for an Update, it starts with the ref
        if ref is None and isinstance(effect, Update):
            ref = refs.get((item.workshop_id, effect.key))
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
