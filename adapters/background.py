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

from adapters.app import open_store, platforms, start_runtime
from adapters.batching import Batcher
from adapters.config import Settings
from adapters.dispatch_process import DispatchProcess, can_fork
from adapters.handling_process import HandlingProcess
from adapters.intake import Handle, handled_here

if TYPE_CHECKING:
    from adapters.teams.auth import Endpoints

log = logging.getLogger("ambition-bot")
Stop = Callable[[], None]


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
    store = open_store(serving.settings.database_url, migrate=False, owner=serving.owner)
    runtime = start_runtime(store, serving.settings, False, public_url=serving.public_url,
                            deliver_to=platforms(store, serving.settings, serving.teams_without_auth,
                                                 teams_endpoints=serving.teams_endpoints))

    def stop() -> None:
        runtime.stop()
        store.close()

    return runtime.worker.wake, stop


@dataclass(frozen=True)
class _Waking:
    """The dispatcher, to a process that only wakes it: the server stops it."""

    wake: Callable[[], None]

    def stop(self) -> None:
        pass


def _handle_here(serving: Serving, scheduler: bool, dispatcher: DispatchProcess) -> tuple[Handle, Stop]:
    """In the handling process (adapters/handling_process.py): the service, and the timers."""
    store = open_store(serving.settings.database_url, migrate=False, owner=serving.owner)
    runtime = start_runtime(store, serving.settings, scheduler, public_url=serving.public_url,
                            worker=_Waking(dispatcher.wake))
    if scheduler:
        log.info("timers: running in the handling process (%s restored)", runtime.restored)

    def stop() -> None:
        runtime.stop()
        store.close()

    return handled_here(Batcher(runtime.service), runtime.worker.wake), stop
