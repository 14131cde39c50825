"""A click is answered as soon as it is kept, not once its workshop has been saved, and what
was answered is never lost: a server that dies before handling it handles it when it starts
again (adapters/intake.py)."""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
from collections.abc import Sequence

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.exc import OperationalError

from adapters.server import INTAKE, build_app
from bot.events import Event
from bot.service import Result, WorkshopService
from bot.store.inbox import SqlInbox
from tests.adapters.slack.conftest import Served, signed
from tests.adapters.slack.test_endpoint import command, workshops
from tests.served import caught_up


@pytest.fixture
def slack_database(database_url: str) -> str:
    """On SQLite, whose inbox is a database beside the main one, and on PostgreSQL."""
    return database_url


async def test_a_command_is_answered_while_its_workshop_is_still_being_saved(
        client: TestClient, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    held, entered = threading.Event(), threading.Event()
    handle_batch = WorkshopService.handle_batch

    def slow(self: WorkshopService, events: Sequence[Event]) -> list[Result]:
        entered.set()
        held.wait(10)  # the database's one writer is busy elsewhere
        return handle_batch(self, events)

    monkeypatch.setattr(WorkshopService, "handle_batch", slow)
    answer = asyncio.create_task(client.post("/slack/events", data=_body("ny Fjordly"),
                                             headers=_headers("ny Fjordly")))
    status = (await asyncio.wait_for(answer, 5)).status
    assert status == 200 and await asyncio.to_thread(entered.wait, 5)
    assert workshops(served[0]) == []  # answered before it was handled
    held.set()
    await caught_up(client)
    assert [w.title for w in workshops(served[0])] == ["Fjordly"]


async def test_a_command_answered_by_a_server_that_failed_to_handle_it_is_handled_at_the_next_start(
        client: TestClient, served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    store, runtime, config = served

    def database_gone(self: WorkshopService, events: Sequence[Event]) -> list[Result]:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    with monkeypatch.context() as patch:
        patch.setattr(WorkshopService, "handle_batch", database_gone)
        patch.setattr(WorkshopService, "handle", lambda self, event: database_gone(self, [event]))
        assert await command(client, "ny Fjordly") == 200
    inbox = SqlInbox.beside(store.engine)
    assert workshops(store) == [] and inbox.count() == 1
    inbox.close()
    ready = await (await client.get("/readyz")).json()
    assert ready["inbox"] == {"waiting": 1}  # an operator sees it waiting

    # The next server on the same database handles it as it starts, once.
    async with TestClient(TestServer(build_app(store, config, runtime), host="127.0.0.1")) as again:
        await caught_up(again)
        assert [w.title for w in workshops(store)] == ["Fjordly"]
        assert again.app is not None
        await _emptied(again.app[INTAKE].inbox)


async def _emptied(inbox: SqlInbox, timeout: float = 5) -> None:
    """Until a handled event has left the inbox (it goes with the next click kept, or within
    FORGET_SECONDS): an operator sees nothing waiting any more."""
    async with asyncio.timeout(timeout):
        while await asyncio.to_thread(inbox.count):
            await asyncio.sleep(0.05)


def _body(text: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": "U1", "user_name": "mette",
        "command": "/ambition", "text": text, "trigger_id": "trigger-1",
        "response_url": "http://127.0.0.1:1/r"})


def _headers(text: str) -> dict[str, str]:
    return signed(_body(text), "application/x-www-form-urlencoded")


async def test_events_are_handed_over_in_the_order_they_were_kept_however_long_each_takes_to_complete(
        tmp_path: object) -> None:
    """Slack's display name is asked once an event is answered (Intake.complete): the first
    click of someone Slack is slow to name must still be handled before the clicks after it,
    as `næste` before the dots placed in the next phase."""
    from adapters.intake import Intake
    from bot.events import Action, Actor
    from bot.store.database import connect

    handed: list[str] = []

    async def handle(event: Event) -> Result:
        handed.append(event.event_id)
        return Result()

    async def complete(event: Event) -> Event:
        await asyncio.sleep(0.3 if event.actor.id == "slack:U-new" else 0)  # Slack asked, slowly
        return event

    inbox = SqlInbox.beside(connect(f"sqlite:///{tmp_path}/order.sqlite3"))
    intake = Intake(handle, inbox)
    intake.complete = complete
    people = ["slack:U-new", "slack:U-known", "slack:U-known", "slack:U-new", "slack:U-known"]
    clicks = [Action(event_id=f"click-{n}", org="T1", conversation="C1", actor=Actor(who, who),
                     workshop_id="ws-1", action="vote") for n, who in enumerate(people)]
    try:
        for click in clicks:
            await intake.take(click)
        while intake.pending():
            await asyncio.sleep(0.02)
        assert handed == [click.event_id for click in clicks]
    finally:
        await intake.drain(5)
        inbox.close()
