"""Teams as a platform for the outbox: each effect becomes Bot Connector calls, proactively.

Every send goes through `CloudAdapter.continue_conversation` with the reference remembered
when the bot first heard from the conversation, so nudges reach their channel also after a
restart. Inside it the connector client is used directly: a channel gets a new post, a
group's thread a reply inside it, and a card an in-place update.

Failures become DeliveryErrors: 429 (with Retry-After), 412, 5xx, timeouts and dropped
connections are retried; other refusals (the bot was removed, the conversation is gone) are
permanent, since asking again gives the same answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import aiohttp
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationParameters,
)
from botbuilder.schema import Attachment as CardAttachment
from botframework.connector.aio import ConnectorClient
from msrest.exceptions import (
    ClientRequestError,
    DeserializationError,
    HttpOperationError,
)

from adapters.pacing import Pacer
from adapters.teams.auth import NoBotToken, close_connections
from adapters.teams.conversations import Conversations, Place
from adapters.teams.links import FileLinks
from adapters.teams.parse import ORIGIN, PREFIX
from adapters.teams.render import attachment, fallback_text, form_card, message_cards
from bot.dispatch import ATTEMPT, DeliveryError, retry_after
from bot.effects import (
    CreateConversation,
    Direct,
    Effect,
    Invite,
    OpenForm,
    Post,
    PostPrivate,
    SendFile,
    Update,
)
from bot.events import Actor, Event, channel_created
from bot.plan.files import Attachment as PlanAttachment
from bot.plan.files import UnknownWorkshop
from bot.ui import Button, Buttons, Message

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRIED_STATUSES = frozenset({408, 412, 429, 500, 502, 503, 504})
FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
OPEN_URL = "open_url"  # a button of the adapter's own: opens its `url` in the browser


class TeamsDeliverer:
    """The Deliverer of Teams conversations ("teams:<conversation id>")."""

    def __init__(self, adapter: CloudAdapter, app_id: str, conversations: Conversations,
                 links: FileLinks | None, *, files: Callable[[str], PlanAttachment] | None = None,
                 interval: float = 0.5, created: Callable[[Event], object] = lambda event: None) -> None:
        self.adapter = adapter
        self.app_id = app_id
        self.conversations = conversations
        self.files = files  # None: personal chats get the link too, not the file
        self.links = links  # None: no PUBLIC_BASE_URL, so no plan can be linked to
        self.created = created
        self.pacer = Pacer(interval)

    async def aclose(self) -> None:
        """Close the connections this event loop made; the dispatcher calls it as it stops."""
        await close_connections(self.adapter)

    async def deliver(self, effect: Effect, ref: str | None) -> str | None:
        attempt = ATTEMPT.get()
        if attempt is not None and attempt.in_doubt and not isinstance(effect, Update):
            # The connector has no idempotency key and no way to list what was posted.
            log.warning("outbox item %s may have been posted by an attempt whose answer was "
                        "lost; Teams cannot be asked, so it is sent again", attempt.item)
        try:
            return await self._deliver(effect, ref)
        except DeliveryError:
            raise
        except Exception as error:
            raise failure_of(error) from error

    async def _deliver(self, effect: Effect, ref: str | None) -> str | None:
        match effect:
            case Post(conversation, message):
                return await self._post(self._place(conversation), message_cards(message),
                                        fallback_text(message), ref)
            case Update(conversation, _, message):
                return await self._update(self._place(conversation), message, ref)
            case Direct(conversation, user, message):
                direct = await self._direct(self._place(conversation), user)
                return await self._post(direct, message_cards(message), fallback_text(message), ref)
            case PostPrivate(conversation, user, message):
                direct = await self._direct(self._place(conversation), user)
                await self._post(direct, message_cards(message), fallback_text(message), ref)
            case OpenForm(conversation, _, form, _):
                # The card carries where it was opened: a submit from a thread of its own
                # answers in the conversation the person acted in.
                drawn = replace(form, args={**form.args, ORIGIN: conversation})
                posted = await self._post(self._place(conversation), [form_card(drawn)], form.title)
                self.conversations.remember_form(posted.partition("|")[2], effect)
            case SendFile(conversation, workshop_id, message, open_label):
                place = self._place(conversation)
                if place.kind == "personal" and self.files is not None:
                    await self._ask_consent(place, self.files, workshop_id, message)
                else:
                    await self._send_link(place, workshop_id, message, open_label, ref)
            case Invite():
                pass  # a team's channels are open to its members: there is no one to invite
            case CreateConversation(conversation, org, workshop_id, group, name, requested_by):
                await self._create_thread(self._place(conversation), org, workshop_id, group,
                                          name, requested_by, ref)
            case _:
                raise DeliveryError(f"Teams does not deliver {type(effect).__name__}", permanent=True)
        return None

    # -- posting ------------------------------------------------------------------------

    async def _post(self, place: Place, cards: list[dict[str, Any]], summary: str,
                    progress: str | None = None) -> str:
        """Post each card in order; the ref is the first's. A message split in cards that
        failed halfway goes on after the cards already posted."""
        refs = progress.split() if progress else []
        for card in cards[len(refs):]:
            try:
                refs.append(await self._send(place, card_activity(card, summary)))
            except Exception as error:
                if refs:
                    failure = failure_of(error)
                    failure.progress = " ".join(refs)
                    raise failure from error
                raise
        return refs[0]

    async def _send(self, place: Place, activity: Activity) -> str:
        async def send(connector: ConnectorClient) -> str:
            answer = await connector.conversations.send_to_conversation(place.conversation_id, activity)
            return f"{place.conversation_id}|{answer.id}"

        async with self.pacer.turn(place.conversation_id):
            return await self._connected(place, send)

    async def _update(self, place: Place, message: Message, ref: str | None) -> str:
        """Edit the first card in place; the rest of a message that outgrew it follows as new
        posts. `ref` may carry, after the first card's, the cards a failed attempt posted."""
        cards = message_cards(message)
        if ref is None:  # the post it replaces never went out: this is its first showing
            return await self._post(place, cards, fallback_text(message))
        first, *rest = ref.split()
        conversation_id, _, activity_id = first.partition("|")
        activity = card_activity(cards[0], fallback_text(message))
        activity.id = activity_id

        async def update(connector: ConnectorClient) -> None:
            await connector.conversations.update_activity(conversation_id, activity_id, activity)

        await self._connected(place, update)
        if len(cards) > 1:
            try:
                await self._post(place, cards[1:], fallback_text(message), " ".join(rest) or None)
            except DeliveryError as failure:
                failure.progress = " ".join([first, *(failure.progress or "").split()])
                raise
        return first

    # -- places -------------------------------------------------------------------------

    def _place(self, conversation: str) -> Place:
        place = self.conversations.place(conversation)
        if place is None:  # the bot never heard from there: it cannot write there either
            raise DeliveryError(f"no Teams conversation reference for {conversation!r}", permanent=True)
        return place

    async def _direct(self, where: Place, user: str) -> Place:
        """The one-to-one chat with `user`, made the first time (in the tenant of `where`)."""
        known = self.conversations.direct(user)
        if known is not None:
            return known
        member = ChannelAccount(id=user.removeprefix(PREFIX))
        bot = ChannelAccount(**where.reference.get("bot", {}))
        parameters = ConversationParameters(is_group=False, bot=bot, members=[member],
                                            tenant_id=where.tenant,
                                            channel_data={"tenant": {"id": where.tenant}})
        made = await self._connected(where, lambda c: c.conversations.create_conversation(parameters))
        reference = dict(where.reference) | {"conversation": {"id": made.id, "conversationType": "personal",
                                                               "tenantId": where.tenant},
                                             "user": {"id": member.id}}
        direct = Place(reference, where.tenant, kind="personal")
        self.conversations.remember_direct(user, direct)
        return direct

    async def _create_thread(self, plenum: Place, org: str, workshop_id: str, group: str,
                             name: str, requested_by: str, progress: str | None) -> None:
        """A group's own thread in the plenum channel: Teams bots cannot make channels
        without Microsoft Graph, but a thread keeps a group's work together just as well."""
        thread = progress
        if thread is None:
            channel = plenum.conversation_id.split(";messageid=")[0]
            opening = Activity(type=ActivityTypes.message, text=name)
            parameters = ConversationParameters(is_group=True, activity=opening,
                                                channel_data={"channel": {"id": channel}},
                                                tenant_id=plenum.tenant)
            made = await self._connected(plenum, lambda c: c.conversations.create_conversation(parameters))
            thread = str(made.id)
        try:
            reference = dict(plenum.reference) | {"conversation": {"id": thread, "isGroup": True,
                                                                   "conversationType": "channel"}}
            self.conversations.remember(PREFIX + thread, Place(reference, plenum.tenant,
                                                                group_thread=True))
            self.created(channel_created(org, workshop_id, group, PREFIX + thread,
                                         Actor(requested_by, requested_by)))
        except Exception as error:
            failure = failure_of(error)
            failure.progress = thread  # made already: the retry must not make a second one
            raise failure from error

    # -- files --------------------------------------------------------------------------

    async def _send_link(self, place: Place, workshop_id: str, message: Message, label: str,
                         progress: str | None) -> None:
        """The plan as a button that opens a signed, expiring link to the bot's own server."""
        if self.links is None:
            raise DeliveryError("PUBLIC_BASE_URL is not set: the plan cannot be linked to",
                                permanent=True)
        button = Button(label or message.summary, OPEN_URL, {"url": self.links.url(workshop_id)})
        linked = Message(message.blocks + (Buttons((button,)),), message.summary)
        cards = [link_buttons(card) for card in message_cards(linked)]
        await self._post(place, cards, fallback_text(message), progress)

    async def _ask_consent(self, place: Place, files: Callable[[str], PlanAttachment],
                           workshop_id: str, message: Message) -> None:
        """In a personal chat the file itself: Teams asks the person where to keep it (their
        OneDrive), and the bot uploads it when they allow it (app.py, fileConsent/invoke)."""
        try:
            plan = await asyncio.to_thread(files, workshop_id)
        except UnknownWorkshop as error:
            raise DeliveryError(f"no workshop {workshop_id!r} to build the plan of", permanent=True) from error
        consent = CardAttachment(content_type=FILE_CONSENT, name=plan.name, content={
            "description": fallback_text(message), "sizeInBytes": len(plan.data),
            "acceptContext": {"workshop": workshop_id}, "declineContext": {"workshop": workshop_id}})
        await self._send(place, Activity(type=ActivityTypes.message, attachments=[consent]))

    # -- the connector ------------------------------------------------------------------

    async def _connected(self, place: Place, work: Callable[[ConnectorClient], Awaitable[T]]) -> T:
        """Run `work` with a connector client for the conversation's service, authenticated."""
        done: list[T] = []

        async def callback(turn_context: TurnContext) -> None:
            done.append(await work(turn_context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]))

        await self.adapter.continue_conversation(place.conversation_reference, callback, self.app_id)
        return done[0]


