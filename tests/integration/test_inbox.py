"""The inbox: what a server answered and has not handled yet, kept on a connection of its own.

A click is answered once it is kept here, so a keeping that fails is a click the person sees
fail. The inbox keeps its connection open between clicks; a database that drops it (restarted,
or an operator ending idle sessions) must not fail the next click.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from adapters.app import Store, open_store
from bot.events import Action, Actor
from bot.store.database import connect
from bot.store.inbox import SqlInbox
from tests.conftest import _postgres_url
from tests.databases import throwaway_schema


def click(n: int) -> Action:
    return Action(event_id=f"click-{n}", org="slack:T1", conversation="slack:C1",
                  actor=Actor("slack:U1", "Mette"), workshop_id="ws-1", action="vote",
                  args={"measure": "E1", "level": "mellem"})


def test_what_is_kept_waits_in_order_until_it_is_forgotten(store: Store) -> None:
    inbox = SqlInbox.beside(store.engine)
    try:
        assert inbox.keep([click(1), click(2)]) == {"click-1", "click-2"}
        assert inbox.keep([click(2), click(3)], handled=["click-1"]) == {"click-3"}  # 2: sent again
        assert [event.event_id for event in inbox.waiting()] == ["click-2", "click-3"]
        assert inbox.waiting()[0] == click(2)
        inbox.keep([], handled=["click-2", "click-3"])
        assert inbox.count() == 0
    finally:
        inbox.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with throwaway_schema(_postgres_url()) as url:
        yield url


def test_a_click_is_kept_after_postgresql_dropped_the_inbox_connection(postgres_url: str) -> None:
    name = f"inbox-{uuid.uuid4().hex[:12]}"  # this test's sessions, apart from any other's
    store = open_store(f"{postgres_url}&application_name={name}")
    admin = connect(postgres_url)
    inbox = SqlInbox.beside(store.engine)
    try:
        inbox.keep([click(1)])
        with admin.begin() as connection:
            ended = connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                            "WHERE application_name = :name"), {"name": name})
            assert True in ended.scalars().all()
        assert inbox.keep([click(2)], handled=["click-1"]) == {"click-2"}
        assert [event.event_id for event in inbox.waiting()] == ["click-2"]
    finally:
        inbox.close()
        store.close()
        admin.dispose()
