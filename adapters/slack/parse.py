"""Slack requests (already verified by slack-bolt) as the engine's neutral events.

Ids are qualified ("slack:C0123", "slack:U0456") so they never collide with another platform's,
and the organisation is the Slack team: a request from another team cannot reach a workshop.
Every event id is derived from what Slack sends again on a retry, so a retry is a duplicate.

`request_body` and `problem` stand at the door: a body that is not shaped as Slack sends it
is `Malformed`, refused before slack-bolt or the engine reads it. slack-bolt indexes into a body
as Slack would send it, and a signed request of another shape failed inside it with a 500.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

from adapters.slack.render import form_values, parse_button
from bot.events import Action, Actor, Command, FormSubmitted, MemberJoined

PREFIX = "slack:"
_MENTION = re.compile(r"<@([^|>]+)(?:\|([^>]*))?>")  # <@U123> or <@U123|hans>


class Malformed(ValueError):
    """A request body that is not one Slack sends."""


def request_body(raw: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """A request's body as text (what its signature is over) and as Slack means it: the Events
    API's JSON, a slash command's form, or the JSON in an interactivity form's `payload`.
    Malformed where slack-bolt or this module could not read it (`problem`)."""
    try:
        # Slack sends UTF-8. Decoding by the charset a request claims failed with a 500 on
        # bytes that are not UTF-8, and on a charset that does not exist.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    if not text:
        body: Any = {}  # as slack-bolt reads it: a request of no kind, which it answers with 404
    elif content_type == "application/json" or text.startswith("{"):  # JSON as slack-bolt tells it
        body = _json(text, "the body")
    else:
        # A form field named `payload` holds interactivity JSON. slack-bolt looks for the word
        # anywhere in the body instead, so a slash command typed in a channel named
        # "payload-team", or with "payload" in its text, read as empty and went unanswered.
        form = dict(parse_qsl(text, keep_blank_values=True))
        body = _json(form["payload"], "the payload") if "payload" in form else form
    if (found := problem(body)) is not None:
        raise Malformed(found)
    return text, body


def _json(text: str, what: str) -> Any:
    try:
        value = json.loads(text)
        # JSON may escape half a UTF-16 pair on its own ("\ud800"): that is no text, and the
        # database failed to store it, with a 500. Encoding what was read finds any.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as error:  # RecursionError: "[[[[…", nested too deep
        raise Malformed(f"{what} is not JSON of Unicode text") from error
    return value


# The kinds of request the bot has a handler for, and those slack-bolt answers itself. Slack
# sends no other kind to this app (the manifest asks for no other), and slack-bolt indexes into
# the others as Slack would shape them.
HANDLED = frozenset({"command", "block_actions", "view_submission", "event_callback",
                     "url_verification", "ssl_check", "app_rate_limited"})

# Who and where a request is from, which slack-bolt looks for in every body and again in the
# objects it holds (_LIKE_THE_BODY, and each one in _LISTS): an id, or an object with an id.
_WHO = ("user", "team", "channel", "enterprise")
_LIKE_THE_BODY = ("event", "message", "previous_message", "item", "assistant_thread")
_LISTS = ("authorizations", "response_urls")
_OBJECTS = ("view", "container", "function_data")
_IDS = ("user_id", "team_id", "channel_id", "enterprise_id", "event_id", "trigger_id")
_DEPTH = 4  # Slack nests those objects 3 deep at most (a message_changed event's message)


def kind(body: Mapping[str, Any]) -> str:
    """What a request is: a slash command (a form without a type), or its `type`."""
    if "type" not in body:
        return "command" if "command" in body else "ssl_check" if "ssl_check" in body else ""
    return str(body["type"])[:40] if "command" not in body else "a command with a type"


def problem(body: Any) -> str | None:
    """Why `body` is not a request slack-bolt and this module can read, or None: it is of a kind
    the bot handles, each part they index into has the shape Slack gives it, and it parses."""
    if (found := _unreadable(body, "the body")) is not None:
        return found
    what = kind(body)
    if what not in HANDLED:
        return f"a kind of request the bot does not handle: {what!r}"
    event, actions, view = body.get("event"), body.get("actions"), body.get("view")
    if what == "event_callback" and not (isinstance(event, dict) and isinstance(event.get("type"), str)):
        return "an event callback without an event type"
    if what == "block_actions" and not (isinstance(actions, list) and actions
                                        and all(isinstance(a, dict) for a in actions)
                                        and isinstance(actions[0].get("action_id"), str)):
        return "block actions without a list of actions with ids"  # slack-bolt matches the first's
    if what == "view_submission" and not (isinstance(view, dict) and view.get("type") == "modal"
                                          and isinstance(view.get("callback_id"), str)):
        return "a view submission without a modal with a callback id"  # the only views the bot opens
    try:
        _parse(body)
    except Malformed as error:
        return str(error)
    return None


def _unreadable(body: Any, where: str, depth: int = 0) -> str | None:
    if not isinstance(body, dict):
        return f"{where} is not an object"
    if depth > _DEPTH:  # and no recursion as deep as the JSON goes
        return f"{where} is nested deeper than Slack nests"
    for key in _WHO:
        value = body.get(key)
        if not (value is None or isinstance(value, str)
                or isinstance(value, dict) and isinstance(value.get("id", ""), str)):
            return f"{where}.{key} is neither an id nor an object with one"
    for key in _IDS:
        if not isinstance(body.get(key, ""), str):
            return f"{where}.{key} is not a string"
    for key in _OBJECTS:
        if key in body and not isinstance(body[key], dict):
            return f"{where}.{key} is not an object"
    for key in _LIKE_THE_BODY:
        if key in body and (found := _unreadable(body[key], f"{where}.{key}", depth + 1)) is not None:
            return found
    for key in _LISTS:
        if key in body:
            if not isinstance(body[key], list):
                return f"{where}.{key} is not a list"
            for index, item in enumerate(body[key]):
                if (found := _unreadable(item, f"{where}.{key}[{index}]", depth + 1)) is not None:
                    return found
    return None


def _parse(body: dict[str, Any]) -> None:
    """Parse a body of a kind the bot handles, as its handler will (Malformed if it cannot).
    A button the bot did not make is no malformed request: its handler ignores it."""
    match kind(body), body.get("event"):
        case "command", _:
            command(body)
        case "block_actions", _:
            try:
                action(body)
            except Malformed:
                raise
            except ValueError:
                pass
        case "view_submission", _:
            submission(body)
        case "event_callback", {"type": "app_mention"}:
            mention(body)
        case "event_callback", {"type": "member_joined_channel"}:
            joined(body)


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """Reading a body of the shape Slack sends: where an expected part is missing or of
    another type, the body is Malformed (not a KeyError deep in a handler, which slack-bolt
    answers with a 500)."""
    try:
        yield
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        raise Malformed(f"{what} without the parts Slack sends: {type(error).__name__} {error}") from error


def _id(value: Any) -> str:
    """Slack's ids are strings: one of another type is no id."""
    if not isinstance(value, str):
        raise Malformed(f"an id that is not a string: {type(value).__name__}")
    return value


