"""A loopback fake of the Microsoft side of a Teams bot: a real aiohttp server on 127.0.0.1, so
that the real botbuilder CloudAdapter, MSAL and msrest run with authentication on.

It plays three services, on one HTTPS port (MSAL accepts only https authorities, so the whole
fake speaks TLS with a self-signed certificate; see `ca_file`):

- the Bot Connector's OpenID metadata and signing keys (login.botframework.com), and
  `sign_activity` to make the JWT the Bot Connector sends with each activity;
- Entra ID for the bot's outbound token (login.microsoftonline.com/<tenant>): the OpenID
  configuration MSAL reads, and the client-credentials token endpoint;
- the Bot Connector REST API as Teams serves it, under `service_url`, which only takes tokens
  this fake issued.

Like tests/fakes/slack_api.py it runs on a thread with its own event loop (the SDK makes
blocking HTTP calls on the bot's loop), records every call, and fails calls on request.

Clients must trust `ca_file`: `monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)` covers
everything the SDK does (requests, under MSAL, msrest and the JWKS fetch).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import hashlib
import ipaddress
import itertools
import json
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

from adapters.teams.auth import Endpoints
from adapters.teams.transport import ITEM_HEADER

APP_ID = "3f6b2a1c-8d4e-4b7a-9c2d-1e5f7a9b0c11"  # the bot's Entra ID app registration
APP_PASSWORD = "fake-client-secret"
TENANT_ID = "72f988bf-0000-4000-8000-00000000a11e"  # the housing organisation's tenant
BOT_NAME = "Ambition"
TEAM_ID = "19:team-almenkompas@thread.tacv2"
CHANNEL = "19:plenum@thread.tacv2"  # the team's channel the workshop runs in

BOTFRAMEWORK_ISSUER = "https://api.botframework.com"  # `iss` of the Bot Connector's tokens
BOTFRAMEWORK_SCOPE = "https://api.botframework.com"  # `aud` of the bot's outbound token
KEY_ID = "fake-botframework-key"
AAD_KEY_ID = "fake-entra-key"
# The channels a Bot Connector key may speak for: the SDK refuses an activity whose channelId
# is missing from the `endorsements` of the key that signed it.
ENDORSEMENTS = ("msteams", "webchat", "directline", "emulator")
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
ERROR_ROUTES = frozenset({"send", "reply", "update", "delete", "create", "members", "member"})


@dataclass(frozen=True)
class Person:
    id: str  # "29:..." — the Teams user id, which differs per bot
    name: str
    aad_object_id: str

    def account(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id}


METTE = Person("29:1mette-facilitator", "Mette Holm", "aad-0000-mette")
JONAS = Person("29:1jonas-member", "Jonas Lund", "aad-0000-jonas")


@dataclass
class Call:
    route: str  # "send", "reply", "update", "delete", "create", "members", "member", "token", ...
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived
    conversation_id: str = ""
    activity_id: str = ""
    status: int = 200  # what the fake answered; 0 while unanswered (or dropped)


@dataclass
class Fault:
    status: int = 500
    retry_after: int | None = None
    timeout: float = 0  # seconds to sleep before answering (longer than the client waits)
    times: int = 1
    disconnect: bool = False  # drop the connection unanswered, as a reset does
    acted: bool = False  # the connector does its work first, then its answer is lost or fails


@dataclass
class Posted:
    """A message as the channel shows it now."""
    conversation_id: str
    id: str
    activity: dict[str, Any]  # the newest version the bot sent
    reply_to_id: str | None
    versions: list[dict[str, Any]] = field(default_factory=list)  # every version, oldest first
    deleted: bool = False
    item: str | None = None  # the outbox item it was sent as (X-Ambition-Item), if it said

    @property
    def text(self) -> str:
        return str(self.activity.get("text") or "")

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards attached, as the bot sent them."""
        return [a.get("content") or {} for a in self.activity.get("attachments") or []
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]


@dataclass
class TokenRequest:
    tenant: str
    client_id: str
    client_secret: str
    scope: str
    granted: str = ""  # the access token issued, or "" if refused


