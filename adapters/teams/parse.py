"""Teams activities (already authenticated by botbuilder) as the engine's neutral events.

Ids are qualified ("teams:19:…@thread.tacv2", "teams:29:…") so they never collide with another
platform's, and the organisation is the Teams tenant: an activity from another tenant cannot
reach a workshop. Every event id is the activity's id (unique within its conversation, so both make the id),
which a re-sent activity keeps.

In a channel every top-level post starts its own thread ("19:…;messageid=…"), so a command
typed in a new post belongs to the channel, not to that post's thread; only the threads the
bot itself made for a group are conversations of their own.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from botbuilder.schema import Activity, ActivityTypes, ChannelAccount

from adapters.teams.render import FORM_SUBMIT, parse_submit
from bot.events import Action, Actor, Command, Event, FormSubmitted, MemberJoined

PREFIX = "teams:"
T = TypeVar("T")
ORIGIN = "teams_origin"  # a form card's own arg: the conversation whose form it is
# Neither may scan past the next "<at>" or "<": tried at each of them in a text of "<at><at>…"
# or "<<<…" with nothing to close them, `<at>.*?</at>` and `<[^>]+>` read on to the end every
# time, a quadratic 9 s for 100 kB of it (the server stalls meanwhile).
_MENTION = re.compile(r"<at>(?:(?!</?at>).)*</at>", re.DOTALL)
_TAGS = re.compile(r"<[^<>]+>")


def org_of(activity: Activity) -> str:
    """The tenant: Teams says it in channelData (botbuilder-schema 4.17 reads the conversation's
    `tenantId` under another name, so that one arrives empty)."""
    data = activity.channel_data if isinstance(activity.channel_data, Mapping) else {}
    tenant = data.get("tenant")
    return str(tenant.get("id") or "") if isinstance(tenant, Mapping) else ""


def channel_of(conversation_id: str) -> str:
    return conversation_id.split(";messageid=", 1)[0]


def conversation_key(conversation_id: str, is_group_thread: Callable[[str], bool]) -> str:
    """The conversation a workshop knows: the channel, or a group's own thread."""
    full = PREFIX + conversation_id
    return full if is_group_thread(full) else PREFIX + channel_of(conversation_id)


def present(items: list[T] | None) -> list[T]:
    """A list field's items without the nulls JSON can hold there (`"entities": [null]`), which
    msrest keeps as None: they named nobody, and reading them failed the request."""
    return [item for item in items or () if item is not None]


def actor_of(account: ChannelAccount | None) -> Actor:
    """A person by their Teams user id ("29:…"), the id a direct message is sent to."""
    if account is None or not account.id:
        raise ValueError("an activity from nobody")
    return Actor(PREFIX + account.id, account.name or account.id)


def events(activity: Activity, is_group_thread: Callable[[str], bool]) -> list[Event]:
    """What the activity means for the engine; [] for what is none of its business."""
    conversation = conversation_key(activity.conversation.id, is_group_thread)
    base: dict[str, Any] = {"org": org_of(activity), "conversation": conversation,
                            "actor": actor_of(activity.from_property)}
    if activity.type == ActivityTypes.message:
        if isinstance(activity.value, Mapping):
            return [submitted(activity, base)]
        return [Command(event_id=event_id(activity), text=command_text(activity),
                        mentions=mentioned(activity), **base)]
    if activity.type == ActivityTypes.conversation_update:
        bot = activity.recipient.id if activity.recipient else ""
        added = present(activity.members_added)
        # The bot added to a team: whoever added it learns how to start (the help, to them).
        welcome = [Command(event_id=event_id(activity) + ":welcome", text="help", **base)
                   for member in added if member.id == bot]
        return welcome + [MemberJoined(event_id=f"{event_id(activity)}:{member.id}",
                                       **(base | {"actor": actor_of(member)}))
                          for member in added if member.id != bot]
    return []


def submitted(activity: Activity, base: Mapping[str, Any]) -> Event:
    """An Adaptive Card's Action.Submit: a button, or a form card's submit."""
    action, args, values = parse_submit(activity.value)
    workshop = args.get("workshop", "")
    if action != FORM_SUBMIT:
        return Action(event_id=event_id(activity), workshop_id=workshop, action=action, args=args, **base)
    form = args.pop("form", "")
    origin = args.pop(ORIGIN, "")
    where = dict(base) | ({"conversation": origin} if origin.startswith(PREFIX) else {})
    # The same card sent again with the same values is the same submission (a second press of
    # a button the card still shows while it is being redrawn); corrected values are new.
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    card = activity.reply_to_id or activity.id
    return FormSubmitted(event_id=f"teams-form:{activity.conversation.id}:{card}:{digest}",
                         workshop_id=workshop, form=form, args=args,
                         values=values, **where)


def event_id(activity: Activity) -> str:
    """Teams' ids are the post's time in milliseconds: only with its conversation is one unique."""
    return f"teams:{activity.conversation.id}:{activity.id}"


def command_text(activity: Activity) -> str:
    """The words after `@Ambition`: the bot's mention out, anyone else's mention as their name,
    Teams' markup and entities back to plain text."""
    text = activity.text or ""
    for mention in _mentions_of(activity, activity.recipient.id if activity.recipient else ""):
        text = text.replace(mention, " ")
    text = _MENTION.sub(lambda match: _TAGS.sub("", match.group(0)), text)
    return " ".join(html.unescape(_TAGS.sub(" ", text)).split())


def mentioned(activity: Activity) -> tuple[Actor, ...]:
    """Everyone the activity @mentions but the bot, once each, in the order of its entities."""
    bot = activity.recipient.id if activity.recipient else ""
    people: dict[str, Actor] = {}
    for entity in present(activity.entities):
        whom = (entity.additional_properties or {}).get("mentioned")
        if entity.type == "mention" and isinstance(whom, Mapping) and whom.get("id"):
            account = str(whom["id"])
            if account != bot:
                people.setdefault(account, Actor(PREFIX + account, str(whom.get("name") or account)))
    return tuple(people.values())


def _mentions_of(activity: Activity, account: str) -> list[str]:
    """The `<at>…</at>` texts that mention `account` (the entities say whom each one names)."""
    found = []
    for entity in present(activity.entities):
        data = entity.additional_properties or {}
        mentioned = data.get("mentioned")
        if entity.type == "mention" and isinstance(mentioned, Mapping) and mentioned.get("id") == account:
            found.append(str(data.get("text") or ""))
    return [text for text in found if text]
