"""The Teams endpoint: botbuilder's CloudAdapter authenticates each activity, `parse` turns it
into events, and the answers go out through the outbox (woken at once). A command or a
button is answered once it is kept in the inbox, and handled after (adapters/intake.py). A
form card's submission is handled at once, since it is answered on the card itself: drawn
again with its errors and what was typed, or, once saved, without its button.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import requests
from aiohttp import web
from botbuilder.core import Bot, BotAdapter, InvokeResponse, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botbuilder.schema import Attachment as CardAttachment
from botframework.connector.aio import ConnectorClient
from msrest.exceptions import DeserializationError
from msrest.serialization import Model

from adapters.config import Settings
from adapters.intake import Intake
from adapters.teams import parse
from adapters.teams.auth import Endpoints, bot_authentication
from adapters.teams.conversations import Conversations, Place
from adapters.teams.deliver import failure_of
from adapters.teams.links import FileLinks
from adapters.teams.render import Card, attachment, form_card
from bot.clock import SystemClock
from bot.events import NUL, Event, FormSubmitted
from bot.plan.files import Attachment as PlanAttachment
from bot.plan.files import UnknownWorkshop
from bot.service import Result
from bot.ui import Form

log = logging.getLogger(__name__)
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
AUTH_OFF_WARNING = (
    "TEAMS AUTHENTICATION IS OFF: MICROSOFT_APP_ID is not set, so /api/messages accepts "
    "activities from anyone. Use this only for local testing (e.g. the Bot Framework Emulator), "
    "never where the server can be reached from outside.")


def cloud_adapter(settings: Settings, endpoints: Endpoints | None = None) -> CloudAdapter:
    password = settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else ""
    return CloudAdapter(bot_authentication(settings.microsoft_app_id, password,
                                           settings.microsoft_app_tenant_id, endpoints))


@functools.cache
def _local_secret() -> str:
    return secrets.token_hex(32)  # without an app password, links live as long as the process


def file_links(settings: Settings) -> FileLinks | None:
    """Links to the plan, signed with a key derived from the app password; None without
    PUBLIC_BASE_URL, since nobody's browser could reach them."""
    if not settings.public_base_url:
        return None
    secret = (settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password
              else _local_secret())
    return FileLinks(FileLinks.derive_key(secret), settings.public_base_url, SystemClock())


