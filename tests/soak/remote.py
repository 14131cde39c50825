"""The e2e drivers (tests/e2e), pointed at a `serve` process of its own instead of an app in
this process: people act the same way (press the newest button they can see, fill the newest
form), but every request goes over HTTP to the process, which may be killed at any moment.

A request that gets no answer (the process died under it) is sent again as the platform
would once the process answers /healthz: Slack sends the same payload with X-Slack-Retry-Num,
Teams the same activity (same id). The bot dedupes by the event id derived from it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.e2e.slack_driver import SECRET, TEAM, SlackWorkshop, SlackWorkspace
from tests.e2e.teams_driver import TeamsService, TeamsWorkshop
from tests.fakes.teams_api import FakeTeamsApi
from tests.soak.process import Serve

Json = dict[str, Any]
REQUEST_SECONDS = 60.0  # the bot answers in well under a second; only a stuck process takes this
# Long enough for a lane the dead process had claimed (bot/store/outbox.py LEASE, 2 minutes)
SETTLE_SECONDS = 300.0
POLL_SECONDS = 0.05
MAX_TRIES = 50  # a request unanswered this many times means the bot never takes it


@dataclass
class Traffic:
    """What the platforms sent the bot, as figures."""

    sent: int = 0  # HTTP requests, every retry included
    accepted: int = 0  # answered 2xx: the platform counts it as taken
    unanswered: int = 0  # no answer: the process died under it (or refused the connection)
    errors: int = 0  # answered 5xx (the platforms retry those too)
    retried: int = 0  # requests that needed more than one try
    request_seconds: float = 0.0  # waiting for answers, retries included
    settle_seconds: float = 0.0  # waiting for the outbox to deliver what the requests caused


class Link:
    """HTTP to the bot's process, surviving its deaths: each request is retried until answered."""

    def __init__(self, serve: Serve, session: aiohttp.ClientSession) -> None:
        self.serve = serve
        self.session = session
        self.traffic = Traffic()
        self.error_bodies: list[str] = []

    async def post(self, path: str, body: bytes, headers: Callable[[int], Mapping[str, str]]) -> tuple[int, str]:
        """POST until answered 2xx or 4xx; `headers(attempt)` are made per try (signatures, the
        retry number). Returns the status and the body of the answer."""
        began = time.monotonic()
        try:
            return await self._post(path, body, headers)
        finally:
            self.traffic.request_seconds += time.monotonic() - began

    async def _post(self, path: str, body: bytes, headers: Callable[[int], Mapping[str, str]]) -> tuple[int, str]:
        for attempt in range(MAX_TRIES):
            self.traffic.sent += 1
            try:
                async with self.session.post(f"{self.serve.url}{path}", data=body, headers=dict(headers(attempt)),
                                             timeout=aiohttp.ClientTimeout(total=REQUEST_SECONDS)) as response:
                    status, text = response.status, await response.text()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                self.traffic.unanswered += 1
            else:
                if status < 500:
                    self.traffic.accepted += 200 <= status < 300
                    self.traffic.retried += attempt > 0
                    return status, text
                self.traffic.errors += 1
                self.error_bodies.append(f"{status} {path}: {text[:300]}")
            await self.serve.healthy(self.session)  # the supervisor is starting it again
        raise RuntimeError(f"POST {path} was not answered in {MAX_TRIES} tries")

    async def settle(self, timeout: float | None = None) -> None:
        """Until the inbox and the outbox have nothing waiting (GET /readyz): what the platforms
        hold is then what the bot meant to send so far. While the process is down, wait for the next one."""
        began = time.monotonic()
        try:
            await self._settle(timeout or SETTLE_SECONDS)
        finally:
            self.traffic.settle_seconds += time.monotonic() - began

    async def _settle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Json = {}
        while time.monotonic() < deadline:
            try:
                async with self.session.get(f"{self.serve.url}/readyz",
                                            timeout=aiohttp.ClientTimeout(total=10)) as response:
                    last = await response.json() if response.status == 200 else {}
            except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError):
                last = {}
            if last.get("inbox", {}).get("waiting") == 0 and last.get("outbox", {}).get("waiting") == 0:
                return
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"the inbox and outbox did not empty within {timeout:.0f} s: {last}")


class SoakTeamsService(TeamsService):
    """The e2e driver's Bot Connector, passing on the outbox item a post names (X-Ambition-Item)
    to the fake's record of items: the driver's `_post` predates that argument."""

    def _post(self, conversation_id: str, activity: Json, reply_to_id: str | None = None,
              item: str | None = None) -> str:
        activity_id = FakeTeamsApi._post(self, conversation_id, activity, reply_to_id, item)
        self.touched[(conversation_id, activity_id)] = next(self._ticks)
        return activity_id


class _Remote:
    """A driver whose server is another process: it is not started or stopped here, and what
    it owes is delivered when that process's outbox is empty."""

    link: Link

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        return None

    async def settle(self, timeout: float | None = None) -> None:
        await self.link.settle(timeout)


class RemoteSlack(_Remote, SlackWorkshop):
    """SlackWorkshop whose requests go to the serve process behind `link`; `fake` is the Slack
    Web API that process posts to (started by the caller, shared by every workshop)."""

    def __init__(self, link: Link, fake: SlackWorkspace, *, team: str = TEAM) -> None:
        super().__init__(Path("."), team=team)
        self.fake = fake
        self.link = link

    async def _post(self, body: str, content_type: str, extra: Mapping[str, str] | None = None) -> str:
        raw = body.encode()

        def headers(attempt: int) -> dict[str, str]:
            stamp = str(int(time.time()))  # each try is signed anew, as Slack does
            signed = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                      "X-Slack-Signature": str(SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)),
                      **(extra or {})}
            if attempt:
                signed |= {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
            return signed

        status, text = await self.link.post("/slack/events", raw, headers)
        if status != 200:
            raise AssertionError(f"Slack's request was answered {status}: {text[:500]}")
        return text


class RemoteTeams(_Remote, TeamsWorkshop):
    """TeamsWorkshop whose activities go to the serve process behind `link`; `fake` is the Bot
    Connector and Entra ID that process talks to (started by the caller, shared)."""

    def __init__(self, link: Link, fake: TeamsService) -> None:
        super().__init__(Path("."))
        self.fake = fake
        self.link = link

    async def send(self, activity: Json, *, settle: bool = True, expect: int = 201) -> int:
        """The activity, signed as the Bot Connector signs it, until answered; a resend is the
        same activity (same id), as Teams resends one the bot did not answer."""
        self.sent.append(activity)
        body = json.dumps(activity).encode()

        def headers(attempt: int) -> dict[str, str]:
            return {"Content-Type": "application/json", "Authorization": self.fake.sign_activity(activity)}

        status, text = await self.link.post("/api/messages", body, headers)
        if not 200 <= status < 300:
            raise AssertionError(f"the bot answered {status}: {text[:500]}")
        if settle:
            await self.settle()
        return status
