"""The process's cache of workshops: what it serves is always what the database holds.

Handlers read a whole workshop for every event; the cache spares reading its records again
when the row's version says nothing changed. A cached workshop must equal a fresh load, and a
change made by another process (another Store on the same database) must never be hidden.
"""

from __future__ import annotations

from pathlib import Path

from adapters.app import Store, build_service, open_store
from adapters.config import Settings
from bot.clock import ManualClock
from bot.domain.model import Workshop
from bot.store.uow import SqlUnitOfWork
from tests.conftest import START
from tests.integration.test_batching import click, phase_one


def fresh(store: Store, workshop_id: str) -> Workshop | None:
    with SqlUnitOfWork(store.sessions) as uow:  # no cache: every record read from the database
        return uow.workshops.get(workshop_id)


def cached(store: Store, workshop_id: str) -> Workshop | None:
    with SqlUnitOfWork(store.sessions, store.workshops) as uow:
        return uow.workshops.get(workshop_id)


def test_the_cached_workshop_is_the_one_the_database_holds(store: Store, tmp_path: Path) -> None:
    service, button = phase_one(store, tmp_path)
    workshop_id = button.args["workshop"]
    for n in range(5):
        service.handle(click(button, n))

    assert cached(store, workshop_id) == fresh(store, workshop_id)
    loaded = fresh(store, workshop_id)
    assert loaded is not None and len(loaded.members) >= 5


def test_a_change_by_another_process_is_never_hidden(store: Store, tmp_path: Path,
                                                     database_url: str) -> None:
    service, button = phase_one(store, tmp_path)
    workshop_id = button.args["workshop"]
    before = cached(store, workshop_id)  # this process now has it cached
    other = open_store(database_url)
    try:
        build_service(other, ManualClock(START), Settings(_env_file=None)).handle(click(button, 99))
    finally:
        other.close()

    after = cached(store, workshop_id)
    assert after is not None and after != before and after == fresh(store, workshop_id)
    assert "slack:U99" in after.members