class TeamsBot(Bot):
    def __init__(self, intake: Intake, conversations: Conversations,
                 files: Callable[[str, str], PlanAttachment] | None = None) -> None:
        """`files(workshop id, tenant)`: the plan of that tenant's workshop (files.tenant_plans)."""
        self.intake = intake
        self.conversations = conversations
        self.files = files
        self._redraws: set[asyncio.Task[None]] = set()

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type == ActivityTypes.invoke and activity.name == "fileConsent/invoke":
            await self._file_consent(turn_context)
            return
        if activity.type == ActivityTypes.invoke:
            # One the bot offers nothing for (it makes no task modules, message extensions or
            # Action.Execute cards): the caller's mistake. Unanswered, the SDK answers 501, a
            # 5xx, as if the bot were failing.
            await _answer_invoke(turn_context, 400)
            return
        if activity.type not in (ActivityTypes.message, ActivityTypes.conversation_update):
            return  # invokes, typing, reactions: nothing the workshop needs
        if activity.conversation is None or not activity.conversation.id or activity.from_property is None:
            return  # nowhere to answer, or nobody to answer: nothing to do
        try:
            # Both read the store, where a read may wait for a lock (SQLite lets one transaction
            # in at a time): off the event loop, so that other requests do not wait with it.
            events = await asyncio.to_thread(self._read, activity)
        except ValueError:
            log.warning("ignored a Teams activity the bot cannot read (a card it did not make?)")
            return
        for event in events:
            if not isinstance(event, FormSubmitted):
                await self.intake.take(event)
                continue
            result = await self.intake.handle(event)
            # A duplicate too: it is Teams sending again a submission whose turn may have
            # died between storing it and redrawing its card. Only a submission without
            # form errors is stored, so the card is drawn as that turn drew it: done.
            await self._answer_on_card(turn_context, event, result)

    def _read(self, activity: Activity) -> list[Event]:
        """Remember where the activity came from, then read its events (ValueError: unreadable)."""
        is_group_thread = self._group_threads(activity)
        self._remember(activity, is_group_thread)
        return parse.events(activity, is_group_thread)

    def _group_threads(self, activity: Activity) -> Callable[[str], bool]:
        """`Conversations.is_group_thread` for this turn: asked once per conversation (it reads
        the store whenever the answer is no, since the deliverer may have made the thread), and
        not at all for a new post, whose thread is its own (the bot made the root of each group's)."""
        own_thread = f";messageid={activity.id}"
        answers: dict[str, bool] = {}

        def is_group_thread(key: str) -> bool:
            if activity.id and key.endswith(own_thread):
                return False
            if key not in answers:
                answers[key] = self.conversations.is_group_thread(key)
            return answers[key]

        return is_group_thread

    def _remember(self, activity: Activity, is_group_thread: Callable[[str], bool] | None = None) -> None:
        """How to reach this conversation later: a channel's new posts go to the channel
        itself, a group's thread keeps its own id."""
        conversation_id = activity.conversation.id
        key = parse.conversation_key(conversation_id, is_group_thread or self._group_threads(activity))
        reference: dict[str, Any] = TurnContext.get_conversation_reference(activity).serialize()
        reference["conversation"]["id"] = key.removeprefix(parse.PREFIX)
        existing = self.conversations.place(key)
        kind = activity.conversation.conversation_type or "channel"
        place = Place(reference, parse.org_of(activity), kind,
                      group_thread=bool(existing and existing.group_thread))
        if existing is not None and _lasting(existing) == _lasting(place):
            return  # only who wrote, and which message, changed: a write per turn for nothing
        self.conversations.remember(key, place)

    async def _answer_on_card(self, turn_context: TurnContext, event: FormSubmitted,
                              result: Result) -> None:
        card_id = turn_context.activity.reply_to_id
        # It may read the store (and on SQLite wait for a writer): not on the event loop, where
        # every other request would wait with it (bench/load.py caught it there).
        opened = await asyncio.to_thread(self.conversations.form, card_id) if card_id else None
        if opened is None:
            return
        form = opened.form
        drawn = replace(form, args={**form.args, parse.ORIGIN: opened.conversation})
        card = _redrawn(drawn, result.form_errors, event.values)
        if card is None:
            return
        if not result.form_errors:
            card = {key: value for key, value in card.items() if key != "actions"}  # saved: done
        content = attachment(card)
        update = Activity(id=card_id, type=ActivityTypes.message,
                          attachments=[CardAttachment(content_type=content["contentType"],
                                                      content=content["content"])])
        connector = turn_context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
        conversation_id = turn_context.activity.conversation.id
        done, hint = await redraw_card(connector, conversation_id, update)
        if not done:  # Teams is throttling or failing: go on trying after the turn
            later = asyncio.create_task(keep_redrawing(connector, conversation_id, update, hint))
            self._redraws.add(later)  # kept until done: a task nobody holds may be collected
            later.add_done_callback(self._redraws.discard)

    async def _file_consent(self, turn_context: TurnContext) -> None:
        """The person allowed the plan into their OneDrive: upload it there and show it as a
        file in the chat (a decline needs no more than the answer)."""
        value = turn_context.activity.value if isinstance(turn_context.activity.value, dict) else {}
        status = 200
        if value.get("action") == "accept" and self.files is not None:
            try:
                await self._upload_plan(turn_context, value)
            except requests.RequestException as error:  # OneDrive did not take it
                log.warning("the plan could not be put in OneDrive: %s", type(error).__name__)
                status = 500
            except (UnknownWorkshop, KeyError, TypeError, ValueError) as error:
                # No consent the bot asked for: no such workshop (or another tenant's), or not
                # the shape Teams sends. The caller's mistake, not the bot's (was a 500).
                log.warning("refused a file consent: %s", type(error).__name__)
                status = 400
        await _answer_invoke(turn_context, status)

    async def _upload_plan(self, turn_context: TurnContext, value: dict[str, Any]) -> None:
        info = value["uploadInfo"]
        if not str(info["uploadUrl"]).startswith("https://"):
            raise ValueError("not an upload session of OneDrive")
        # read before uploading: a session it cannot show as a file gets no plan either
        card = CardAttachment(content_type=FILE_INFO, content_url=info["contentUrl"], name=info["name"],
                              content={"uniqueId": info["uniqueId"], "fileType": info["fileType"]})
        assert self.files is not None
        # The workshop's id comes back from the client, so it is only taken for the sender's
        # own tenant: another organisation naming it must not get its plan.
        plan = await asyncio.to_thread(self.files, str(value["context"]["workshop"]),
                                       parse.org_of(turn_context.activity))
        size = len(plan.data)
        answer = await asyncio.to_thread(
            requests.put, info["uploadUrl"], data=plan.data, timeout=30,
            headers={"Content-Length": str(size), "Content-Range": f"bytes 0-{size - 1}/{size}"})
        answer.raise_for_status()
        await turn_context.send_activity(Activity(type=ActivityTypes.message, attachments=[card]))


