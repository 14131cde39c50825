"""Clicks on one workshop that arrive together are handled together.

A plenum of people placing dots at the same moment would otherwise queue for the workshop's
row lock one by one, each loading the whole workshop. Here the events for one workshop that
are waiting when its turn comes go to the service as one batch (one load, one commit), and
each request still gets its own answer. Buttons and forms name their workshop; typed commands
go with the workshop their conversation's last command was for, or else by conversation (the
service keeps a batch to one workshop either way). Queued by workshop, a workshop's events
are handled in the order they came.

A form's submission is the one event somebody waits for (its answer carries the form's
errors); the rest were answered once kept (adapters/intake.py). So a batch with a form in it
goes to threads of its own, not behind the backlog of every other workshop: when a hundred
workshops changed phase at once, forms waited for all of it (bench/load.py: p99 0.5-0.8 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from bot.events import Event, FormSubmitted
from bot.service import Result, WorkshopService

log = logging.getLogger(__name__)

MAX_BATCH = 50
# Threads for the batches nobody waits for, and for those with a form in them. Few: the work
# is the interpreter's and, on SQLite, one writer's at a time; more threads only took turns.
BACKGROUND_THREADS = 3
WAITED_FOR_THREADS = 2
MAX_PLACES = 10_000  # conversations whose workshop is remembered; the least recent go first


class Batcher:
    def __init__(self, service: WorkshopService) -> None:
        self.service = service
        self._waiting: dict[str, list[tuple[Event, asyncio.Future[Result]]]] = {}
        # Which workshop each conversation's commands were for: its commands and its buttons
        # then queue together, and are handled in the order they came.
        self._workshop_of: OrderedDict[str, str] = OrderedDict()
        self._background = ThreadPoolExecutor(BACKGROUND_THREADS, thread_name_prefix="handling")
        self._waited_for = ThreadPoolExecutor(WAITED_FOR_THREADS, thread_name_prefix="handling-form")

    async def handle(self, event: Event) -> Result:
        place = _place(event)
        key = event.workshop_id or self._workshop_of.get(place) or place
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if key in self._waiting:  # a batch for this workshop is forming or running: join the next
            self._waiting[key].append((event, answer))
        else:
            self._waiting[key] = [(event, answer)]
            asyncio.create_task(self._run(key))
        return await answer

    async def _run(self, key: str) -> None:
        # Everything between checking the queue and removing it happens without an await, so an
        # event is never left in a queue that nobody runs.
        while batch := self._waiting[key][:MAX_BATCH]:
            del self._waiting[key][:len(batch)]
            await self._handle(batch)
        del self._waiting[key]

    async def _handle(self, batch: list[tuple[Event, asyncio.Future[Result]]]) -> None:
        loop = asyncio.get_running_loop()
        waited_for = any(isinstance(event, FormSubmitted) for event, _ in batch)
        threads = self._waited_for if waited_for else self._background
        try:
            results = await loop.run_in_executor(threads, self.service.handle_batch, [event for event, _ in batch])
        except Exception:  # noqa: BLE001 - one bad event must not fail the others: one by one
            log.warning("a batch of %s events failed; handling them one by one", len(batch))
            for event, answer in batch:
                try:
                    _answer(answer, await loop.run_in_executor(threads, self.service.handle, event))
                except Exception as error:  # noqa: BLE001 - that request answers with an error
                    if not answer.done():
                        answer.set_exception(error)
            return
        for (event, answer), result in zip(batch, results, strict=True):
            self._learn(event, result)
            _answer(answer, result)

    def _learn(self, event: Event, result: Result) -> None:
        if result.workshop_id and event.conversation:
            place = _place(event)
            self._workshop_of[place] = result.workshop_id
            self._workshop_of.move_to_end(place)
            if len(self._workshop_of) > MAX_PLACES:
                self._workshop_of.popitem(last=False)


def _place(event: Event) -> str:
    return f"{event.org}\n{event.conversation}"


def _answer(answer: asyncio.Future[Result], result: Result) -> None:
    """The request's answer, unless it was given up (its handler cancelled: the connection went,
    the server is stopping). Setting that one raised, out of the loop of the workshop's batches,
    and every click on the workshop after it waited for ever."""
    if not answer.done():
        answer.set_result(result)
