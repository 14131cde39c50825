"""Slack as a platform for the outbox: each effect becomes Web API calls made with slack_sdk.

Failures become DeliveryErrors the dispatcher understands: a 429 carries Slack's Retry-After,
a 5xx, a timeout or a lost connection is retried, and an `ok: false` answer (a channel that is
gone, a token that is revoked) is permanent, since repeating the call gives the same answer.

A message carries its outbox item in its metadata. After a timeout, a lost connection, a 5xx
or a crash, Slack may have posted it all the same; the retry looks in the conversation's
history for it first, so nobody sees it twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackObjectFormationError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.pacing import Pacer
from adapters.slack.render import message_payloads, modal
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
from bot.plan.files import Attachment, UnknownWorkshop
from bot.ui import Form, Message, Text

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Slack answers these with HTTP 200 and `ok: false`, yet they pass: try again later.
PASSING_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                            "request_timeout"})

Payload = dict[str, Any]
ITEM = "ambition_outbox_item"  # the metadata's event_type: "a message of this outbox item"
HISTORY = 100  # newest messages searched for an earlier copy: it is at most seconds old


class SlackDeliverer:
    """The Deliverer of Slack conversations ("slack:<channel id>").

    The client becomes the deliverer's own: its retry handlers are removed, because the
    dispatcher retries every failure itself. slack_sdk's default handler repeats a request
    whose connection was reset, which may post a message Slack had already taken, twice.
    """

    def __init__(self, client: AsyncWebClient, files: Callable[[str], Attachment], *,
                 interval: float = 1.0, created: Callable[[Event], object] = lambda event: None) -> None:
        client.retry_handlers = []
        self.client = client
        self.files = files
        self.created = created  # hands "bind this new channel" back to the service
        self.pacer = Pacer(interval)

    async def deliver(self, effect: Effect, ref: str | None) -> str | None:
        try:
            return await self._deliver(effect, ref)
        except Partial as partial:
            failure = failure_of(partial.__cause__)
            failure.progress = partial.progress
            raise failure from partial.__cause__
        except Exception as error:
            raise failure_of(error) from error

    async def _deliver(self, effect: Effect, ref: str | None) -> str | None:
        match effect:
            case Post(conversation, message):
                return await self._post(channel_of(conversation), payloads_of(message), ref)
            case Update(conversation, _, message):
                return await self._update(channel_of(conversation), ref, message)
            case PostPrivate(conversation, user, message):
                await self._post_private(channel_of(conversation), user_of(user), message)
            case Direct(_, user, message):  # posted to a user id, Slack opens the DM with the app
                return await self._post(user_of(user), payloads_of(message), ref)
            case OpenForm(conversation, user, form, trigger):
                await self._open_form(conversation, user_of(user), form, trigger)
            case SendFile(conversation, workshop_id, message):
                await self._send_file(channel_of(conversation), workshop_id, message)
            case Invite(conversation, users):
                await self._invite(channel_of(conversation), users)
            case CreateConversation(_, org, workshop_id, group, name, requested_by):
                # An earlier attempt may have made the channel already (its progress): a
                # second conversations.create would make a second channel, "…-2".
                channel = ref or await self._create_channel(name)
                try:
                    await self._invite_creator(channel, user_of(requested_by))
                    bind = channel_created(org, workshop_id, group, "slack:" + channel,
                                           Actor(requested_by, requested_by))
                    await asyncio.to_thread(self.created, bind)
                except Exception as error:
                    raise Partial(channel) from error
            case _:
                raise DeliveryError(f"Slack does not deliver {type(effect).__name__}", permanent=True)
        return None

    async def _invite(self, channel: str, users: tuple[str, ...]) -> None:
        """People of this workspace into a group's channel; those in it already stay as they are."""
        ids = [user_of(u) for u in users if u.startswith("slack:")]
        if not ids:
            return
        try:
            await self.client.conversations_invite(channel=channel, users=",".join(ids), force=True)
        except SlackApiError as error:
            if error_code(error.response) not in ("already_in_channel", "cant_invite_self"):
                raise

    async def _create_channel(self, name: str) -> str:
        """A public channel; a taken name gets a number."""
        base = re.sub(r"[^a-z0-9_-]+", "-", name.casefold()).strip("-")[:70] or "ambition"
        for attempt in range(1, 10):
            try:
                answer = await self.client.conversations_create(
                    name=base if attempt == 1 else f"{base}-{attempt}")
                break
            except SlackApiError as error:
                if error_code(error.response) != "name_taken":
                    raise
        else:
            raise DeliveryError(f"no free channel name like {base!r}", permanent=True)
        return str(answer["channel"]["id"])

    async def _invite_creator(self, channel: str, user: str) -> None:
        try:
            await self.client.conversations_invite(channel=channel, users=user)
        except SlackApiError as error:  # e.g. already_in_channel: they are there, which is the point
            if api_failure(error.response).permanent:
                log.info("inviting %s to %s: %s", user, channel, error_code(error.response))
            else:
                raise

    async def _post(self, channel: str, payloads: list[Payload], progress: str | None = None) -> str:
        """Post each payload in order; the ref is the first's, the one a later Update edits.
        A message split in parts that failed halfway goes on after the parts already posted."""
        attempt = ATTEMPT.get()
        refs = progress.split() if progress else []
        if attempt is not None and attempt.in_doubt:
            refs = await self._posted_before(channel, attempt.item) or refs
        for part, payload in enumerate(payloads[len(refs):], start=len(refs)):
            try:
                refs.append(await self._post_one(channel, payload, part))
            except Exception as error:
                if refs:
                    raise Partial(" ".join(refs)) from error
                raise
        return refs[0]

    async def _post_one(self, channel: str, payload: Payload, part: int) -> str:
        attempt = ATTEMPT.get()
        if attempt is not None:
            payload = {**payload, "metadata": {"event_type": ITEM,
                                               "event_payload": {"item": attempt.item, "part": part}}}
        async with self.pacer.turn(channel):
            answer = await self.client.chat_postMessage(channel=channel, **payload)
        return f"{answer['channel']}|{answer['ts']}"

    async def _posted_before(self, channel: str, item: str) -> list[str]:
        """The refs of this item's parts that an earlier attempt posted, in order (a prefix of
        them: they were posted in order). Where the history cannot be read (an app installed
        before it had the history scopes), it posts again rather than leave a gap."""
        try:
            if not channel.startswith(("C", "G", "D")):  # a person: their DM with the app
                opened = await self.client.conversations_open(users=channel)
                channel = str(opened["channel"]["id"])
            answer = await self.client.conversations_history(channel=channel, limit=HISTORY,
                                                             include_all_metadata=True)
        except SlackApiError as error:
            failure = api_failure(error.response)
            if not failure.permanent:
                raise
            log.warning("cannot look for an earlier copy of outbox item %s in %s (%s): posting "
                        "again, it may show twice", item, channel, error_code(error.response))
            return []
        parts: dict[int, str] = {}
        for message in answer.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == ITEM and str(payload.get("item")) == item:
                parts[int(payload.get("part", 0))] = f"{channel}|{message['ts']}"
        found: list[str] = []
        while len(found) in parts:
            found.append(parts[len(found)])
        if found:
            log.info("outbox item %s was posted before its answer was lost: not again", item)
        return found

    async def _update(self, channel: str, ref: str | None, message: Message) -> str:
        """Edit the first message in place; the rest of one that outgrew it follows as new
        messages. `ref` may carry, after the first's, the parts a failed attempt posted."""
        payloads = payloads_of(message)
        if ref is None:  # the post it replaces never went out: this is its first showing
            return await self._post(channel, payloads)
        first, *rest = ref.split()
        posted_in, _, ts = first.partition("|")
        if not ts:
            raise DeliveryError(f"not a Slack message ref: {ref!r}", permanent=True)
        await self.client.chat_update(channel=posted_in or channel, ts=ts, **payloads[0])
        if len(payloads) > 1:
            try:
                await self._post(channel, payloads[1:], " ".join(rest) or None)
            except Partial as partial:
                raise Partial(f"{first} {partial.progress}") from partial.__cause__
            except Exception as error:
                raise Partial(first) from error
        return first

    async def _post_private(self, channel: str, user: str, message: Message) -> None:
        for payload in payloads_of(message):
            await self.client.chat_postEphemeral(channel=channel, user=user, **payload)

    async def _open_form(self, conversation: str, user: str, form: Form, trigger: str) -> None:
        if trigger:
            try:
                await self.client.views_open(trigger_id=trigger, view=view_of(form, conversation))
                return
            except SlackApiError as error:
                code = error_code(error.response)
                if code == "exchanged_trigger_id":  # likely an earlier try opened it, then timed out
                    log.info("the form for %s was already opened with its trigger", user)
                    return
                if code != "expired_trigger_id":
                    raise
        # A trigger lives three seconds: after a retry or a queue it is gone, and only a new
        # press of the button gives a new one.
        await self._post_private(channel_of(conversation), user,
                                 Message((Text(form.expired),), summary=form.expired))

    async def _send_file(self, channel: str, workshop_id: str, message: Message) -> None:
        try:
            attachment = self.files(workshop_id)
        except UnknownWorkshop as error:
            raise DeliveryError(f"no workshop {workshop_id!r} to build the plan of",
                                permanent=True) from error
        comment = payloads_of(message)[0]["text"]
        async with self.pacer.turn(channel):  # the file arrives as a message in the channel
            await self.client.files_upload_v2(channel=channel, content=attachment.data,
                                              filename=attachment.name, title=attachment.name,
                                              initial_comment=comment)


