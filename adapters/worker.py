"""The outbox dispatcher on its own thread and event loop.

Its database calls (the outbox, APScheduler's job store) are synchronous; on a thread of their
own they never hold up the server's request handling. Anyone can wake it after writing to the
outbox; it also looks by itself every half second, for effects written by other processes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

from bot.dispatch import POLL_SECONDS, Dispatcher

log = logging.getLogger(__name__)


class DispatchWorker:
    def __init__(self, dispatcher: Dispatcher,
                 closing: Callable[[], Awaitable[None]] | None = None) -> None:
        self.dispatcher = dispatcher
        self._closing = closing  # as the loop ends: what the deliverers opened on it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5)

    def wake(self) -> None:
        """Deliver soon; safe from any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        self._thread.join(10)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._ready.set()
        while not self._stop.is_set():
            try:
                await self.dispatcher.drain(self._wake)
            except Exception:  # the database may be away for a moment: try again shortly
                log.exception("delivering the outbox failed")
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
        if self._closing is not None:
            await self._closing()
