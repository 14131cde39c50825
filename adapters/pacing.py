"""Pacing per conversation: platforms take only so many messages a second in one place."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Pacer:
    """Spaces the messages to one channel by `interval` seconds, end of one to start of the
    next: Slack takes about one message a second per channel, Teams about two a thread
    (60 in 30 seconds), and both answer bursts with 429."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    @asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        async with self._locks.setdefault(channel, asyncio.Lock()):
            wait = self._last.get(channel, float("-inf")) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:  # a refused message counts too: Slack saw it
                self._last[channel] = time.monotonic()