def conversation(channel: str) -> str:
    return PREFIX + channel


def unqualified(qualified: str) -> str:
    return qualified.removeprefix(PREFIX)


def _actor(user: Mapping[str, Any] | str, name: str = "") -> Actor:
    if isinstance(user, str):
        return Actor(PREFIX + user, name or user)
    return Actor(PREFIX + _id(user["id"]), str(user.get("name") or user.get("username") or user["id"]))


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
    with _reading("a slash command"):
        text = str(body.get("text", ""))
        trigger = _id(body["trigger_id"])
        return Command(event_id=f"slack-command:{trigger}", org=_team(body),
                       conversation=conversation(_id(body["channel_id"])),
                       actor=_actor(_id(body["user_id"]), str(body.get("user_name", ""))),
                       trigger=trigger, text=_plain(text), mentions=_mentioned(text, bot_user or ""))


def action(body: Mapping[str, Any]) -> Action:
    """A button: what it does comes from its value, which the bot wrote (and the engine checks)."""
    with _reading("a button press"):
        pressed = body["actions"][0]
        name, args = parse_button(str(pressed.get("value", "")))
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
        return Action(event_id=f"slack-action:{pressed.get('action_ts', '')}:{pressed.get('action_id', '')}",
                      org=_team(body), conversation=conversation(str(channel)), actor=_actor(body["user"]),
                      workshop_id=args.get("workshop", ""), trigger=str(body.get("trigger_id", "")),
                      action=name, args=args)


def submission(body: Mapping[str, Any]) -> FormSubmitted:
    """A modal's submit. The same values sent again are the same event; corrected ones are new."""
    with _reading("a form submission"):
        view = body["view"]
        # The bot wrote the metadata, as a JSON object; anything else is stale or forged.
        meta = _json(view.get("private_metadata") or "{}", "the private_metadata")
        args = {str(k): str(v) for k, v in (meta.get("args", meta) if isinstance(meta, dict) else {}).items()}
        where = str(meta.get("conversation", "")) if isinstance(meta, dict) else ""
        if where and not where.startswith(PREFIX):
            # The bot only writes the Slack channel a modal was opened in: the answer to one
            # naming another platform's conversation would have gone out there.
            raise Malformed("a form whose metadata names a conversation outside Slack")
        values = form_values(view.get("state", {}).get("values", {}))
        digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
        return FormSubmitted(event_id=f"slack-view:{view.get('id', '')}:{digest}", org=_team(body),
                             conversation=where, actor=_actor(body["user"]), workshop_id=args.get("workshop", ""),
                             form=str(view.get("callback_id", "")), args=args, values=values)


def mention(body: Mapping[str, Any], bot_user: str | None = None) -> Command:
    """`@Ambition next` in a channel: the mentions are not part of the command, and everyone
    mentioned but the bot (`bot_user`, else the user the event was delivered for) is one of its
    `mentions`."""
    with _reading("a mention"):
        event = body["event"]
        text = str(event.get("text", ""))
        return Command(event_id=f"slack-event:{_id(body['event_id'])}", org=_team(body),
                       conversation=conversation(_id(event["channel"])), actor=_actor(_id(event["user"])),
                       text=_plain(text), mentions=_mentioned(text, bot_user or _authorized(body)))


def joined(body: Mapping[str, Any]) -> MemberJoined:
    with _reading("a member joining"):
        event = body["event"]
        return MemberJoined(event_id=f"slack-event:{_id(body['event_id'])}", org=_team(body),
                            conversation=conversation(_id(event["channel"])), actor=_actor(_id(event["user"])))
