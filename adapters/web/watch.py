"""Which watched workshops changed: one poll of the database for every board that is open.

The board must follow changes made by any process (and still after a restart), so it asks
the database, not this process's memory: every `interval` one query reads the version of
each workshop someone is watching, and a workshop whose version moved is loaded once and
handed to all of its streams. A clock that jumps (the console's `ff`) wakes them too, so
every screen's countdown agrees with the server again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import ManualClock, ScaledClock
from bot.domain.model import Workshop
from bot.ports import Clock

log = logging.getLogger("ambition-bot.board")
INTERVAL = 0.25  # seconds between polls: a change reaches the screens within about this
JUMP = 1.0  # seconds the clock may differ from its steady course before the screens hear of it


class Closing:
    """The server is stopping: streams end, and browsers reconnect to its successor."""


Versions = Callable[[Collection[str]], Mapping[str, int]]
Loader = Callable[[str], Workshop | None]
Update = Workshop | None | Closing  # None: the workshop is gone


def rate_of(clock: Clock) -> float:
    """How many workshop seconds pass per real second: 0 for a clock moved by hand."""
    if isinstance(clock, ScaledClock):
        return clock.scale
    if isinstance(clock, ManualClock):
        return 0.0
    return 1.0


@dataclass
class _Watched:
    version: int | None = None
    workshop: Workshop | None = None
    queues: set[asyncio.Queue[Update]] = field(default_factory=set)


def _offer(queue: asyncio.Queue[Update], item: Update) -> None:
    """Only the newest state matters: one that was not read yet is replaced."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


class BoardWatch:
    def __init__(self, versions: Versions, load: Loader, clock: Clock, interval: float = INTERVAL) -> None:
        self._versions = versions
        self._load = load
        self._clock = clock
        self._rate = rate_of(clock)
        self.interval = interval
        self._watched: dict[str, _Watched] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failing = False

    @property
    def rate(self) -> float:
        return self._rate

    @asynccontextmanager
    async def subscribe(self, workshop_id: str) -> AsyncIterator[asyncio.Queue[Update]]:
        """A queue that holds the workshop as it is now, then each newer state."""
        queue: asyncio.Queue[Update] = asyncio.Queue(maxsize=1)
        watched = self._watched.setdefault(workshop_id, _Watched())
        watched.queues.add(queue)
        try:
            if self._closed:
                _offer(queue, Closing())
            else:
                workshop = await asyncio.to_thread(self._load, workshop_id)
                if watched.version is None or (workshop and workshop.version > watched.version):
                    watched.version = workshop.version if workshop else None
                    watched.workshop = workshop
                _offer(queue, workshop)
                if self._task is None or self._task.done():
                    self._task = asyncio.create_task(self._run(), name="board-watch")
            yield queue
        finally:
            watched.queues.discard(queue)
            if not watched.queues and self._watched.get(workshop_id) is watched:
                del self._watched[workshop_id]

    async def close(self) -> None:
        self._closed = True
        for watched in self._watched.values():
            for queue in watched.queues:
                _offer(queue, Closing())
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        last_now, last_real = self._clock.now(), time.monotonic()
        while self._watched and not self._closed:
            await asyncio.sleep(self.interval)
            await self._poll()
            now, real = self._clock.now(), time.monotonic()
            expected = last_now + timedelta(seconds=(real - last_real) * self._rate)
            if abs((now - expected).total_seconds()) > JUMP:
                for watched in list(self._watched.values()):
                    self._tell(watched, watched.workshop)
            last_now, last_real = now, real

    async def _poll(self) -> None:
        ids = list(self._watched)
        try:
            found = await asyncio.to_thread(self._versions, ids)
        except Exception as error:  # noqa: BLE001 - the database is away: the screens keep what they show
            if not self._failing:
                log.warning("board: cannot read the workshops (%s); trying again", type(error).__name__)
            self._failing = True
            return
        self._failing = False
        for workshop_id in ids:
            watched = self._watched.get(workshop_id)
            version = found.get(workshop_id)
            if watched is None or version == watched.version:
                continue
            try:
                workshop = await asyncio.to_thread(self._load, workshop_id) if version is not None else None
            except Exception:  # noqa: BLE001 - as above; the next poll tries again
                continue
            watched.version = workshop.version if workshop else None
            watched.workshop = workshop
            self._tell(watched, workshop)

    @staticmethod
    def _tell(watched: _Watched, item: Update) -> None:
        for queue in list(watched.queues):
            _offer(queue, item)
