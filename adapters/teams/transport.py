"""How the Bot Connector client's requests travel: over aiohttp, on the caller's event loop.

As shipped, msrest sends each request with `requests` on a worker thread: every call pays for
preparing a requests request, a hop to the thread and back, and the GIL changing hands; in
bench/teams.py that was a third of the dispatcher's time. The SDK's client, its operations,
serialization and errors stay as they are; only the last step of its pipeline is swapped for
msrest's own aiohttp response type, fed by a session kept per event loop (the server's and
the dispatcher's each have their own, and an aiohttp session belongs to one loop).

One step of serialization is skipped too: a card's content is plain JSON already, but msrest
reads a request body into models and writes it out again, value by value; for an activity
with an Adaptive Card that was a sixth of the dispatcher's time (_CardBodies).

Trust: the system's certificates, or the file REQUESTS_CA_BUNDLE names, which the SDK's other
requests (token, signing keys) already honour, so one setting covers all of them.
"""

from __future__ import annotations

import asyncio
import copy
import os
import ssl
from types import SimpleNamespace
from typing import Any

import aiohttp
from botframework.connector.aio import ConnectorClient
from msrest.pipeline import AsyncPipeline, Request, Response, SansIOHTTPPolicy
from msrest.pipeline.async_abc import AsyncHTTPSender
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import Serializer
from msrest.universal_http.aiohttp import AioHttpClientResponse

from bot.dispatch import ATTEMPT

TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
ITEM_HEADER = "X-Ambition-Item"


class LoopSessions(AsyncHTTPSender):  # type: ignore[misc]
    """msrest's HTTP sender over one aiohttp session per event loop."""

    def __init__(self) -> None:
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._ssl = ssl.create_default_context(cafile=os.environ.get("REQUESTS_CA_BUNDLE") or None)

    async def __aenter__(self) -> LoopSessions:
        return self

    async def __aexit__(self, *exc_details: object) -> None:
        return None

    async def send(self, request: Request, **config: Any) -> Response:
        http = request.http_request
        result = await self._session().request(http.method, http.url, headers=dict(http.headers),
                                               data=http.data)
        response = _Answer(http, result)
        await response.load_body()
        return Response(request, response)

    async def close(self) -> None:
        """Close this loop's session (a loop's session can only be closed on that loop)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            for old in [old for old in self._sessions if old.is_closed()]:
                del self._sessions[old]  # a loop that ended without closing its session
            session = self._sessions[loop] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl), timeout=TIMEOUT)
        return session


class _Answer(AioHttpClientResponse):  # type: ignore[misc]
    """msrest's aiohttp response, whose empty body (a 200 to a DELETE) is empty, not missing."""

    def body(self) -> bytes:
        if self._body is None:
            raise ValueError("the body was not read")
        body: bytes = self._body
        return body


class _Credentials(SansIOHTTPPolicy):  # type: ignore[misc]
    """The bot's token on each request, exactly as the SDK's credentials set it on a requests
    session (none in the unauthenticated local mode)."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    def on_request(self, request: Request, **kwargs: Any) -> None:
        signed = self._credentials.signed_session(SimpleNamespace(headers={}))
        request.http_request.headers.pop("Authorization", None)
        if "Authorization" in signed.headers:
            request.http_request.headers["Authorization"] = signed.headers["Authorization"]


class _ItemHeader(SansIOHTTPPolicy):  # type: ignore[misc]
    """Names the outbox item a request delivers (X-Ambition-Item), for the logs of whatever
    stands between the bot and the connector; the connector ignores it."""

    def on_request(self, request: Request, **kwargs: Any) -> None:
        attempt = ATTEMPT.get()
        if attempt is not None:
            request.http_request.headers[ITEM_HEADER] = attempt.item


class _CardBodies:
    """msrest's serializer, but for an activity with attachments: the activity is written out
    without first being read into models again (it is one already), and an attachment's
    content that is a dict (a card: plain JSON) goes into the body as it is. The body is the
    same as msrest's own (tests/adapters/teams/test_transport.py compares them); the check
    msrest would make first has no rules to apply (Activity and Attachment declare none)."""

    def __init__(self, serializer: Serializer) -> None:
        self._serializer = serializer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._serializer, name)

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        attachments = getattr(data, "attachments", None) if data_type == "Activity" else None
        if not attachments:
            return self._serializer.body(data, data_type, **kwargs)
        bare = copy.copy(data)
        bare.attachments = [copy.copy(a) for a in attachments]
        for part in bare.attachments:
            if isinstance(part.content, dict):
                part.content = None
        body = self._serializer._serialize(bare, data_type, **kwargs)
        for part, attachment in zip(body["attachments"], attachments, strict=True):
            if isinstance(attachment.content, dict):
                part["content"] = attachment.content
        return body


def over_aiohttp(client: ConnectorClient, sender: LoopSessions) -> ConnectorClient:
    config = client.config
    policies: list[Any] = [config.user_agent_policy, _ItemHeader(), RawDeserializer(),
                           config.http_logger_policy]
    if config.credentials is not None:
        policies.insert(1, _Credentials(config.credentials))
    config.pipeline = AsyncPipeline(policies, sender)
    bodies = _CardBodies(client._serialize)
    for operations in (client.conversations, client.attachments):
        operations._serialize = bodies
    return client