def card_activity(card: dict[str, Any], summary: str) -> Activity:
    return Activity(type=ActivityTypes.message, summary=summary,
                    attachments=[CardAttachment(**_attachment_fields(attachment(card)))])


def _attachment_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"content_type": data["contentType"], "content": data["content"]}


def link_buttons(card: dict[str, Any]) -> dict[str, Any]:
    """Buttons whose action is "open_url" become Action.OpenUrl: the browser opens the link."""
    def convert(node: Any) -> Any:
        if isinstance(node, dict):
            data = node.get("data", {}).get("ambition", {}) if node.get("type") == "Action.Submit" else {}
            if data.get("action") == OPEN_URL:
                return {"type": "Action.OpenUrl", "title": node["title"], "url": data["args"]["url"]}
            return {key: convert(value) for key, value in node.items()}
        if isinstance(node, list):
            return [convert(item) for item in node]
        return node

    converted: dict[str, Any] = convert(card)
    return converted


def failure_of(error: BaseException) -> DeliveryError:
    """What a failure means for the dispatcher. Names the status, never the request: its
    headers carry the bot's token."""
    match error:
        case DeliveryError():
            return error
        case HttpOperationError():
            response = getattr(error, "response", None)
            # aiohttp's response (adapters/teams/transport.py), or requests' from the SDK's own
            status = int(getattr(response, "status", None) or getattr(response, "status_code", 0) or 0)
            what = f"Teams answered HTTP {status}"
            if status in RETRIED_STATUSES or status == 0:
                return DeliveryError(what, retry_after=retry_after(getattr(response, "headers", {}) or {}),
                                     in_doubt=status not in (412, 429))
            return DeliveryError(what, permanent=True)
        case DeserializationError():  # an HTML error page from a proxy: a 5xx in trouble
            return DeliveryError("Teams answered with an error page", in_doubt=True)
        case aiohttp.ClientConnectorError() | NoBotToken():  # the connector never saw it
            return DeliveryError(f"Teams did not answer: {type(error).__name__}")
        case ClientRequestError() | TimeoutError() | aiohttp.ClientError() | OSError():
            return DeliveryError(f"Teams did not answer: {type(error).__name__}", in_doubt=True)
    return DeliveryError(f"delivering to Teams failed: {type(error).__name__}: {error}")


