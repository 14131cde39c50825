"""Slack requests (already verified by slack-bolt) as the engine's neutral events.

Ids are qualified ("slack:C0123", "slack:U0456") so they never collide with another platform's,
and the organisation is the Slack team: a request from another team cannot reach a workshop.
Every event id is derived from what Slack sends again on a retry, so a retry is a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from adapters.slack.render import form_values, parse_button
from bot.events import Action, Actor, Command, FormSubmitted, MemberJoined

PREFIX = "slack:"
_MENTION = re.compile(r"<@([^|>]+)(?:\|([^>]*))?>")  # <@U123> or <@U123|hans>


def conversation(channel: str) -> str:
    return PREFIX + channel


def unqualified(qualified: str) -> str:
    return qualified.removeprefix(PREFIX)


def _actor(user: Mapping[str, Any] | str, name: str = "") -> Actor:
    if isinstance(user, str):
        return Actor(PREFIX + user, name or user)
    return Actor(PREFIX + str(user.get("id", "")),
                 str(user.get("name") or user.get("username") or user.get("id", "")))


def _team(body: Mapping[str, Any]) -> str:
    team = body.get("team")
    return str(team.get("id", "")) if isinstance(team, Mapping) else str(body.get("team_id", ""))


def _authorized(body: Mapping[str, Any]) -> str:
    """The user an event was delivered for: in a channel, the bot."""
    authorizations = body.get("authorizations") or [{}]
    return str(authorizations[0].get("user_id", ""))


def _plain(text: str) -> str:
    """The command without its mentions, and with the `&`, `<` and `>` Slack escapes as typed."""
    text = _MENTION.sub("", text).strip()
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _mentioned(text: str, bot: str) -> tuple[Actor, ...]:
    """Everyone `text` @mentions but the bot, once each, in order."""
    people: dict[str, Actor] = {}
    for user, name in _MENTION.findall(text):
        if user != bot:
            people.setdefault(user, _actor(user, name))
    return tuple(people.values())


def command(body: Mapping[str, Any], bot_user: str | None = None) -> Command:
    """`/ambition next`: Slack never retries a slash command, and each has its own trigger.
    The manifest has Slack escape the text, so that `@Hans` arrives as `<@U123|hans>`."""
    text = str(body.get("text", ""))
    return Command(event_id=f"slack-command:{body['trigger_id']}", org=_team(body),
                   conversation=conversation(str(body["channel_id"])),
                   actor=_actor(str(body["user_id"]), str(body.get("user_name", ""))),
                   trigger=str(body["trigger_id"]), text=_plain(text),
                   mentions=_mentioned(text, bot_user or ""))


def action(body: Mapping[str, Any]) -> Action:
    """A button: what it does comes from its value, which the bot wrote (and the engine checks)."""
    pressed = body["actions"][0]
    name, args = parse_button(str(pressed.get("value", "")))
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
    return Action(event_id=f"slack-action:{pressed.get('action_ts', '')}:{pressed.get('action_id', '')}",
                  org=_team(body), conversation=conversation(str(channel)), actor=_actor(body["user"]),
                  workshop_id=args.get("workshop", ""), trigger=str(body.get("trigger_id", "")),
                  action=name, args=args)


def submission(body: Mapping[str, Any]) -> FormSubmitted:
    """A modal's submit. The same values sent again are the same event; corrected ones are new."""
    view = body["view"]
    meta = json.loads(view.get("private_metadata") or "{}")
    args = {str(k): str(v) for k, v in (meta.get("args", meta) if isinstance(meta, dict) else {}).items()}
    values = form_values(view.get("state", {}).get("values", {}))
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    return FormSubmitted(event_id=f"slack-view:{view.get('id', '')}:{digest}", org=_team(body),
                         conversation=str(meta.get("conversation", "")) if isinstance(meta, dict) else "",
                         actor=_actor(body["user"]), workshop_id=args.get("workshop", ""),
                         form=str(view.get("callback_id", "")), args=args, values=values)


def mention(body: Mapping[str, Any], bot_user: str | None = None) -> Command:
    """`@Ambition next` in a channel: the mentions are not part of the command, and everyone
    mentioned but the bot (`bot_user`, else the user the event was delivered for) is one of its
    `mentions`."""
    event = body["event"]
    text = str(event.get("text", ""))
    return Command(event_id=f"slack-event:{body['event_id']}", org=_team(body),
                   conversation=conversation(str(event["channel"])), actor=_actor(str(event["user"])),
                   text=_plain(text), mentions=_mentioned(text, bot_user or _authorized(body)))


def joined(body: Mapping[str, Any]) -> MemberJoined:
    event = body["event"]
    return MemberJoined(event_id=f"slack-event:{body['event_id']}", org=_team(body),
                        conversation=conversation(str(event["channel"])), actor=_actor(str(event["user"])))
