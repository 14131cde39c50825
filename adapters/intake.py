"""Answering a click as soon as it is kept, and handling it right after.

A button, a command or a mention is answered with nothing but "received": what it does shows
up as messages from the outbox. So its request need not wait for the engine, the save and the
outbox of its workshop, which under load (a whole plenum pressing at once, every workshop
changing phase together) took hundreds of milliseconds of Slack's 3 seconds. Here the event
is kept in the inbox (bot/store/inbox.py), the request is answered, and the event goes to
the service through the batcher, in the order it came. Once handled, it leaves the inbox.

What is still in the inbox at start was acknowledged by a server that died before handling
it: it is handled first. While the server runs, what stays longer than SWEEP_SECONDS (the
database was away when its turn came) is tried again. A form's submission is not taken here:
its answer carries the form's errors, so it waits for the engine (`Intake.handle`).

Where the events are handled is `handle`'s business: on this process's threads
(`handled_here`, in tests and where a process cannot fork), or, under `serve`, in a process
of its own (adapters/handling_process.py), so that answering never waits for the engine's
share of the interpreter lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from aiohttp import web

from adapters.batching import Batcher
from bot.events import Event, oversized, storable
from bot.service import Result
from bot.store.inbox import SqlInbox

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0
AT_ONCE = 500  # events kept, or forgotten, in one transaction at most
# How long a handled event may wait to be forgotten with the next click kept: a transaction
# (and a disk flush) of its own for each was a third of what the server did per click. One
# handled and not yet forgotten when the server dies is handled again at the next start,
# which the service's dedupe makes harmless.
FORGET_SECONDS = 0.5

Handle = Callable[[Event], Awaitable[Result]]
Complete = Callable[[Event], Awaitable[Event]]


def handled_here(batcher: Batcher, wake: Callable[[], None]) -> Handle:
    """Handled on this process's threads; the outbox woken for what it made."""
    async def handle(event: Event) -> Result:
        result = await batcher.handle(event)
        wake()
        return result

    return handle


