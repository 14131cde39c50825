"""The real botbuilder CloudAdapter with authentication on (single tenant), run against the
loopback fake of the Microsoft side (tests/fakes/teams_api.py): inbound JWTs checked against the
fake's keys, outbound tokens from the fake's Entra ID, replies to the fake's Bot Connector.

Every outbound connection of the process is watched: anything but loopback is refused and the
test fails, so the SDK provably never reaches Microsoft.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
import pytest
from aiohttp import ClientSession, web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes, Attachment, ConversationReference

from adapters.teams.auth import bot_authentication
from tests.fakes.teams_api import (
    APP_ID,
    APP_PASSWORD,
    CHANNEL,
    METTE,
    TENANT_ID,
    FakeTeamsApi,
)

LOOPBACK = ("127.0.0.1", "::1", "localhost")
CONNECTOR_ROUTES = ("send", "reply", "update", "delete", "create", "members", "member")


class EchoBot(ActivityHandler):
    """Answers "echo: <text>", and keeps every turn and where it happened."""

    def __init__(self) -> None:
        self.turns: list[Activity] = []
        self.references: list[ConversationReference] = []

    async def on_turn(self, turn_context: TurnContext) -> None:
        self.turns.append(turn_context.activity)
        self.references.append(TurnContext.get_conversation_reference(turn_context.activity))
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        text = (TurnContext.remove_recipient_mention(turn_context.activity) or "").strip()  # a submit has none
        await turn_context.send_activity(f"echo: {text}")


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket of this process connects to; anything but loopback is refused,
    and host names other than loopback are not even resolved."""
    seen: list[Any] = []
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        seen.append(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            raise ConnectionRefusedError(f"the test refuses to connect to {address}")
        return connect(sock, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            seen.append((name, "resolve"))
            raise socket.gaierror(f"the test refuses to resolve {name}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    return seen


@pytest.fixture
def fake(connections: list[Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTeamsApi]:
    with FakeTeamsApi() as api:
        # requests (under MSAL, msrest and the SDK's key fetch) trusts the fake, and only it
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", api.ca_file)
        yield api


def adapter_for(fake: FakeTeamsApi, app_id: str = APP_ID, password: str = APP_PASSWORD,
                tenant_id: str = TENANT_ID) -> CloudAdapter:
    return CloudAdapter(bot_authentication(app_id, password, tenant_id, fake.endpoints()))


@asynccontextmanager
async def bot_server(adapter: CloudAdapter, bot: EchoBot) -> AsyncIterator[str]:
    """The bot's messaging endpoint on loopback, as adapters/teams will serve it."""
    async def messages(request: web.Request) -> web.StreamResponse:
        return await adapter.process(request, bot) or web.Response(status=200)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/messages"
    finally:
        await runner.cleanup()


async def deliver(url: str, activity: dict[str, Any], authorization: str | None) -> int:
    """POST an activity as the Bot Connector does; the HTTP status the bot answered."""
    headers = {"Authorization": authorization} if authorization else {}
    async with ClientSession() as session, session.post(url, json=activity, headers=headers) as response:
        return response.status


def connector_calls(fake: FakeTeamsApi) -> list[str]:
    return [call.route for call in fake.calls if call.route in CONNECTOR_ROUTES]


async def test_a_signed_activity_is_answered_with_a_token_the_fake_issued(
        fake: FakeTeamsApi, connections: list[Any]) -> None:
    bot = EchoBot()
    activity = fake.channel_message("hej med dig")
    async with bot_server(adapter_for(fake), bot) as url:
        status = await deliver(url, activity, fake.sign_activity(activity, APP_ID, fake.service_url))

    assert status == 201  # CloudAdapter answers a message (not an invoke) with 201 Created
    assert [turn.text.strip() for turn in bot.turns] == ["hej med dig"]  # mention removed
    [reply] = fake.calls_to("reply")
    assert (reply.conversation_id, reply.activity_id) == (activity["conversation"]["id"], activity["id"])
    assert [(p.text, p.reply_to_id) for p in fake.shown(CHANNEL)] == [("echo: hej med dig", activity["id"])]

    scheme, _, token = reply.headers["Authorization"].partition(" ")
    assert scheme == "Bearer" and token in fake.issued
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["appid"], claims["tid"], claims["aud"]) == (APP_ID, TENANT_ID, "https://api.botframework.com")
    [asked] = fake.token_requests
    assert (asked.tenant, asked.client_id, asked.client_secret) == (TENANT_ID, APP_ID, APP_PASSWORD)
    assert asked.scope == "https://api.botframework.com/.default"

    assert connections and all(address[0] in LOOPBACK for address in connections)


INBOUND: dict[str, Callable[[FakeTeamsApi], dict[str, Any]]] = {
    "channel message": lambda f: f.channel_message("status"),
    "reply in a thread": lambda f: f.channel_message("næste", thread="1790000000001"),
    "1:1 message": lambda f: f.personal_message("hjælp"),
    "card submit": lambda f: f.card_submit({"action": "dot", "level": "Mellem"}, reply_to_id="1790000000001",
                                           conversation_id=f"{CHANNEL};messageid=1790000000001"),
    "bot installed in a team": lambda f: f.bot_added(),
}


@pytest.mark.parametrize("build", INBOUND.values(), ids=INBOUND.keys())
async def test_every_inbound_shape_of_the_fake_passes_the_sdk(
        fake: FakeTeamsApi, build: Callable[[FakeTeamsApi], dict[str, Any]]) -> None:
    bot = EchoBot()
    activity = build(fake)
    async with bot_server(adapter_for(fake), bot) as url:
        assert await deliver(url, activity, fake.sign_activity(activity)) == 201

    [turn] = bot.turns
    assert (turn.type, turn.id, turn.service_url) == (activity["type"], activity["id"], fake.service_url)
    # Read the tenant from channelData: botbuilder-schema 4.17 maps conversation.tenant_id to
    # "tenantID", so Teams' "tenantId" never reaches it.
    assert turn.channel_data["tenant"]["id"] == TENANT_ID
    assert turn.conversation.tenant_id is None


def _no_header(fake: FakeTeamsApi, activity: dict[str, Any]) -> str | None:
    return None


BAD_HEADERS: dict[str, Callable[[FakeTeamsApi, dict[str, Any]], str | None]] = {
    "unsigned": _no_header,
    "forged, with a key not published": lambda f, a: f.sign_activity(a, APP_ID, wrong_key=True),
    "tampered after signing": lambda f, a: f.sign_activity(a, APP_ID, valid=False),
    "expired": lambda f, a: f.sign_activity(a, APP_ID, expired=True),
    "for another bot": lambda f, a: f.sign_activity(a, APP_ID, audience="0b0e0f00-another-bot"),
    "for another serviceUrl": lambda f, a: f.sign_activity(a, APP_ID, "https://attacker.example/teams/"),
    "not a bearer token": lambda f, a: "Basic " + "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    "not a JWT": lambda f, a: "Bearer not.a.jwt",
}


@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
async def test_a_bad_token_is_refused_and_the_bot_never_runs(
        fake: FakeTeamsApi, header: Callable[[FakeTeamsApi, dict[str, Any]], str | None]) -> None:
    bot = EchoBot()
    activity = fake.channel_message("hej")
    async with bot_server(adapter_for(fake), bot) as url:
        status = await deliver(url, activity, header(fake, activity))

    assert status == 401
    assert bot.turns == []
    assert connector_calls(fake) == [] and fake.token_requests == []


async def test_proactive_messages_reach_the_conversation_also_after_a_restart(fake: FakeTeamsApi) -> None:
    bot = EchoBot()
    adapter = adapter_for(fake)
    activity = fake.personal_message("start")
    async with bot_server(adapter, bot) as url:
        assert await deliver(url, activity, fake.sign_activity(activity)) == 201
    reference = bot.references[0]

    await adapter.continue_conversation(reference, say("Der er 5 minutter tilbage"), APP_ID)

    stored = json.dumps(reference.serialize())  # what the store keeps across a restart
    restarted = adapter_for(fake)
    await restarted.continue_conversation(ConversationReference().deserialize(json.loads(stored)),
                                          say("Tiden er gået"), APP_ID)

    assert fake.texts(fake.personal_conversation_id(METTE)) == ["echo: start", "Der er 5 minutter tilbage", "Tiden er gået"]
    assert {c.headers["Authorization"].partition(" ")[2] for c in fake.calls_to("reply")} <= set(fake.issued)
    # the first adapter's token served its proactive message too; the restarted one got its own
    assert len(fake.token_requests) == 2


async def test_update_activity_replaces_the_message_and_delete_removes_it(fake: FakeTeamsApi) -> None:
    reference = _reference(fake)
    sent: list[str] = []

    async def card_then_update(turn_context: TurnContext) -> None:
        response = await turn_context.send_activity(_card("E: 0 prikker"))
        sent.append(response.id)
        updated = _card("E: 1 prik")
        updated.id = response.id
        await turn_context.update_activity(updated)

    await adapter_for(fake).continue_conversation(reference, card_then_update, APP_ID)

    [posted] = fake.shown(CHANNEL)
    assert posted.id == sent[0]
    assert [version["attachments"][0]["content"]["body"][0]["text"] for version in posted.versions] \
        == ["E: 0 prikker", "E: 1 prik"]
    assert posted.cards[0]["body"][0]["text"] == "E: 1 prik"
    [update] = fake.calls_to("update")
    assert (update.method, update.activity_id) == ("PUT", sent[0])

    async def delete(turn_context: TurnContext) -> None:
        await turn_context.delete_activity(sent[0])

    await adapter_for(fake).continue_conversation(reference, delete, APP_ID)
    assert fake.shown(CHANNEL) == []


async def test_without_an_app_id_unsigned_requests_are_accepted_for_local_testing(
        fake: FakeTeamsApi) -> None:
    fake.require_auth = False  # as the Emulator, which takes replies without a token
    bot = EchoBot()
    activity = fake.personal_message("lokal test")
    async with bot_server(adapter_for(fake, "", "", ""), bot) as url:
        assert await deliver(url, activity, None) == 201

    [reply] = fake.calls_to("reply")
    assert "Authorization" not in reply.headers
    assert fake.texts() == ["echo: lokal test"]
    assert fake.token_requests == []


async def test_a_refused_bot_token_is_our_error_not_the_channels(fake: FakeTeamsApi) -> None:
    """Entra ID refuses the secret: the turn fails with 500, not with the 401 that would tell
    the Bot Connector its own token was bad."""
    bot = EchoBot()
    activity = fake.personal_message("hej")
    async with bot_server(adapter_for(fake, password="an-old-secret"), bot) as url:
        status = await deliver(url, activity, fake.sign_activity(activity))

    assert status == 500
    assert [(t.client_secret, t.granted) for t in fake.token_requests] == [("an-old-secret", "")]
    assert connector_calls(fake) == []


# --- helpers ---------------------------------------------------------------------------------

def say(text: str) -> Callable[[TurnContext], Awaitable[None]]:
    async def callback(turn_context: TurnContext) -> None:
        await turn_context.send_activity(text)
    return callback


def _reference(fake: FakeTeamsApi) -> ConversationReference:
    """Where the bot was installed, as a conversationUpdate told it (bot_added)."""
    return TurnContext.get_conversation_reference(Activity().deserialize(fake.bot_added()))


def _card(text: str) -> Activity:
    return Activity(type=ActivityTypes.message, attachments=[Attachment(
        content_type="application/vnd.microsoft.card.adaptive",
        content={"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text}]})])