def _redrawn(form: Form, errors: Mapping[str, str], values: Mapping[str, str]) -> Card | None:
    """The form card drawn again with its errors and what was typed, if that fits in a card.
    form_card refuses a card Teams would refuse, and a value of 100 kB made it raise out of
    the turn (a 500, and the same again on each retry of the Bot Connector). Teams' own client
    stops at each field's maxLength, so such a value came some other way: without it, or
    else not drawn again (the submission itself is handled either way)."""
    for typed in (values, {}):
        try:
            return form_card(form, errors, typed)
        except ValueError:
            continue
    log.warning("a submitted %r form card is too large to draw again", form.form)
    return None


async def _answer_invoke(turn_context: TurnContext, status: int) -> None:
    """The HTTP status the invoke is answered with (the SDK sends no activity for it)."""
    await turn_context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                              value=InvokeResponse(status=status)))


# What a reference says about the turn it came from, not about the conversation: a delivery
# posts to the conversation itself (deliver.py), so these need not be kept up to date.
_TURN_FIELDS = ("activityId", "user", "locale")


def _lasting(place: Place) -> Place:
    return replace(place, reference={key: value for key, value in place.reference.items()
                                     if key not in _TURN_FIELDS})


REDRAW_WAITS = (1, 2, 5, 15, 30, 60)  # seconds between tries; Teams' Retry-After comes first


async def redraw_card(connector: ConnectorClient, conversation_id: str,
                      update: Activity) -> tuple[bool, float | None]:
    """One try at drawing a form card anew after its submission: (done, Teams' Retry-After).
    Done means drawn, or never will be (the card is gone)."""
    try:
        await connector.conversations.update_activity(conversation_id, update.id, update)
        return True, None
    except Exception as error:  # noqa: BLE001 - whatever it was, only the card lags
        failure = failure_of(error)
        if failure.permanent:
            log.warning("could not redraw a form card in Teams: %s", failure)
        return failure.permanent, failure.retry_after


async def keep_redrawing(connector: ConnectorClient, conversation_id: str, update: Activity,
                         hint: float | None) -> None:
    """After the turn, while Teams throttles or fails: a saved form must lose its button, or a
    second press would look like it did nothing. The answer itself is stored already."""
    for wait in REDRAW_WAITS:
        await asyncio.sleep(hint if hint is not None else wait)
        done, hint = await redraw_card(connector, conversation_id, update)
        if done:
            return
    log.warning("gave up redrawing a form card in Teams")


def teams_route(adapter: CloudAdapter, bot: TeamsBot) -> Callable[[web.Request], Any]:
    """POST /api/messages: what CloudAdapter.process does for a POST, but a body that is no
    activity is a 400. Handed the request, CloudAdapter parses the JSON again and deserializes
    it with msrest, whose DeserializationError (`"conversation": "x"`, `"entities": [1]`, a
    timestamp that is no date) escaped as a 500; so the route reads the activity itself."""

    async def messages(request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected an activity as JSON"}, status=415)
        try:
            body = await request.json(loads=_loads)
        except LookupError:  # a charset Python does not know: "application/json; charset=x" (was a 500)
            return web.json_response({"error": "unknown charset"}, status=415)
        except (ValueError, RecursionError):  # deep nesting ("[[[[…") is a RecursionError (was a 500)
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if not isinstance(body, dict) or not body.get("type"):
            return web.json_response({"error": "not an activity"}, status=400)
        try:
            activity = Activity().deserialize(body)
        except (DeserializationError, RecursionError):
            return web.json_response({"error": "not an activity"}, status=400)
        try:
            invoke = await adapter.process_activity(request.headers.get("Authorization", ""), activity,
                                                    bot.on_turn)
        except PermissionError:  # a missing, forged or expired token (auth.py)
            return web.json_response({"error": "unauthorized"}, status=401)
        if invoke is None:
            return web.Response(status=201)
        # The SDK answers `"deliveryMode": "expectReplies"` with a body it has serialized
        # already, which serializer_helper took for a model (a 500, in CloudAdapter too).
        body = serializer_helper(invoke.body) if isinstance(invoke.body, Model) else invoke.body
        return web.json_response(body, status=invoke.status)

    return messages


# A NUL or a lone surrogate can only come escaped ("\\u0000", "\\ud800"): json.loads takes
# no raw control character in a string, and the body was read as strict UTF-8.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _loads(text: str) -> Any:
    """json.loads, with every string made storable: without NULs (PostgreSQL cannot store one;
    bot.events.storable drops them from events too, but a conversation id or a workshop id
    reached the database before that) and each lone surrogate as U+FFFD (JSON can escape one
    where no UTF-8 can carry it). Either failed the request with a 500. A pair json.loads has
    joined into its character already; only a body with such an escape in it is searched."""
    body = json.loads(text)
    return _storable(body) if _UNSTORABLE_ESCAPE.search(text) else body


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value.replace(NUL, ""))
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


def log_auth(settings: Settings) -> None:
    if not settings.microsoft_app_id:
        for _ in range(3):  # three lines of it: it must not scroll past unseen
            log.warning(AUTH_OFF_WARNING)

