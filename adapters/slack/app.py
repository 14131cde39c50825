"""The Slack endpoint: slack-bolt verifies each request, `parse` turns it into an event, the
service handles it, and the answer goes out through the outbox (woken at once).

Slack wants an answer within 3 seconds. Buttons, commands and events are acknowledged as soon
as the event is kept in the inbox, and handled after (adapters/intake.py); a modal's submit
waits for the engine, because its errors belong inline in the modal (`response_action:
errors`), not in a separate message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.intake import Intake
from adapters.slack import parse
from adapters.slack.render import form_errors
from bot.events import Actor, Command, Event
from bot.service import Result

log = logging.getLogger(__name__)
ANY = re.compile(".*")


def slack_client(token: str, api_url: str) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=api_url, timeout=10)


def build_slack_app(intake: Intake, token: str, signing_secret: str, api_url: str) -> AsyncApp:
    # The signature is checked before slack-bolt sees a request (slack_route): its own check,
    # a second HMAC of the body, would find nothing the first let through.
    app = AsyncApp(signing_secret=signing_secret, client=slack_client(token, api_url),
                   process_before_response=True, request_verification_enabled=False)
    names = Names(app.client)

    async def handle(event: Event) -> Result:
        """Now, for an answer that depends on it (a form's errors)."""
        return await intake.handle(await names.named(event))

    intake.complete = names.named  # once answered: Slack's answer to who it is need not be waited for

    async def take(event: Event) -> None:
        """Kept, to be handled once the request is answered."""
        await intake.take(event)

    @app.command("/ambition")
    async def on_command(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await take(parse.command(body, bot_user=context.bot_user_id))
        await ack()

    @app.action(ANY)
    async def on_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            event = parse.action(body)
        except (ValueError, KeyError, IndexError):
            log.warning("ignored a Slack action the bot did not make")
        else:
            await take(event)
        await ack()

    @app.view(ANY)
    async def on_submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        result = await handle(parse.submission(body))
        if result.form_errors:
            await ack(**form_errors(result.form_errors))
        else:
            await ack()

    @app.event("app_mention")
    async def on_mention(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await take(parse.mention(body, bot_user=context.bot_user_id))

    @app.event("member_joined_channel")
    async def on_joined(body: dict[str, Any], context: AsyncBoltContext) -> None:
        if body["event"].get("user") == context.bot_user_id:
            return  # the bot itself, added to a group's channel, is nobody's group member
        await take(parse.joined(body))

    @app.event("message")
    async def on_message(body: dict[str, Any]) -> None:
        """Ordinary chat in a channel is the participants' own business."""

    return app


class Names:
    """People's display names, asked of Slack once per person: requests carry only the old
    username (or no name), and cards should say who people are, as Slack shows them."""

    ASK_SECONDS = 1.0  # part of Slack's 3 seconds; without an answer the username will do

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._known: dict[str, str] = {}

    async def named(self, event: Event) -> Event:
        if not event.actor.id.startswith(parse.PREFIX):
            return event  # another platform's (the server's inbox is theirs too)
        if not isinstance(event, Command):
            return replace(event, actor=await self._named(event.actor))
        # Asked side by side: however many are mentioned, it takes ASK_SECONDS at most.
        actor, *mentions = await asyncio.gather(*map(self._named, (event.actor, *event.mentions)))
        return replace(event, actor=actor, mentions=tuple(mentions))

    async def _named(self, actor: Actor) -> Actor:
        user = parse.unqualified(actor.id)
        name = self._known.get(user)
        if name is None:
            try:
                answer = await asyncio.wait_for(self.client.users_info(user=user), self.ASK_SECONDS)
            except (SlackApiError, SlackClientError, OSError, TimeoutError):
                return actor  # asked again next time
            person = answer.get("user") or {}
            profile = person.get("profile") or {}
            name = str(profile.get("display_name") or profile.get("real_name")
                       or person.get("real_name") or actor.name)
            self._known[user] = name
        return Actor(actor.id, name)


def slack_route(app: AsyncApp, signing_secret: str) -> Callable[[web.Request], Any]:
    """POST /slack/events. Before slack-bolt sees a request, its signature is checked and its
    body read here (`parse.request_body`): slack-bolt parses a body before checking its
    signature and indexes into it as Slack would shape it, so that a request of any other
    shape, signed or not, failed inside it with a 500."""
    async def slack_events(request: web.Request) -> web.Response:
        raw = await request.read()  # over the server's client_max_size: aiohttp answers 413
        if not signed(raw, request.headers, signing_secret):
            return web.json_response({"error": "invalid request"}, status=401)  # as slack-bolt's
        try:
            text, body = parse.request_body(raw, request.content_type)
        except parse.Malformed as error:
            log.warning("refused a signed Slack request: %s", error)
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(await app.async_dispatch(_bolt_request(request, text, body)))

    return slack_events


SIGNATURE_SECONDS = 5 * 60  # how old a signed request may be, as slack-bolt allows


def signed(raw: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Whether Slack signed `raw` (https://api.slack.com/authentication/verifying-requests-from-slack).
    Checked here, not by slack-bolt: its check failed with a 500 on a timestamp that is no
    number, on a signature with other than ASCII in it and on a body that is not UTF-8."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) < 20) \
            or abs(time.time() - int(stamp)) > SIGNATURE_SECONDS:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}".encode(), signature.encode("utf-8", "surrogateescape"))


def _bolt_request(request: web.Request, text: str, body: dict[str, Any]) -> AsyncBoltRequest:
    """slack-bolt's request, with the body as `parse.request_body` read it: slack-bolt's own
    reading took a slash command with the word "payload" anywhere in it for an interactivity
    payload, and dispatched it as an empty request, which went unanswered."""
    bolt = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
    bolt.raw_body = text
    bolt.body = body
    # With a logger from the start: slack-bolt logs to the context's while it builds it, for a
    # body with more than one response_url, and failed with a KeyError without one.
    bolt.context = build_async_context(AsyncBoltContext({"logger": log}), body)
    return bolt
