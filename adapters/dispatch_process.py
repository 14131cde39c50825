"""`serve`'s outbox dispatcher in a process of its own.

Delivering is most of what the server does under load: rendering cards, the platforms' SDKs,
the outbox's bookkeeping. On a thread beside the requests it shared their interpreter lock,
and people's clicks waited for it: at 100 workshops (bench/load.py, 2 minutes) the p99 of
an answer outside the half-time burst was 158 ms with the dispatcher on a thread, 81 ms with
it in a process of its own.

The process is forked before the server opens its database, so it starts from the same
configuration (and whatever a test harness set up in the parent), and opens connections of
its own. The parent wakes it by writing a byte down a pipe; when the pipe closes (the parent
stopped, or died), it stops. On Linux it also dies with its parent at once, so that a killed
server never leaves a dispatcher behind that would deliver beside the next one.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.process import BaseProcess

from bot.store.database import give_way

log = logging.getLogger(__name__)

STOP_SECONDS = 15  # the dispatcher finishes what it is sending (its own stop waits 10 s)
PR_SET_PDEATHSIG = 1
NICENESS = 5  # below the server's requests for the CPU (os.nice)

Wake = Callable[[], None]
Stop = Callable[[], None]


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class DispatchProcess:
    """The parent's handle on the dispatcher process: `wake` and `stop`, as DispatchWorker."""

    def __init__(self, process: BaseProcess, pipe: int) -> None:
        self._process = process
        self._pipe: int | None = pipe
        self._closing = threading.Lock()  # no wake writes to the pipe's number once it is closed

    @classmethod
    def start(cls, run: Callable[[], tuple[Wake, Stop]]) -> DispatchProcess:
        """Fork, and in the child call `run`: it starts a dispatcher there and returns how to
        wake and stop it. Call this before opening any database connection."""
        read, write = os.pipe()
        process = multiprocessing.get_context("fork").Process(
            target=_child, args=(run, read, write, os.getpid()), name="dispatcher")
        process.start()
        os.close(read)
        os.set_blocking(write, False)
        return cls(process, write)

    def wake(self) -> None:
        """Deliver soon; safe from any thread."""
        with self._closing, contextlib.suppress(BlockingIOError, BrokenPipeError):  # full: awake already
            if self._pipe is not None:
                os.write(self._pipe, b".")

    def alive(self) -> bool:
        return self._process.is_alive()

    def stop(self) -> None:
        with self._closing:
            if self._pipe is not None:
                os.close(self._pipe)
                self._pipe = None
        self._process.join(STOP_SECONDS)
        if self._process.is_alive():
            log.warning("the dispatcher process did not stop in %s s; killing it", STOP_SECONDS)
            self._process.kill()
            self._process.join()


def _child(run: Callable[[], tuple[Wake, Stop]], read: int, write: int, parent: int) -> None:
    os.close(write)  # or the pipe would never close while this process lives
    background(parent)
    wake, stop = run()
    try:
        with os.fdopen(read, "rb", buffering=0) as pipe:
            while pipe.read(512):
                wake()
    finally:
        stop()


def background(parent: int) -> None:
    """A process that works for the server `parent`: it dies with it, and gives way to it."""
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops us
    give_way()  # to the server's requests, at SQLite's write lock
    # And for the CPU: when both cores are busy, a click waiting for its answer goes first,
    # and the work it started (handling, delivering) takes the time that is left.
    with contextlib.suppress(OSError):
        os.nice(NICENESS)


def _die_with(parent: int) -> None:
    """SIGKILL this process when its parent dies (Linux' prctl; elsewhere the closed pipe
    stops it, a moment later)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)
