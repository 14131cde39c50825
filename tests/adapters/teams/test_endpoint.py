"""POST /api/messages and GET /files/<token> through the real server (build_app), botbuilder's
CloudAdapter with authentication on, and the real service on a SQLite file.

Activities are built and signed by the loopback fake of the Microsoft side
(tests/fakes/teams_api.py), whose published keys the SDK checks them against. What Teams would
then be sent waits in the outbox, which these tests read (no adapter delivers it here).
"""

from __future__ import annotations

import html
import io
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select

from adapters.app import (
    PlatformRouter,
    Runtime,
    Store,
    open_store,
    start_runtime,
    units,
)
from adapters.config import Settings
from adapters.server import build_app
from adapters.teams import auth
from adapters.teams.app import AUTH_OFF_WARNING, file_links
from adapters.teams.files import plan_download
from adapters.teams.links import FileLinks
from bot.clock import ManualClock, SystemClock
from bot.codec import loads
from bot.effects import Effect, Post
from bot.events import Actor, Command
from bot.i18n import Translator
from bot.plan.files import Attachment
from bot.plan.workbook import MEDIA_TYPE
from bot.service import Defaults, WorkshopService
from bot.store.tables import OutboxRow, WorkshopRow
from tests.conftest import START
from tests.served import caught_up
from tests.fakes.teams_api import (
    APP_ID,
    APP_PASSWORD,
    CHANNEL,
    METTE,
    TENANT_ID,
    FakeTeamsApi,
)

PLENUM = f"teams:{CHANNEL}"
BASE_URL = "https://bot.example.dk"
OTHER_TENANT = "0c0ffee0-0000-4000-8000-0000000000b2"


# --- the setting ------------------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTeamsApi]:
    with FakeTeamsApi() as api:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", api.ca_file)  # the SDK fetches the fake's keys
        yield api


def teams_settings(tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'teams.sqlite3'}", "microsoft_app_id": APP_ID,
        "microsoft_app_password": SecretStr(APP_PASSWORD), "microsoft_app_tenant_id": TENANT_ID,
        "public_base_url": BASE_URL}
    return Settings(_env_file=None, **(values | changes))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return teams_settings(tmp_path)


@pytest.fixture
def teams_store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings.database_url)
    yield store
    store.close()


@pytest.fixture
def runtime(teams_store: Store, settings: Settings) -> Iterator[Runtime]:
    running = start_runtime(teams_store, settings, False, PlatformRouter({}))
    yield running
    running.stop()


@pytest.fixture
async def client(teams_store: Store, settings: Settings, runtime: Runtime,
                 fake: FakeTeamsApi) -> AsyncIterator[TestClient]:
    app = build_app(teams_store, settings, runtime, teams_endpoints=fake.endpoints())
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def send(client: TestClient, activity: dict[str, Any], authorization: str | None) -> int:
    """POST the activity as the Bot Connector does; the status the bot answered."""
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.post("/api/messages", json=activity, headers=headers)
    await caught_up(client)  # answered once kept; what it did is checked once it was handled
    return response.status


async def signed(client: TestClient, fake: FakeTeamsApi, activity: dict[str, Any]) -> int:
    return await send(client, activity, fake.sign_activity(activity))


def outbox(store: Store) -> list[Effect]:
    with store.sessions() as session:
        return [loads(payload) for payload in session.scalars(select(OutboxRow.payload).order_by(OutboxRow.id))]


def workshops(store: Store) -> list[WorkshopRow]:
    with store.sessions() as session:
        return list(session.scalars(select(WorkshopRow)))