@dataclass
class FakeTeamsApi:
    app_id: str = APP_ID
    app_password: str = APP_PASSWORD
    tenant_id: str = TENANT_ID
    require_auth: bool = True  # False: accept calls without a token, as the Emulator does
    token_lifetime: int = 3599  # seconds, as Entra ID's `expires_in`
    calls: list[Call] = field(default_factory=list)
    posted: dict[tuple[str, str], Posted] = field(default_factory=dict)  # (conversation, id)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file name → bytes put in OneDrive
    token_requests: list[TokenRequest] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)  # access token → expiry (epoch)
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # conversation → accounts
    port: int = 0

    def __post_init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._acted: dict[int, Fault] = {}  # id(call) → a fault to answer with after acting
        self._items: list[tuple[str, str]] = []  # see items()

    # --- control, from any thread --------------------------------------------------------

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def service_url(self) -> str:
        """The activities' serviceUrl, as Teams' https://smba.trafficmanager.net/emea/."""
        return f"{self.base}/teams/"

    @property
    def ca_file(self) -> str:
        """The certificate clients must trust (REQUESTS_CA_BUNDLE): this fake's, and no other."""
        return _tls_files()[0]

    def endpoints(self) -> Endpoints:
        """Every Microsoft URL of adapters.teams.auth pointed at this fake."""
        return Endpoints(
            channel_openid_metadata=f"{self.base}/botframework/v1/.well-known/openidconfiguration",
            emulator_openid_metadata=f"{self.base}/emulator/v2.0/.well-known/openid-configuration",
            login=self.base,
            oauth_scope=BOTFRAMEWORK_SCOPE,
            token_service=f"{self.base}/tokens",
            validate_authority=False,
        )

    def start(self) -> Self:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-teams", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(5)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def fail_next(self, route: str, *, status: int = 500, retry_after: int | None = None,
                  timeout: float = 0, times: int = 1, disconnect: bool = False,
                  acted: bool = False) -> None:
        """The next `times` calls of `route` fail: with `status` (429 with `retry_after`, 412,
        500, 502/503/504), after sleeping `timeout` seconds, or with a dropped connection.
        Routes: send, reply, update, delete, create, members, member; "*" is any of those;
        token and openid (Entra ID's token endpoint, the Bot Connector's metadata and keys).
        With `acted` (send, reply, update), the message is posted or edited all the same."""
        with self._lock:
            self._faults.setdefault(route, []).append(
                Fault(status, retry_after, timeout, times, disconnect, acted))

    def recover(self) -> None:
        with self._lock:
            self._faults.clear()

    def items(self) -> list[tuple[str, str]]:
        """(conversation, outbox item) of each message posted with the X-Ambition-Item header,
        in order, answered or not: the same pair twice is a message people saw twice."""
        return list(self._items)

    def calls_to(self, route: str, ok_only: bool = False) -> list[Call]:
        return [c for c in self.calls if c.route == route and not (ok_only and c.status >= 300)]

    def shown(self, conversation_id: str | None = None) -> list[Posted]:
        """What the channel shows now, oldest first; a channel id also covers its threads
        ("<channel>;messageid=<root>")."""
        return [p for p in self.posted.values() if not p.deleted and (
            conversation_id is None or p.conversation_id.split(";")[0] == conversation_id
            or p.conversation_id == conversation_id)]

    def texts(self, conversation_id: str | None = None) -> list[str]:
        return [p.text for p in self.shown(conversation_id)]

    def add_member(self, conversation_id: str, person: Person, *, email: str = "") -> None:
        """Someone in a team, channel or chat, as GET members answers (TeamsChannelAccount)."""
        given, _, surname = person.name.partition(" ")
        self.members.setdefault(conversation_id.split(";")[0], []).append({
            **person.account(), "givenName": given, "surname": surname,
            "email": email or f"{given.lower()}@example.org",
            "userPrincipalName": email or f"{given.lower()}@example.org",
            "tenantId": self.tenant_id, "userRole": "user"})

    # --- what the Bot Connector sends the bot ------------------------------------------------

    def sign_activity(self, activity: dict[str, Any], app_id: str | None = None,
                      service_url: str | None = None, *, valid: bool = True, expired: bool = False,
                      wrong_key: bool = False, audience: str | None = None) -> str:
        """The Authorization header the Bot Connector sends with `activity`: "Bearer <JWT>" with
        iss https://api.botframework.com, aud = the bot's app id, serviceurl = the activity's,
        signed RS256 by a key in this fake's JWKS (endorsed for msteams). Spoilt on request:
        `valid=False` tampers with the payload after signing, `expired` is past the SDK's five
        minutes of leeway, `wrong_key` is signed by a key that is not published (same kid),
        `audience` names another bot."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "serviceurl": service_url or activity["serviceUrl"],
            "nbf": now - 4200 if expired else now - 60,
            "exp": now - 600 if expired else now + 3600,
            "iss": BOTFRAMEWORK_ISSUER,
            "aud": audience or app_id or self.app_id,
        }
        key = _rsa_key("forger") if wrong_key else _rsa_key("botframework")
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID, "x5t": KEY_ID})
        if not valid:  # the claims edited after signing: here, a day more to live
            header, _, signature = token.split(".")
            payload = base64.urlsafe_b64encode(json.dumps({**claims, "exp": claims["exp"] + 86400}).encode())
            token = f"{header}.{payload.decode().rstrip('=')}.{signature.rpartition('.')[2]}"
        return f"Bearer {token}"

    def channel_message(self, text: str, *, person: Person = METTE, channel: str = CHANNEL,
                        thread: str | None = None, mention: bool = True, locale: str = "da-DK") -> dict[str, Any]:
        """Someone writes in a team's channel, @mentioning the bot (Teams delivers channel
        messages to a bot only when it is mentioned). A new post starts a thread: its
        conversation id is "<channel>;messageid=<its own id>"; a reply in a thread carries the
        root's id there and in replyToId. Shape: Teams docs, "Messages in bot conversations"
        and "Channel and group chat conversations with a bot" (mention entity, channelData)."""
        activity_id = self._new_id()
        root = thread or activity_id
        at = f"<at>{BOT_NAME}</at>"
        activity = self._base("message", activity_id, person, locale, {
            "isGroup": True, "conversationType": "channel", "tenantId": self.tenant_id,
            "id": f"{channel};messageid={root}"}, self._channel_data(channel))
        activity.update({"text": f"{at} {text}" if mention else text, "textFormat": "plain",
                         "attachments": [{"contentType": "text/html",
                                          "content": f"<p>{at}&nbsp;{text}</p>" if mention else f"<p>{text}</p>"}]})
        if mention:
            activity["entities"].insert(0, {"type": "mention", "text": at,
                                            "mentioned": {"id": f"28:{self.app_id}", "name": BOT_NAME}})
        if thread:
            activity["replyToId"] = thread
        return activity

    def personal_message(self, text: str, *, person: Person = METTE, locale: str = "da-DK") -> dict[str, Any]:
        """Someone writes to the bot in a 1:1 chat: no mention, no team or channel."""
        activity = self._base("message", self._new_id(), person, locale, {
            "conversationType": "personal", "tenantId": self.tenant_id,
            "id": self.personal_conversation_id(person)}, {"tenant": {"id": self.tenant_id}})
        activity.update({"text": text, "textFormat": "plain"})
        return activity

    def card_submit(self, value: dict[str, Any], *, reply_to_id: str, conversation_id: str,
                    person: Person = METTE, locale: str = "da-DK") -> dict[str, Any]:
        """Someone presses an Action.Submit button (or submits a form) on the bot's Adaptive
        Card: a message activity with the action's `data` merged with the inputs in `value`, no
        text, and replyToId = the card's activity id (Teams docs, "Card actions")."""
        channel = conversation_id.split(";")[0]
        personal = not channel.startswith("19:")
        conversation = ({"conversationType": "personal", "tenantId": self.tenant_id, "id": conversation_id}
                        if personal else {"isGroup": True, "conversationType": "channel",
                                          "tenantId": self.tenant_id, "id": conversation_id})
        channel_data = {"tenant": {"id": self.tenant_id}} if personal else self._channel_data(channel)
        activity = self._base("message", self._new_id(), person, locale, conversation,
                              {**channel_data, "source": {"name": "message"}, "legacy": {"replyToId": reply_to_id}})
        activity.update({"value": value, "replyToId": reply_to_id})
        return activity

    def bot_added(self, *, channel: str = CHANNEL, person: Person = METTE, team_name: str = "AlmenKompas") -> dict[str, Any]:
        """The bot is installed in a team: conversationUpdate with the bot in membersAdded, the
        conversation being the channel chosen at installation (Teams docs, "Conversation events
        in your Teams bot", team members added)."""
        activity = self._base("conversationUpdate", f"f:{uuid.uuid4()}", person, None, {
            "isGroup": True, "conversationType": "channel", "tenantId": self.tenant_id, "id": channel},
            {**self._channel_data(channel, team_name), "eventType": "teamMemberAdded",
             "settings": {"selectedChannel": {"id": channel}}})
        activity["membersAdded"] = [{"id": f"28:{self.app_id}"}]
        return activity

    def personal_conversation_id(self, person: Person | str) -> str:
        """The 1:1 chat between the bot and `person`: Teams keeps one, so the same id every time."""
        user_id = person if isinstance(person, str) else person.id
        return "a:1" + hashlib.sha256(f"{self.app_id}|{user_id}".encode()).hexdigest()[:40]

    def _new_id(self) -> str:
        # Teams' message ids are the epoch milliseconds of the post
        return str(1_790_000_000_000 + next(self._ids))

    def _channel_data(self, channel: str, team_name: str | None = None) -> dict[str, Any]:
        team = {"id": TEAM_ID, "aadGroupId": "aad-group-almenkompas"} | ({"name": team_name} if team_name else {})
        return {"teamsChannelId": channel, "teamsTeamId": TEAM_ID, "channel": {"id": channel},
                "team": team, "tenant": {"id": self.tenant_id}}

    def _base(self, kind: str, activity_id: str, person: Person, locale: str | None,
              conversation: dict[str, Any], channel_data: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        activity: dict[str, Any] = {
            "type": kind, "id": activity_id,
            "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "localTimestamp": now.astimezone(COPENHAGEN).isoformat(timespec="milliseconds"),
            "serviceUrl": self.service_url, "channelId": "msteams",
            "from": person.account(), "conversation": conversation,
            "recipient": {"id": f"28:{self.app_id}", "name": BOT_NAME},
            "entities": [], "channelData": channel_data,
        }
        if locale:
            activity["locale"] = locale
            activity["localTimezone"] = "Europe/Copenhagen"
            activity["entities"].append({"type": "clientInfo", "locale": locale, "country": "DK",
                                         "platform": "Web", "timezone": "Europe/Copenhagen"})
        return activity

    # --- the server ------------------------------------------------------------------------

    async def _serve(self) -> None:
        app = web.Application()
        routes = app.router
        routes.add_get("/botframework/v1/.well-known/openidconfiguration", self._bf_metadata)
        routes.add_get("/botframework/v1/.well-known/keys", self._bf_keys)
        routes.add_get("/emulator/v2.0/.well-known/openid-configuration", self._emulator_metadata)
        routes.add_get("/emulator/discovery/v2.0/keys", self._aad_keys)
        routes.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._tenant_metadata)
        routes.add_get("/{tenant}/discovery/v2.0/keys", self._aad_keys)
        routes.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        v3 = "/teams/v3/conversations"
        routes.add_post(v3, self._create)
        routes.add_post(v3 + "/{conversation}/activities", self._send)
        routes.add_post(v3 + "/{conversation}/activities/{activity}", self._reply)
        routes.add_put(v3 + "/{conversation}/activities/{activity}", self._update)
        routes.add_delete(v3 + "/{conversation}/activities/{activity}", self._delete)
        routes.add_get(v3 + "/{conversation}/members", self._members)
        routes.add_get(v3 + "/{conversation}/pagedmembers", self._paged_members)
        routes.add_get(v3 + "/{conversation}/members/{member}", self._member)
        routes.add_put("/onedrive/upload/{name}", self._upload)
        # handler_cancellation: a request whose client timed out stops sleeping at once
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=_server_tls())
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _record(self, request: web.Request, route: str) -> Call:
        body: Any = None
        if request.can_read_body and route != "upload":  # an upload's body is the file's bytes
            body = dict(await request.post()) if request.content_type.endswith("urlencoded") else await request.json()
        call = Call(route, request.method, request.path, body, dict(request.headers), time.monotonic(),
                    request.match_info.get("conversation", ""), request.match_info.get("activity", ""))
        self.calls.append(call)
        return call

    def _fault(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(route) or (self._faults.get("*") if route in ERROR_ROUTES else None)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault

    async def _failure(self, request: web.Request, call: Call, fault: Fault) -> web.StreamResponse:
        call.status = 0  # no answer (yet)
        if fault.disconnect and request.transport is not None:
            request.transport.abort()
            return web.Response()  # never arrives
        await asyncio.sleep(fault.timeout)  # the client may give up first
        call.status = fault.status
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.status in (502, 503, 504):  # a gateway in trouble: not JSON
            return web.Response(status=fault.status, text=f"<html>{fault.status}</html>",
                                content_type="text/html", headers=headers)
        code = {429: "Throttled", 412: "PreconditionFailed"}.get(fault.status, "ServiceError")
        return web.json_response({"error": {"code": code, "message": f"fake fault {fault.status}"}},
                                 status=fault.status, headers=headers)

    @staticmethod
    def _answer(call: Call, body: Any, status: int = 200) -> web.Response:
        call.status = status
        return web.json_response(body, status=status)

    # Entra ID and the Bot Connector's OpenID metadata

    async def _bf_metadata(self, request: web.Request) -> web.StreamResponse:
        # the shape of https://login.botframework.com/v1/.well-known/openidconfiguration
        return await self._openid(request, {
            "issuer": BOTFRAMEWORK_ISSUER, "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": f"{self.base}/botframework/v1/.well-known/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"]})

    async def _bf_keys(self, request: web.Request) -> web.StreamResponse:
        return await self._openid(request, {"keys": [
            _jwk(_rsa_key("botframework"), KEY_ID) | {"endorsements": list(ENDORSEMENTS)}]})

    async def _emulator_metadata(self, request: web.Request) -> web.StreamResponse:
        return await self._openid(request, {
            "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
            "jwks_uri": f"{self.base}/emulator/discovery/v2.0/keys"})

    async def _aad_keys(self, request: web.Request) -> web.StreamResponse:
        return await self._openid(request, {"keys": [_jwk(_rsa_key("entra"), AAD_KEY_ID)]})

    async def _tenant_metadata(self, request: web.Request) -> web.StreamResponse:
        """What MSAL reads first from its authority <login>/<tenant>."""
        root = f"{self.base}/{request.match_info['tenant']}"
        return await self._openid(request, {
            "issuer": f"{root}/v2.0", "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"]})

    async def _openid(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        call = await self._record(request, "openid")
        if fault := self._fault("openid"):
            return await self._failure(request, call, fault)
        return self._answer(call, body)

    async def _token(self, request: web.Request) -> web.StreamResponse:
        """Client credentials (MSAL's acquire_token_for_client), with Entra ID's refusals."""
        call = await self._record(request, "token")
        form: dict[str, str] = call.body or {}
        ask = TokenRequest(request.match_info["tenant"], form.get("client_id", ""),
                           form.get("client_secret", ""), form.get("scope", ""))
        self.token_requests.append(ask)
        if fault := self._fault("token"):
            return await self._failure(request, call, fault)
        if form.get("grant_type") != "client_credentials":
            return self._answer(call, _aad_error("unsupported_grant_type", 70003, "grant type"), 400)
        if ask.client_id != self.app_id or ask.tenant != self.tenant_id:
            # a single-tenant app exists only in its own tenant (not in botframework.com)
            return self._answer(call, _aad_error("unauthorized_client", 700016,
                                f"Application with identifier '{ask.client_id}' was not found in "
                                f"the directory '{ask.tenant}'."), 400)
        if ask.client_secret != self.app_password:
            return self._answer(call, _aad_error("invalid_client", 7000215, "Invalid client secret provided."), 401)
        if ask.scope.split() != [f"{BOTFRAMEWORK_SCOPE}/.default"]:
            return self._answer(call, _aad_error("invalid_scope", 1002012, f"scope {ask.scope!r}"), 400)
        now = int(time.time())
        ask.granted = jwt.encode({"aud": BOTFRAMEWORK_SCOPE, "iss": f"https://sts.windows.net/{ask.tenant}/",
                                  "iat": now, "nbf": now, "exp": now + self.token_lifetime,
                                  "appid": ask.client_id, "tid": ask.tenant, "ver": "1.0",
                                  "jti": uuid.uuid4().hex},
                                 _rsa_key("entra"), algorithm="RS256", headers={"kid": AAD_KEY_ID})
        self.issued[ask.granted] = now + self.token_lifetime
        return self._answer(call, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                                   "ext_expires_in": self.token_lifetime, "access_token": ask.granted})

    # the Bot Connector

    async def _connector(self, request: web.Request, route: str) -> tuple[Call, web.StreamResponse | None]:
        """Record the call; refuse it without a live token of ours; or fail it as asked (a
        fault that lets it act first is kept for `_done`)."""
        call = await self._record(request, route)
        if self.require_auth and not self._authorized(request.headers.get("Authorization", "")):
            return call, self._answer(call, {"message": "Authorization has been denied for this request."}, 401)
        if fault := self._fault(route):
            if fault.acted:
                self._acted[id(call)] = fault
                return call, None
            return call, await self._failure(request, call, fault)
        return call, None

    async def _done(self, request: web.Request, call: Call, body: Any) -> web.StreamResponse:
        """The answer to a call that did its work, unless a fault takes it away."""
        if fault := self._acted.pop(id(call), None):
            return await self._failure(request, call, fault)
        return self._answer(call, body)

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        return scheme == "Bearer" and self.issued.get(token, 0) > time.time()

    def _post(self, conversation_id: str, activity: dict[str, Any], reply_to_id: str | None = None,
              item: str | None = None) -> str:
        if item is not None:
            self._items.append((conversation_id, item))
        activity_id = self._new_id()
        activity = {**activity, "id": activity_id}
        self.posted[(conversation_id, activity_id)] = Posted(conversation_id, activity_id, activity,
                                                             reply_to_id, [activity], item=item)
        return activity_id

    async def _send(self, request: web.Request) -> web.StreamResponse:
        call, refused = await self._connector(request, "send")
        if refused:
            return refused
        posted = self._post(call.conversation_id, call.body, item=call.headers.get(ITEM_HEADER))
        return await self._done(request, call, {"id": posted})

    async def _reply(self, request: web.Request) -> web.StreamResponse:
        # Teams places a reply by its conversation id (a thread is "<channel>;messageid=<root>");
        # the SDK's proactive turns reply to a made-up activity id, which Teams accepts too.
        call, refused = await self._connector(request, "reply")
        if refused:
            return refused
        posted = self._post(call.conversation_id, call.body, call.activity_id, call.headers.get(ITEM_HEADER))
        return await self._done(request, call, {"id": posted})

    async def _update(self, request: web.Request) -> web.StreamResponse:
        call, refused = await self._connector(request, "update")
        if refused:
            return refused
        posted = self.posted.get((call.conversation_id, call.activity_id))
        if posted is None or posted.deleted:
            return self._answer(call, {"error": {"code": "NotFound", "message": "activity not found"}}, 404)
        posted.activity = {**call.body, "id": posted.id}
        posted.versions.append(posted.activity)
        return await self._done(request, call, {"id": posted.id})

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        call, refused = await self._connector(request, "delete")
        if refused:
            return refused
        posted = self.posted.get((call.conversation_id, call.activity_id))
        if posted is None or posted.deleted:
            return self._answer(call, {"error": {"code": "NotFound", "message": "activity not found"}}, 404)
        posted.deleted = True
        call.status = 200
        return web.Response(status=200)

    def file_consent_accepted(self, *, reply_to_id: str, context: dict[str, Any], name: str,
                              person: Person = METTE) -> dict[str, Any]:
        """The person pressed "Allow" on a FileConsentCard: Teams made an upload session in
        their OneDrive and sends the bot an invoke (Teams docs, "Send and receive files using
        bot", fileConsent/invoke with uploadInfo)."""
        activity = self.personal_message("", person=person)
        activity.pop("text", None)
        unique = uuid.uuid4().hex
        activity.update({"type": "invoke", "name": "fileConsent/invoke", "replyToId": reply_to_id,
                         "value": {"type": "fileUpload", "action": "accept", "context": context,
                                   "uploadInfo": {"contentUrl": f"{self.base}/onedrive/files/{name}",
                                                  "name": name, "uniqueId": unique, "fileType": "xlsx",
                                                  "uploadUrl": f"{self.base}/onedrive/upload/{name}"}}})
        return activity

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        """OneDrive's upload session: the bytes in one PUT with Content-Range (no token: the
        upload URL itself is the permission)."""
        call = await self._record(request, "upload")
        data = await request.read()
        if request.headers.get("Content-Range") != f"bytes 0-{len(data) - 1}/{len(data)}":
            return self._answer(call, {"error": {"code": "invalidRange"}}, 400)
        self.uploads[request.match_info["name"]] = data
        return self._answer(call, {"id": uuid.uuid4().hex, "name": request.match_info["name"],
                                   "size": len(data)}, 201)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        """ConversationParameters: a new thread in a channel (channelData.channel.id and an
        activity), or the 1:1 chat with members[0] (Teams docs, "Send proactive messages")."""
        call, refused = await self._connector(request, "create")
        if refused:
            return refused
        parameters: dict[str, Any] = call.body
        channel = ((parameters.get("channelData") or {}).get("channel") or {}).get("id")
        activity = parameters.get("activity")
        if channel:
            if not activity:
                return self._answer(call, {"error": {"code": "BadArgument", "message": "activity required"}}, 400)
            root = self._new_id()
            conversation_id = f"{channel};messageid={root}"
            if item := call.headers.get(ITEM_HEADER):  # a thread's opening post is a message too
                self._items.append((conversation_id, item))
            self.posted[(conversation_id, root)] = Posted(conversation_id, root, {**activity, "id": root},
                                                          None, [{**activity, "id": root}])
            return self._answer(call, {"id": conversation_id, "activityId": root, "serviceUrl": self.service_url})
        members = parameters.get("members") or []
        if not members:
            return self._answer(call, {"error": {"code": "BadArgument", "message": "members required"}}, 400)
        conversation_id = self.personal_conversation_id(str(members[0]["id"]))
        answer = {"id": conversation_id, "serviceUrl": self.service_url}
        if activity:
            answer["activityId"] = self._post(conversation_id, activity)
        return self._answer(call, answer)

    async def _members(self, request: web.Request) -> web.StreamResponse:
        call, refused = await self._connector(request, "members")
        if refused:
            return refused
        return self._answer(call, self.members.get(call.conversation_id.split(";")[0], []))

    async def _paged_members(self, request: web.Request) -> web.StreamResponse:
        call, refused = await self._connector(request, "members")
        if refused:
            return refused
        return self._answer(call, {"members": self.members.get(call.conversation_id.split(";")[0], [])})

    async def _member(self, request: web.Request) -> web.StreamResponse:
        call, refused = await self._connector(request, "member")
        if refused:
            return refused
        wanted = request.match_info["member"]
        for member in self.members.get(call.conversation_id.split(";")[0], []):
            if wanted in (member["id"], member["aadObjectId"]):
                return self._answer(call, member)
        return self._answer(call, {"error": {"code": "MemberNotFoundInConversation",
                                             "message": "The member is not in the conversation."}}, 404)


def _aad_error(error: str, code: int, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": f"AADSTS{code}: {description}", "error_codes": [code]}


# --- keys and certificate, made once per test run (RSA key generation is slow) -------------

@cache
def _rsa_key(name: str) -> rsa.RSAPrivateKey:
    """"botframework" signs activities, "entra" the bot's tokens, "forger" what nobody trusts."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": kid, "use": "sig", "x5t": kid}


@cache
def _tls_files() -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key, as files (ssl wants paths)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-teams")])
    now = datetime.now(UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        # a CA of its own, so that OpenSSL takes it as a trust anchor
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256()))
    directory = Path(tempfile.mkdtemp(prefix="fake-teams-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    (cert_file := directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (key_file := directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def _server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*_tls_files())
    return context