class Intake:
    def __init__(self, handle: Handle, inbox: SqlInbox) -> None:
        self.handle = handle  # now, for an answer that depends on it (a form's errors)
        self.inbox = inbox
        self._handling: dict[str, asyncio.Task[None]] = {}  # by event id
        # The inbox has a thread of its own: on the shared pool, keeping a click waited for
        # the handling of the clicks before it, which is what it is meant not to wait for.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="inbox")
        self._to_keep: list[tuple[Event, asyncio.Future[None]]] = []  # answered once kept
        self._handled: list[str] = []  # to be forgotten with the next keeping
        self._keeper: asyncio.Task[None] | None = None
        self._forgetting: asyncio.TimerHandle | None = None  # forget `_handled` if no click comes
        self._forget_due = False
        self._handed: asyncio.Future[None] | None = None  # the last event started: handed over yet?
        # What an adapter adds to an event once it is answered and before it is handled (Slack:
        # people's display names, which take a call to Slack the answer need not wait for).
        self.complete: Complete | None = None

    async def take(self, event: Event) -> None:
        """Returns once `event` is kept; it is handled after. Raises if it could not be kept
        (the request then fails, and the platform sends it again)."""
        event = storable(event)  # as the service keeps it: PostgreSQL takes no NUL
        if oversized(event):  # no platform's: the service ignores it, and says so
            await self.handle(event)
            return
        kept: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_keep.append((event, kept))
        self._keep_soon()
        await kept  # handled from here on, even if this request is given up meanwhile

    def pending(self) -> int:
        """Events taken in this process and not handled yet (handled ones may stay kept for
        up to FORGET_SECONDS more)."""
        busy = self._keeper is not None and not self._keeper.done()
        return len(self._handling) + len(self._to_keep) + busy

    async def handle_kept(self, received_before: datetime | None = None) -> int:
        """Hand what the inbox holds to the service (received before the given moment, if
        one is given), except what is being handled now; how many."""
        kept = await asyncio.get_running_loop().run_in_executor(self._pool, self.inbox.waiting,
                                                                received_before)
        skip = {*self._handling, *self._handled}
        started = [event for event in kept if event.event_id not in skip]
        for event in started:
            self._start(event)
        return len(started)

    async def sweep(self) -> None:
        """Now and then, try again what has waited too long (until cancelled)."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.handle_kept(datetime.now(UTC) - timedelta(seconds=SWEEP_SECONDS))
            except Exception:  # noqa: BLE001 - the database is away: next time
                log.warning("could not read the inbox; trying again in %s s", SWEEP_SECONDS)

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout`) for what is being handled; what is not done stays kept."""
        if self._handling:
            await asyncio.wait(list(self._handling.values()), timeout=timeout)
        if self._forgetting is not None:
            self._forgetting.cancel()
            self._forgetting = None
        if self._handled:  # now: the pool is about to shut
            self._forget_due = True
            self._keep_soon()
        if self._keeper is not None:
            await asyncio.wait([self._keeper], timeout=timeout)
        self._pool.shutdown()

    def _start(self, event: Event) -> None:
        before, self._handed = self._handed, asyncio.get_running_loop().create_future()
        self._handling[event.event_id] = asyncio.create_task(self._handle(event, before, self._handed))

    async def _handle(self, event: Event, before: asyncio.Future[None] | None,
                      handed: asyncio.Future[None]) -> None:
        try:
            await self._hand_over(event, before, handed)
            self._handled.append(event.event_id)
            self._forget_soon()
        except Exception:  # noqa: BLE001 - it stays kept, and is tried again by the sweep
            log.exception("an event kept in the inbox could not be handled yet")
        finally:
            if self._handling.get(event.event_id) is asyncio.current_task():  # not a later one's
                del self._handling[event.event_id]

    async def _hand_over(self, event: Event, before: asyncio.Future[None] | None,
                         handed: asyncio.Future[None]) -> None:
        """Completed (`complete`, at once for all), then handed to `handle` in the order they
        were kept, whichever was completed first."""
        try:
            completing = asyncio.ensure_future(self.complete(event)) if self.complete else None
            if before is not None and not before.done():
                await before
            if completing is not None:
                event = await completing
            handling = asyncio.ensure_future(self.handle(event))  # queued before the next one is
        finally:
            if not handed.done():
                handed.set_result(None)
        await handling

    def _keep_soon(self) -> None:
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep())

    def _forget_soon(self) -> None:
        """What was handled goes with the next click kept, or in FORGET_SECONDS on its own."""
        def due() -> None:
            self._forgetting, self._forget_due = None, True
            self._keep_soon()

        if self._forgetting is None:
            self._forgetting = asyncio.get_running_loop().call_later(FORGET_SECONDS, due)

    async def _keep(self) -> None:
        """Keep what came, and forget what was handled, together: one commit for all that
        came while the last one was being written."""
        loop = asyncio.get_running_loop()
        while self._to_keep or (self._handled and self._forget_due):
            batch, self._to_keep = self._to_keep[:AT_ONCE], self._to_keep[AT_ONCE:]
            handled, self._handled = self._handled[:AT_ONCE], self._handled[AT_ONCE:]
            self._forget_due = False
            try:
                kept = await loop.run_in_executor(self._pool, self.inbox.keep,
                                                  [event for event, _ in batch], handled)
            except Exception as error:  # noqa: BLE001 - those requests fail; the platform resends
                self._handled[:0] = handled  # forgotten with a later keeping
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                if not batch:
                    log.warning("could not forget handled events in the inbox: %s", type(error).__name__)
                    return  # they go with the next click kept
                continue
            for event, answer in batch:
                if event.event_id in kept:
                    kept.discard(event.event_id)  # the same id twice in one batch: the first is new
                    self._start(event)
                if not answer.done():
                    answer.set_result(None)
        if self._handled:
            self._forget_soon()


Hook = Callable[[web.Application], Awaitable[None]]


def sweeping(intake: Intake) -> tuple[Hook, Hook]:
    """aiohttp start-up and clean-up hooks: handle what a former server left, sweep, and
    on stopping let what is being handled finish."""
    sweeper: list[asyncio.Task[None]] = []

    async def start(_: web.Application) -> None:
        if count := await intake.handle_kept():
            log.warning("handling %s event(s) that were acknowledged before the last stop", count)
        sweeper.append(asyncio.create_task(intake.sweep()))

    async def stop(_: web.Application) -> None:
        for task in sweeper:
            task.cancel()
        await intake.drain(10)
        intake.inbox.close()

    return start, stop