class Partial(Exception):
    """A delivery that failed after some of its steps went through: `progress` says which, so
    that the retry (which gets it back as its ref) does not do them twice."""

    def __init__(self, progress: str) -> None:
        super().__init__(progress)
        self.progress = progress


def failure_of(error: BaseException | None) -> DeliveryError:
    """What a failure means for the dispatcher."""
    match error:
        case DeliveryError():
            return error
        case SlackApiError():
            return api_failure(error.response)
        case SlackRequestError():  # mostly: the upload host refused the file's bytes
            return DeliveryError(f"Slack request failed: {error}")
        case aiohttp.ClientConnectorError():  # never reached Slack: nothing was done
            return DeliveryError(f"Slack did not answer: {type(error).__name__} {error}")
        case TimeoutError() | aiohttp.ClientError() | OSError():
            return DeliveryError(f"Slack did not answer: {type(error).__name__} {error}", in_doubt=True)
    return DeliveryError(f"delivering to Slack failed: {type(error).__name__}: {error}")


def payloads_of(message: Message) -> list[Payload]:
    """The message as Block Kit; one that cannot be drawn never can, so it is not retried."""
    try:
        return message_payloads(message)
    except (ValueError, SlackObjectFormationError) as error:
        raise DeliveryError(f"the message cannot be drawn for Slack: {error}", permanent=True) from error


