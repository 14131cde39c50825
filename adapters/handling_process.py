"""`serve`'s engine in a process of its own: the server keeps, answers, and hands over.

Under load the engine (loading a workshop, the turn, saving it) was most of the server's
work, and on threads beside the requests it held the interpreter lock while requests waited
for it: at 100 workshops changing phase together, a click kept in the inbox waited 100 ms and
more for its answer. Here the server process only reads requests, keeps their events
(adapters/intake.py) and answers; the events go down a pipe to this process, which handles
them (adapters/batching.py, the service) and runs the timers, and sends each result back up
another pipe for what waits on it (a Slack modal's errors, a Teams form card to redraw).

Like the dispatcher (adapters/dispatch_process.py) it is forked before the server opens its
database, gives way to the server at SQLite's write lock and for the CPU, dies with the server,
and stops when its pipe closes, once what it is handling is done. An event it did not finish
is still in the inbox: the next start handles it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping
from multiprocessing.process import BaseProcess
from typing import IO, Any

from adapters.dispatch_process import STOP_SECONDS, Stop, background
from adapters.intake import Handle
from bot.codec import dumps_event, loads_event
from bot.events import Event
from bot.service import Result

log = logging.getLogger(__name__)

LINE_LIMIT = 64 * 1024 * 1024  # one event or result per line: far above any the endpoints take


class HandlingLost(ConnectionError):
    """The handling process is gone: the event is not handled (a kept one stays kept)."""


class HandlingProcess:
    """The server's handle on the handling process: `handle` as adapters.intake.handled_here."""

    def __init__(self, process: BaseProcess, to_child: int, from_child: int) -> None:
        self._process = process
        self._to_child: int | None = to_child
        self._from_child = from_child
        self._opened: asyncio.Future[asyncio.WriteTransport] | None = None
        self._waiting: dict[int, asyncio.Future[Result]] = {}
        self._numbers = iter(range(1, 1 << 62))
        self._reading: asyncio.Task[None] | None = None  # the results, as they come
        self._lost = False
        self._stopping = False

    @classmethod
    def start(cls, run: Callable[[], tuple[Handle, Stop]]) -> HandlingProcess:
        """Fork, and in the child call `run`: it opens the store there and returns how to
        handle an event and how to stop. Call this before opening any database connection."""
        events_read, events_write = os.pipe()
        results_read, results_write = os.pipe()
        process = multiprocessing.get_context("fork").Process(
            target=_child, args=(run, events_read, results_write, (events_write, results_read), os.getpid()),
            name="handling")
        process.start()
        os.close(events_read)
        os.close(results_write)
        return cls(process, events_write, results_read)

    def alive(self) -> bool:
        return not self._lost and self._process.is_alive()

    async def handle(self, event: Event) -> Result:
        if self._opened is None:
            self._opened = asyncio.ensure_future(self._open())
        writer = await asyncio.shield(self._opened)
        if self._lost:  # checked after the wait: once lost, nothing reads the answers any more
            raise HandlingLost("the handling process has stopped")
        number = next(self._numbers)
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        writer.write(f"{number}\t{dumps_event(event)}\n".encode("ascii"))
        try:
            return await answer
        finally:
            self._waiting.pop(number, None)

    async def _open(self) -> asyncio.WriteTransport:
        loop = asyncio.get_running_loop()
        assert self._to_child is not None
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     os.fdopen(self._from_child, "rb", buffering=0))
        writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(self._to_child, "wb", buffering=0))
        self._to_child = None  # the transport owns it now
        self._reading = loop.create_task(self._read(reader))
        return writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            number, _, text = line.decode("ascii").rstrip("\n").partition("\t")
            answer = self._waiting.get(int(number))
            if answer is not None and not answer.done():
                _settle(answer, json.loads(text))
        self._lost = True  # it stopped, or died: nothing sent to it will be answered
        if not self._stopping:
            log.error("the handling process died; what it did not handle is kept for the next start")
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(HandlingLost("the handling process stopped"))

    async def stop(self) -> None:
        """Close its pipe, and wait for it to finish what it is handling."""
        self._stopping = True
        if self._opened is not None:
            (await asyncio.shield(self._opened)).close()
        elif self._to_child is not None:  # never used: its pipes were never handed to the loop
            os.close(self._to_child)
            os.close(self._from_child)
        self._to_child = None
        await asyncio.to_thread(self._process.join, STOP_SECONDS)
        if self._process.is_alive():
            log.warning("the handling process did not stop in %s s; killing it", STOP_SECONDS)
            self._process.kill()
            await asyncio.to_thread(self._process.join)


def _settle(answer: asyncio.Future[Result], sent: Mapping[str, Any]) -> None:
    if "failed" in sent:
        answer.set_exception(RuntimeError(f"handling failed: {sent['failed']}"))
    else:
        answer.set_result(Result(workshop_id=sent["workshop"], duplicate=sent["duplicate"],
                                 form_errors=sent["errors"]))


def _encoded(result: Result) -> str:
    return json.dumps({"workshop": result.workshop_id, "duplicate": result.duplicate,
                       "errors": dict(result.form_errors)}, ensure_ascii=True)


# --- in the child ----------------------------------------------------------------------------

def _child(run: Callable[[], tuple[Handle, Stop]], events: int, results: int,
           parents: tuple[int, ...], parent: int) -> None:
    for end in parents:
        os.close(end)  # or the pipes would never close while this process lives
    background(parent)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the server stops us, by closing the pipe
    handle, stop = run()
    try:
        asyncio.run(_serve(handle, events, os.fdopen(results, "wb")))
    finally:
        stop()


async def _serve(handle: Handle, events: int, results: IO[bytes]) -> None:
    """Handle each event that comes down the pipe, and send its result back, until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(events, "rb", buffering=0))
    busy: set[asyncio.Task[None]] = set()

    async def one(number: str, text: str) -> None:
        try:
            sent = _encoded(await handle(loads_event(text)))
        except Exception as error:  # noqa: BLE001 - the server's request fails; a kept event stays
            log.exception("an event could not be handled")
            sent = json.dumps({"failed": type(error).__name__})
        results.write(f"{number}\t{sent}\n".encode("ascii"))  # small; the server reads all the time
        results.flush()

    while line := await reader.readline():
        number, _, text = line.decode("ascii").rstrip("\n").partition("\t")
        task = loop.create_task(one(number, text))
        busy.add(task)
        task.add_done_callback(busy.discard)
    if busy:
        await asyncio.wait(busy, timeout=STOP_SECONDS)
