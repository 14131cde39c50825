"""The action plan in a personal chat: Teams' file consent flow, through the real endpoint.

The bot offers the file (a FileConsentCard); when the person allows it, Teams sends an invoke
with an upload session in their OneDrive; the bot puts the workbook there and shows it as a
file card. All of it against the loopback fake of Microsoft's side.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select

from adapters.app import (
    Runtime,
    Store,
    open_store,
    platforms,
    start_runtime,
)
from adapters.config import Settings
from adapters.server import build_app
from bot.effects import SendFile
from bot.store.tables import WorkshopRow
from bot.store.uow import SqlUnitOfWork
from bot.ui import Message, Text
from tests.fakes.teams_api import APP_ID, APP_PASSWORD, METTE, TENANT_ID, FakeTeamsApi

CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTeamsApi]:
    with FakeTeamsApi() as api:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", api.ca_file)
        yield api


@pytest.fixture
async def served(tmp_path: Path, fake: FakeTeamsApi) -> AsyncIterator[tuple[TestClient, Store, Runtime]]:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'teams.sqlite3'}",
                        microsoft_app_id=APP_ID, microsoft_app_password=SecretStr(APP_PASSWORD),
                        microsoft_app_tenant_id=TENANT_ID)
    store = open_store(settings.database_url)
    runtime = start_runtime(store, settings, False,
                            deliver_to=platforms(store, settings, teams_endpoints=fake.endpoints()))
    app = build_app(store, settings, runtime, teams_endpoints=fake.endpoints())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, store, runtime
    runtime.stop()
    store.close()


async def send(client: TestClient, fake: FakeTeamsApi, activity: dict[str, Any]) -> int:
    response = await client.post("/api/messages", json=activity,
                                 headers={"Authorization": fake.sign_activity(activity)})
    assert response.status in (200, 201), await response.text()
    return response.status


async def settle(store: Store) -> None:
    for _ in range(300):
        if store.outbox.backlog() == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox did not empty")


async def test_the_plan_goes_into_the_persons_onedrive_when_they_allow_it(
        served: tuple[TestClient, Store, Runtime], fake: FakeTeamsApi) -> None:
    client, store, runtime = served
    await send(client, fake, fake.channel_message("ny Fjordly"))  # a workshop to build a plan of
    await send(client, fake, fake.personal_message("hjælp"))  # the 1:1 chat becomes known
    await settle(store)
    workshop_id = only_workshop(store)
    chat = fake.personal_conversation_id(METTE)
    with SqlUnitOfWork(store.sessions) as uow:
        uow.add_effects(workshop_id, [SendFile("teams:" + chat, workshop_id, Message((Text("Planen"),), "Planen"))],
                        runtime.clock.now())
        uow.commit()
    runtime.worker.wake()
    await settle(store)

    [offer] = [p for p in fake.shown(chat)
               if p.activity.get("attachments", [{}])[0].get("contentType") == CONSENT]
    card = offer.activity["attachments"][0]
    assert card["name"].endswith(".xlsx") and card["content"]["sizeInBytes"] > 0

    status = await send(client, fake, fake.file_consent_accepted(
        reply_to_id=offer.id, context=card["content"]["acceptContext"], name=card["name"]))

    assert status == 200  # the invoke's answer: Teams shows no error to the person
    workbook = openpyxl.load_workbook(io.BytesIO(fake.uploads[card["name"]]))
    assert workbook.sheetnames  # a real workbook went to OneDrive
    shown = fake.shown(chat)
    [info] = [p for p in shown if p.activity.get("attachments", [{}])[0].get("contentType") == FILE_INFO]
    assert info.activity["attachments"][0]["name"] == card["name"]


def only_workshop(store: Store) -> str:
    with store.sessions() as session:
        return str(session.scalars(select(WorkshopRow.id)).one())