def view_of(form: Form, conversation: str) -> Payload:
    """The modal, remembering where it was opened: its submit must answer in that channel."""
    try:
        view = modal(form)
    except (ValueError, SlackObjectFormationError) as error:
        raise DeliveryError(f"the form cannot be drawn for Slack: {error}", permanent=True) from error
    view["private_metadata"] = json.dumps({"args": dict(form.args), "conversation": conversation})
    return view


def channel_of(conversation: str) -> str:
    return _strip(conversation, "conversation")


def user_of(user: str) -> str:
    return _strip(user, "user")


def _strip(platform_id: str, what: str) -> str:
    platform, _, local = platform_id.partition(":")
    if platform != PLATFORM or not local:
        raise DeliveryError(f"not a Slack {what}: {platform_id!r}", permanent=True)
    return local


def api_failure(response: AsyncSlackResponse) -> DeliveryError:
    """What a failed Web API call means for the dispatcher. Names the method and Slack's error
    code, nothing from the request: its headers carry the token."""
    method = str(response.api_url).rstrip("/").rpartition("/")[2]
    status = response.status_code
    code = error_code(response)
    what = f"Slack {method} failed: {code or f'HTTP {status}'}"
    if status == 429 or code == "ratelimited":  # refused before anything was done
        return DeliveryError(what, retry_after=retry_after(response.headers))
    if status >= 500 or code in PASSING_ERRORS:
        return DeliveryError(what, retry_after=retry_after(response.headers), in_doubt=True)
    return DeliveryError(what, permanent=True)


def error_code(response: AsyncSlackResponse) -> str:
    data = response.data
    return str(data.get("error") or "") if isinstance(data, Mapping) else ""

