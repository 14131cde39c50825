"""The processes `serve` works with: one delivering the outbox, one handling events and timers.

Both are forked before the server opens its database, the dispatcher first, so that the
handling process can wake it for the effects it writes. Where a process cannot fork, the
server does both on threads of its own (neither is returned).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.app import Platforms, Runtime, Store, Worker, open_store, platforms, start_runtime
from adapters.batching import Batcher
from adapters.config import Settings
from adapters.dispatch_process import DispatchProcess, Stop, can_fork
from adapters.handling_process import HandlingProcess
from adapters.intake import Handle, handled_here

if TYPE_CHECKING:
    from adapters.teams.auth import Endpoints

log = logging.getLogger("ambition-bot")


@dataclass(frozen=True)
class Serving:
    """Where the processes reach the database and the people: as the server."""

    settings: Settings
    owner: str  # the outbox's claims are taken under the server's name
    public_url: str
    teams_without_auth: bool = False
    teams_endpoints: Endpoints | None = None  # Microsoft's login URLs (the soaks' and benches' fake)


def start_background(serving: Serving, scheduler: bool) -> tuple[DispatchProcess | None, HandlingProcess | None]:
    """The dispatcher and the handling process (which runs the timers if `scheduler`)."""
    if not can_fork():
        return None, None
    dispatcher = DispatchProcess.start(lambda: _dispatch_here(serving))
    handling = HandlingProcess.start(lambda: _handle_here(serving, scheduler, dispatcher))
    return dispatcher, handling


def _dispatch_here(serving: Serving) -> tuple[Callable[[], None], Stop]:
    """In the dispatcher's process (adapters/dispatch_process.py): the outbox delivered under
    serve's name, so a restarted server takes its claims over at once; the timers it meets
    are scheduled in the database, for the process that runs them."""
    runtime, stop = _started(serving, False, deliver_to=lambda store: platforms(
        store, serving.settings, serving.teams_without_auth, teams_endpoints=serving.teams_endpoints))
    return runtime.worker.wake, stop


@dataclass(frozen=True)
class _Waking:
    """The dispatcher, to a process that only wakes it: the server stops it."""

    wake: Callable[[], None]

    def stop(self) -> None:
        pass


def _handle_here(serving: Serving, scheduler: bool, dispatcher: DispatchProcess) -> tuple[Handle, Stop]:
    """In the handling process (adapters/handling_process.py): the service, and the timers."""
    runtime, stop = _started(serving, scheduler, worker=_Waking(dispatcher.wake))
    if scheduler:
        log.info("timers: running in the handling process (%s restored)", runtime.restored)
    return handled_here(Batcher(runtime.service), runtime.worker.wake), stop


def _started(serving: Serving, scheduler: bool, *, worker: Worker | None = None,
             deliver_to: Callable[[Store], Platforms] | None = None) -> tuple[Runtime, Stop]:
    """This process's own store and runtime, and how to stop both."""
    store = open_store(serving.settings.database_url, migrate=False, owner=serving.owner)
    runtime = start_runtime(store, serving.settings, scheduler, public_url=serving.public_url, worker=worker,
                            deliver_to=deliver_to(store) if deliver_to else None)

    def stop() -> None:
        runtime.stop()
        store.close()

    return runtime, stop