def from_tenant(activity: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The same activity as Teams would send it from another organisation's tenant."""
    activity["channelData"]["tenant"]["id"] = tenant
    activity["conversation"]["tenantId"] = tenant
    return activity


# --- POST /api/messages -----------------------------------------------------------------------


async def test_a_signed_mention_creates_the_workshop_in_that_tenant_and_queues_its_setup_card(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store) -> None:
    assert await signed(client, fake, fake.channel_message("ny Fjordly")) == 201

    [workshop] = workshops(teams_store)
    assert (workshop.org, workshop.title) == (TENANT_ID, "Fjordly")
    assert workshop.facilitators == (f"teams:{METTE.id}",)
    setup = [e for e in outbox(teams_store) if isinstance(e, Post) and e.key == "setup"]
    assert [(e.conversation, e.message.blocks[0].text) for e in setup] == [  # type: ignore[union-attr]
        (PLENUM, Translator("da")("setup.heading", title="Fjordly"))]


BAD_TOKENS = {
    "unsigned": lambda f, a: None,
    "forged": lambda f, a: f.sign_activity(a, wrong_key=True),
    "tampered": lambda f, a: f.sign_activity(a, valid=False),
    "expired": lambda f, a: f.sign_activity(a, expired=True),
    "for another bot": lambda f, a: f.sign_activity(a, audience="0b0e0f00-another-bot"),
}


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_an_activity_not_signed_by_the_bot_connector_is_refused_and_changes_nothing(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store, token: Any) -> None:
    activity = fake.channel_message("ny Fjordly")

    assert await send(client, activity, token(fake, activity)) == 401

    assert workshops(teams_store) == [] and outbox(teams_store) == []


@pytest.mark.parametrize(("body", "status"), [
    ("{not json", 400), ("", 400), ("[1, 2]", 400), ('{"text": "no type"}', 400), ('"message"', 400),
    (b"\xff\xfe{}", 400),
], ids=["broken JSON", "empty", "a list", "no type", "a string", "not UTF-8"])
async def test_a_body_that_is_no_activity_is_a_bad_request_not_a_crash(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store, body: str | bytes, status: int) -> None:
    response = await client.post("/api/messages", data=body, headers={
        "Content-Type": "application/json", "Authorization": fake.sign_activity(fake.channel_message("x"))})

    assert response.status == status
    assert workshops(teams_store) == [] and outbox(teams_store) == []


async def test_a_body_that_is_not_json_at_all_is_refused_as_unsupported(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store) -> None:
    activity = fake.channel_message("ny Fjordly")
    response = await client.post("/api/messages", data="text=ny+Fjordly", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Authorization": fake.sign_activity(activity)})

    assert response.status == 415
    assert workshops(teams_store) == []


async def test_an_activity_sent_again_is_answered_but_handled_once(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store) -> None:
    await signed(client, fake, fake.channel_message("ny Fjordly"))
    status = fake.channel_message("status")
    assert await signed(client, fake, status) == 201
    answered = len(outbox(teams_store))

    assert await signed(client, fake, status) == 201  # Teams re-sends when it got no answer in time

    assert len(outbox(teams_store)) == answered
    [workshop] = workshops(teams_store)
    assert workshop.title == "Fjordly"


async def test_a_workshop_command_sent_again_makes_no_second_workshop(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store) -> None:
    activity = fake.channel_message("ny Fjordly")
    assert await signed(client, fake, activity) == 201
    created = outbox(teams_store)

    assert await signed(client, fake, activity) == 201

    assert len(workshops(teams_store)) == 1 and outbox(teams_store) == created


async def test_two_channels_posting_in_the_same_millisecond_are_both_handled(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store) -> None:
    here = fake.channel_message("ny Fjordly")
    there = fake.channel_message("ny Havbo", channel="19:another-team@thread.tacv2")
    there["id"] = here["id"]  # the same moment, in another team
    there["conversation"]["id"] = f"19:another-team@thread.tacv2;messageid={here['id']}"

    assert await signed(client, fake, here) == 201
    assert await signed(client, fake, there) == 201

    assert sorted(w.title for w in workshops(teams_store)) == ["Fjordly", "Havbo"]


async def test_another_tenant_cannot_change_the_workshop(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store) -> None:
    await signed(client, fake, fake.channel_message("ny Fjordly"))
    [before] = workshops(teams_store)
    queued = len(outbox(teams_store))

    for text in ("start", "næste", "slet"):
        assert await signed(client, fake, from_tenant(fake.channel_message(text), OTHER_TENANT)) == 201

    [after] = workshops(teams_store)
    assert (after.org, after.version, after.phase, after.title) == (TENANT_ID, before.version, before.phase, "Fjordly")
    later = outbox(teams_store)[queued:]
    assert all("Fjordly" not in repr(effect) for effect in later)  # nothing of it was shown to them
    # they were answered, as people in a channel without a workshop are
    no_workshop = Translator("da")("refuse.no_workshop")
    assert [e.message.summary for e in later[:2]] == [no_workshop, no_workshop]  # type: ignore[union-attr]


async def test_without_an_app_id_and_only_when_asked_unsigned_activities_are_accepted_loudly(
        tmp_path: Path, fake: FakeTeamsApi, caplog: pytest.LogCaptureFixture) -> None:
    settings = teams_settings(tmp_path, microsoft_app_id="", microsoft_app_password=None,
                              microsoft_app_tenant_id="")
    store = open_store(settings.database_url)
    runtime = start_runtime(store, settings, False, PlatformRouter({}))
    try:
        with caplog.at_level(logging.WARNING):
            app = build_app(store, settings, runtime, teams_without_auth=True, teams_endpoints=fake.endpoints())
        assert any(record.getMessage() == AUTH_OFF_WARNING for record in caplog.records)

        async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
            assert await send(test_client, fake.personal_message("ny Fjordly"), None) == 201

        [workshop] = workshops(store)
        assert workshop.title == "Fjordly"
        assert fake.token_requests == []  # no bot token asked for, none sent
    finally:
        runtime.stop()
        store.close()


async def test_teams_is_not_served_without_credentials_unless_asked(
        tmp_path: Path, fake: FakeTeamsApi, caplog: pytest.LogCaptureFixture) -> None:
    settings = teams_settings(tmp_path, microsoft_app_id="", microsoft_app_password=None,
                              microsoft_app_tenant_id="")
    store = open_store(settings.database_url)
    runtime = start_runtime(store, settings, False, PlatformRouter({}))
    try:
        with caplog.at_level(logging.WARNING):
            app = build_app(store, settings, runtime, teams_endpoints=fake.endpoints())
        async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
            assert await send(test_client, fake.personal_message("ny Fjordly"), None) == 404
        assert workshops(store) == []
        assert AUTH_OFF_WARNING not in caplog.text
    finally:
        runtime.stop()
        store.close()


async def test_with_authentication_on_nothing_warns_that_it_is_off(
        teams_store: Store, settings: Settings, runtime: Runtime, fake: FakeTeamsApi,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        build_app(teams_store, settings, runtime, teams_endpoints=fake.endpoints())
    assert AUTH_OFF_WARNING not in caplog.text


# --- GET /files/<token> -----------------------------------------------------------------------


def make_workshop(store: Store, title: str, language: str = "da") -> str:
    """A workshop made in Teams (as "ny <title>" would), in `language`; its id."""
    service = WorkshopService(units(store), SystemClock(), Defaults(language))
    result = service.handle(Command(event_id=f"teams:made-{title}", org=TENANT_ID, conversation=PLENUM,
                                    actor=Actor(f"teams:{METTE.id}", METTE.name), text=f"ny {title}"))
    assert result.workshop_id
    return result.workshop_id


def path_of(url: str) -> str:
    assert url.startswith(f"{BASE_URL}/files/"), url
    return url.removeprefix(BASE_URL)


def disposition(header: str) -> tuple[str, str, str]:
    """(type, filename, filename*) of a Content-Disposition, read as RFC 6266 says a browser
    does: filename* (RFC 8187: charset''percent-encoded) over the plain fallback."""
    kind, *parameters = [part.strip() for part in header.split(";")]
    found = dict(part.split("=", 1) for part in parameters)
    plain = found.get("filename", "").strip('"')
    charset, _, encoded = found.get("filename*", "''").partition("''")
    assert charset.lower() in ("utf-8", ""), charset
    return kind, plain, unquote(encoded, encoding="utf-8", errors="strict") if encoded else plain


async def test_the_plan_link_downloads_the_newest_plan_as_an_excel_file(
        client: TestClient, fake: FakeTeamsApi, settings: Settings, teams_store: Store) -> None:
    assert await signed(client, fake, fake.channel_message("ny Ærø Søhøj")) == 201
    [workshop] = workshops(teams_store)
    links = file_links(settings)
    assert links is not None

    response = await client.get(path_of(links.url(workshop.id)))

    assert response.status == 200
    assert response.content_type == MEDIA_TYPE
    kind, plain, name = disposition(response.headers["Content-Disposition"])
    assert kind == "attachment"
    assert name.endswith(".xlsx") and "aeroe-soehoej" in name  # the workshop's own name
    assert plain == name  # the name is plain ASCII, so both forms say the same
    assert response.headers["Cache-Control"] == "no-store"  # a plan is nobody else's business
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    assert book.sheetnames


async def test_a_file_name_with_danish_letters_is_sent_as_rfc_6266_says() -> None:
    """Plan names are ASCII today (a slug), but the route must not break on any other name."""
    name = "Handlingsplan – Ærø Søhøj.xlsx"

    class Files:
        def build(self, workshop_id: str) -> Attachment:
            return Attachment(name, MEDIA_TYPE, b"PK\x03\x04")

        def language_of(self, workshop_id: str) -> str:
            return "da"

    links = FileLinks(FileLinks.derive_key("secret"), BASE_URL, SystemClock())
    app = web.Application()
    app.router.add_get("/files/{token}", plan_download(links, Files(), "da"))  # type: ignore[arg-type]
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        response = await test_client.get(path_of(links.url("w1")))

        assert response.status == 200
        header = response.headers["Content-Disposition"]
        assert header.isascii()  # HTTP headers are no place for æøå as they are
        kind, plain, decoded = disposition(header)
        assert (kind, decoded) == ("attachment", name)
        assert plain.isascii() and plain.endswith(".xlsx")


async def test_a_tampered_link_is_not_found_with_a_danish_explanation(
        client: TestClient, fake: FakeTeamsApi, settings: Settings, teams_store: Store) -> None:
    await signed(client, fake, fake.channel_message("ny Fjordly"))
    [workshop] = workshops(teams_store)
    links = file_links(settings)
    assert links is not None
    path = path_of(links.url(workshop.id))
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")

    response = await client.get(tampered)

    assert response.status == 404
    assert html.escape(Translator("da")("plan_file.link_bad")) in await response.text()


async def test_a_link_to_a_workshop_that_is_gone_is_not_found(
        client: TestClient, settings: Settings) -> None:
    links = file_links(settings)
    assert links is not None

    response = await client.get(path_of(links.url("w-deleted")))

    assert response.status == 404
    assert html.escape(Translator("da")("plan_file.link_bad")) in await response.text()


@pytest.mark.parametrize("language", ["en", "da"])
async def test_an_expired_link_is_gone_and_says_so_in_the_workshops_language(
        client: TestClient, teams_store: Store, language: str) -> None:
    workshop = make_workshop(teams_store, "Fjordly", language)
    # made a week and a bit ago, with the server's key
    old = FileLinks(FileLinks.derive_key(APP_PASSWORD), BASE_URL, ManualClock(START - timedelta(days=8)))

    response = await client.get(path_of(old.url(workshop)))

    assert response.status == 410
    page = await response.text()
    assert html.escape(Translator(language)("plan_file.link_expired")) in page
    assert f'lang="{language}"' in page


async def test_a_link_of_another_server_is_not_found(client: TestClient, teams_store: Store) -> None:
    workshop = make_workshop(teams_store, "Fjordly")
    theirs = FileLinks(FileLinks.derive_key("another bot's password"), BASE_URL, SystemClock())

    response = await client.get(path_of(theirs.url(workshop)))

    assert response.status == 404


async def test_without_a_public_address_there_is_no_download_route(
        tmp_path: Path, fake: FakeTeamsApi) -> None:
    settings = teams_settings(tmp_path, public_base_url="")
    store = open_store(settings.database_url)
    runtime = start_runtime(store, settings, False, PlatformRouter({}))
    try:
        app = build_app(store, settings, runtime, teams_endpoints=fake.endpoints())
        routes = {resource.canonical for resource in app.router.resources()}
        assert "/api/messages" in routes  # Teams itself is on
        assert not any(route.startswith("/files") for route in routes)
        workshop = make_workshop(store, "Fjordly")
        someones = FileLinks(FileLinks.derive_key(APP_PASSWORD), BASE_URL, SystemClock())
        async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
            response = await test_client.get(path_of(someones.url(workshop)))
        assert response.status == 404
    finally:
        runtime.stop()
        store.close()


async def test_a_token_accepted_once_is_not_taken_for_another_service_url_or_after_it_expires(
        client: TestClient, fake: FakeTeamsApi, teams_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot remembers tokens it accepted (the Bot Connector uses one for an hour), but only
    with the channel and serviceUrl they were checked against, and only until they expire."""
    checks: list[str] = []
    check = auth._Authentication._check

    async def counted(self: Any, activity: Any, header: str) -> Any:
        checks.append(activity.service_url)
        return await check(self, activity, header)

    monkeypatch.setattr(auth._Authentication, "_check", counted)
    first = fake.channel_message("ny Fjordly")
    token = fake.sign_activity(first)
    assert await send(client, first, token) == 201
    assert await send(client, fake.channel_message("status"), token) == 201
    assert len(checks) == 1  # the second activity, same token: not checked again

    moved = {**fake.channel_message("status"), "serviceUrl": "https://attacker.example/teams/"}
    assert await send(client, moved, token) == 401  # the token names the real serviceUrl
    assert len(checks) == 2

    later = time.time() + 2 * 3600  # past the token's expiry
    monkeypatch.setattr(auth.time, "time", lambda: later)
    await send(client, fake.channel_message("status"), token)
    assert len(checks) == 3  # expired in memory: the SDK decides again
