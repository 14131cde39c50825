"""A workshop run through Slack the way Slack runs it, for end-to-end tests.

`SlackWorkshop` owns everything between a person's click and what the channel then shows:

* signed requests to the real `POST /slack/events` (slack-bolt checks each signature),
* the real service on a SQLite file, the real outbox and its dispatcher thread,
* the real `SlackDeliverer` with the real slack_sdk `AsyncWebClient`, talking HTTP to the
  loopback fake of the Slack Web API (`tests/fakes/slack_api.py`).

People are Slack users (`"Mette"` is `U-mette`), channels are channel ids (`"C-plenum"`).
A person acts only on what Slack would show them: `press` finds the newest message in the
channel (or ephemeral to them) that has the button, `fill` submits the newest modal opened
with one of their triggers. Every request is followed by `settle()`, which waits until the
outbox has delivered everything, so what the fake holds is what the channel shows.

    async with SlackWorkshop(tmp_path) as slack:
        await slack.command("Mette", "C-plenum", "new Fjordly")
        await slack.press("Mette", "C-plenum", "setup_measures")
        answer = await slack.fill("Mette", {"measures": ["E-energi", "S-tilfredshed"]})
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.app import (
    PlatformRouter,
    Runtime,
    Store,
    open_store,
    plan_files,
    start_runtime,
)
from adapters.config import Settings
from adapters.server import INTAKE, build_app
from adapters.slack.deliver import SlackDeliverer
from adapters.slack.render import parse_button
from bot.clock import SystemClock
from bot.store.tables import OutboxRow
from tests.fakes.slack_api import APP_TOKEN, TOKEN, Call, FakeSlackApi

SECRET = "e2e-signing-secret"
TEAM = "T-fjordly"
APP = "A-ambition"
BOT_USER = "UBOT"  # the bot's own user id, as the fake's auth.test tells it
SETTLE_SECONDS = 30.0
POLL_SECONDS = 0.02

Json = dict[str, Any]


def user_id(name: str) -> str:
    """The Slack user id of a person in these tests: "Mette" → "U-mette"."""
    return "U-" + name.casefold()


# --- what Slack shows -------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A message as a channel shows it now: its newest blocks (after any chat.update)."""

    channel: str
    ts: str
    blocks: list[Json]
    text: str  # the notification fallback
    order: int  # when it was last posted or updated (a rising number)
    user: str = ""  # set for an ephemeral message: the only one who sees it

    @property
    def ephemeral(self) -> bool:
        return bool(self.user)

    @property
    def texts(self) -> str:
        """Every text in the blocks, a line each: headers, sections, fields, notes, buttons."""
        return "\n".join(block_texts(self.blocks))

    @property
    def headers(self) -> list[str]:
        return [b["text"]["text"] for b in self.blocks if b.get("type") == "header"]

    def buttons(self) -> list[Json]:
        return [element for block in self.blocks if block.get("type") == "actions"
                for element in block.get("elements", []) if element.get("type") == "button"]

    def button(self, action: str, args: Mapping[str, str]) -> Json | None:
        """The button that does `action` with (at least) these args, as the bot drew it."""
        for element in self.buttons():
            try:
                name, values = parse_button(str(element.get("value", "")))
            except ValueError:
                continue
            if name == action and all(values.get(k) == v for k, v in args.items()):
                return element
        return None


def block_texts(blocks: Iterable[Json]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            lines.append(block["text"]["text"])
        lines.extend(f["text"] for f in block.get("fields") or ())
        for element in block.get("elements") or ():
            if element.get("type") == "button":
                lines.append(element["text"]["text"])
            elif "text" in element and isinstance(element["text"], str):
                lines.append(element["text"])  # a context block's mrkdwn
    return lines


@dataclass(frozen=True)
class Opened:
    """A modal opened with views.open."""

    view_id: str
    trigger: str
    view: Json


@dataclass
class SlackWorkspace(FakeSlackApi):
    """The fake Web API, also keeping a timeline of what people can see: each successful
    post, update and ephemeral with the ts Slack gave it, and each modal opened."""

    timeline: list[tuple[str, str, str, Json]] = field(default_factory=list)  # (kind, channel, ts, params)
    opened: list[Opened] = field(default_factory=list)

    def _chat_postMessage(self, params: Json) -> Json:
        answer = super()._chat_postMessage(params)
        self.timeline.append(("post", answer["channel"], answer["ts"], params))
        return answer

    def _chat_update(self, params: Json) -> Json:
        answer = super()._chat_update(params)
        if answer.get("ok", True):
            self.timeline.append(("update", params["channel"], params["ts"], params))
        return answer

    def _chat_postEphemeral(self, params: Json) -> Json:
        answer = super()._chat_postEphemeral(params)
        self.timeline.append(("ephemeral", params["channel"], answer["message_ts"], params))
        return answer

    def _views_open(self, params: Json) -> Json:
        answer = super()._views_open(params)
        self.opened.append(Opened(answer["view"]["id"], str(params.get("trigger_id", "")),
                                  params["view"]))
        return answer


# --- the driver ---------------------------------------------------------------------------


class SlackWorkshop:
    """One Slack workspace with the bot installed, and the people in it (see the module doc)."""

    def __init__(self, directory: Path, *, team: str = TEAM, language: Literal["da", "en"] = "da",
                 settle_seconds: float = SETTLE_SECONDS, socket_mode: bool = False,
                 database_url: str = "") -> None:
        self.directory = directory
        self.database_url = database_url or f"sqlite:///{directory / 'slack-e2e.sqlite3'}"
        self.socket_mode = socket_mode  # requests come over Slack's WebSocket, not to the endpoint
        self.team = team
        self.language = language
        self.settle_seconds = settle_seconds
        self.fake = SlackWorkspace()
        self.store: Store
        self.runtime: Runtime
        self.client: TestClient
        self.triggers: dict[str, str] = {}  # trigger_id → the name of who got it
        self._numbers = itertools.count(1)
        self._closed: set[str] = set()  # view ids whose modal a submission closed
        self._drafts: dict[str, tuple[str, Json]] = {}  # name → (view id, state) sent back with errors

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            self.fake.start()
            stack.callback(self.fake.stop)
            settings = Settings(_env_file=None,  # type: ignore[call-arg]
                                database_url=self.database_url,
                                slack_bot_token=SecretStr(TOKEN),
                                slack_signing_secret=SecretStr(SECRET),
                                slack_api_url=self.fake.url, bot_language=self.language,
                                bot_time_scale=None,
                                slack_app_token=SecretStr(APP_TOKEN) if self.socket_mode else None)
            self.store = open_store(settings.database_url)
            stack.callback(self.store.close)
            client = AsyncWebClient(token=TOKEN, base_url=self.fake.url)
            slack = SlackDeliverer(client, plan_files(self.store, SystemClock()).build, interval=0)
            self.runtime = start_runtime(self.store, settings, False, PlatformRouter({"slack": slack}))
            stack.callback(self.runtime.stop)
            app = build_app(self.store, settings, self.runtime, slack_socket_mode=self.socket_mode)
            self.intake = app[INTAKE]
            self.client = TestClient(TestServer(app, host="127.0.0.1"))
            await self.client.start_server()
            stack.push_async_callback(self.client.close)
            self._stack = stack.pop_all()  # all went well: closed on leaving, in reverse order
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self._stack.aclose()

    # -- what people do -------------------------------------------------------------------

    async def command(self, name: str, channel: str, text: str, *, settle: bool = True) -> None:
        """`/ambition <text>` typed by `name` in `channel`."""
        trigger = self._trigger(name)
        await self._post_form({
            "token": "legacy", "team_id": self.team, "team_domain": "fjordly", "channel_id": channel,
            "channel_name": channel.casefold(), "user_id": self._user(name), "user_name": name,
            "command": "/ambition", "text": text, "api_app_id": APP, "trigger_id": trigger,
            "response_url": "http://127.0.0.1:9/commands/response"})
        if settle:
            await self.settle()

    async def press(self, name: str, channel: str, action: str, *, settle: bool = True,
                    **args: str) -> Shown:
        """Press the `action` button (with these args) on the newest message `name` can see
        in `channel` that has one. Returns that message as it was when pressed."""
        shown, button = self.find_button(name, channel, action, **args)
        trigger = self._trigger(name)
        stamp = self._stamp()
        container: Json = {"type": "message", "message_ts": shown.ts, "channel_id": channel,
                           "is_ephemeral": shown.ephemeral}
        payload: Json = {
            "type": "block_actions", "api_app_id": APP, "token": "legacy", "trigger_id": trigger,
            "team": {"id": self.team, "domain": "fjordly"},
            "user": {"id": self._user(name), "username": name.casefold(), "name": name,
                     "team_id": self.team},
            "channel": {"id": channel, "name": channel.casefold()}, "container": container,
            "actions": [{"type": "button", "action_id": button["action_id"],
                         "block_id": self._block_of(shown, button), "value": button["value"],
                         "text": button["text"], "action_ts": stamp}],
        }
        if not shown.ephemeral:
            payload["message"] = {"type": "message", "ts": shown.ts, "text": shown.text,
                                  "blocks": shown.blocks}
        await self._post_form({"payload": json.dumps(payload)})
        if settle:
            await self.settle()
        return shown

    async def fill(self, name: str, values: Mapping[str, str | Iterable[str]] | None = None, *,
                   settle: bool = True) -> Json:
        """Submit the newest modal opened for `name`: each input as the bot drew it (its
        initial value), with `values` typed or picked over it. Returns Slack's answer, the
        HTTP response JSON: `{}` closes the modal, `response_action: errors` keeps it open
        with the errors under the fields. A modal sent back keeps what was typed in it."""
        opened = self.form(name)
        if opened.view_id in self._closed:
            raise LookupError(f"{name} has no modal open (the newest one was submitted and closed)")
        draft = self._drafts.get(name)
        state = (json.loads(json.dumps(draft[1])) if draft and draft[0] == opened.view_id
                 else initial_state(opened.view))
        for block_id, value in dict(values or {}).items():
            state[block_id] = {_action_id(opened.view, block_id): _entry(opened.view, block_id, value)}
        payload: Json = {
            "type": "view_submission", "api_app_id": APP, "token": "legacy",
            "trigger_id": self._trigger(name),
            "team": {"id": self.team, "domain": "fjordly"},
            "user": {"id": self._user(name), "username": name.casefold(), "name": name,
                     "team_id": self.team},
            "view": {**opened.view, "id": opened.view_id, "team_id": self.team,
                     "state": {"values": state}, "hash": f"h{next(self._numbers)}"},
        }
        body = await self._post_form({"payload": json.dumps(payload)})
        answer: Json = json.loads(body) if body.strip() else {}
        if answer.get("response_action") == "errors":
            self._drafts[name] = (opened.view_id, state)
        else:
            self._drafts.pop(name, None)
            self._closed.add(opened.view_id)
        if settle:
            await self.settle()
        return answer

    async def mention(self, name: str, channel: str, text: str, *, settle: bool = True) -> None:
        """`@Ambition <text>` written by `name` in `channel` (an app_mention event)."""
        await self.event({"type": "app_mention", "user": self._user(name), "channel": channel,
                          "text": f"<@{BOT_USER}> {text}", "ts": self._stamp()}, settle=settle)

    async def joined(self, name: str | None, channel: str, *, settle: bool = True) -> None:
        """`name` joined `channel` (member_joined_channel); `None`: the bot was added to it."""
        user = BOT_USER if name is None else self._user(name)
        await self.event({"type": "member_joined_channel", "user": user, "channel": channel,
                          "channel_type": "C", "team": self.team, "event_ts": self._stamp()},
                         settle=settle)

    async def event(self, event: Json, *, retry: int = 0, event_id: str = "",
                    settle: bool = True) -> str:
        """An Events API callback (signed JSON). Returns its event_id, to send it again with
        `retry=1` as Slack does when it thinks the first try was lost."""
        event_id = event_id or f"Ev{next(self._numbers):08d}"
        body = json.dumps({"token": "legacy", "team_id": self.team, "api_app_id": APP,
                           "type": "event_callback", "event_id": event_id,
                           "event_time": int(time.time()), "event": event})
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        if self.socket_mode:
            await self.fake.push("events_api", json.loads(body), retry=retry)
        else:
            await self._post(body, "application/json", headers)
        if settle:
            await self.settle()
        return event_id

    async def settle(self, timeout: float | None = None) -> None:
        """Wait until every request answered has been handled and the outbox has nothing
        left to deliver (delivery runs on the dispatcher's thread). What is still being
        retried counts as not delivered yet."""
        deadline = time.monotonic() + (timeout or self.settle_seconds)
        self.runtime.worker.wake()
        while (left := self.intake.pending() + self.store.outbox.backlog()) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{left} outbox item(s) still undelivered: {self.open_errors()}")
            await asyncio.sleep(POLL_SECONDS)

    # -- what people see ------------------------------------------------------------------

    def visible(self, name: str | None, channel: str) -> list[Shown]:
        """The messages in `channel` as they look now, newest (last posted or edited) first,
        with the ephemeral ones only `name` sees; `name=None` is someone who got none."""
        current: dict[str, Shown] = {}
        private: list[Shown] = []
        for order, (kind, where, ts, params) in enumerate(list(self.fake.timeline)):
            if where != channel:
                continue
            if kind == "ephemeral":
                if name is not None and params.get("user") == self._user(name):
                    private.append(Shown(where, ts, params.get("blocks") or [], params.get("text", ""),
                                         order, params["user"]))
            else:
                current[ts] = Shown(where, ts, params.get("blocks") or [], params.get("text", ""), order)
        return sorted([*current.values(), *private], key=lambda s: s.order, reverse=True)

    def messages(self, channel: str) -> list[Shown]:
        """What everyone in `channel` sees, oldest first (each message as it looks now)."""
        posted = {ts: order for order, (kind, where, ts, _) in enumerate(list(self.fake.timeline))
                  if kind == "post" and where == channel}
        return sorted(self.visible(None, channel), key=lambda s: posted[s.ts])

    def newest(self, channel: str) -> Shown:
        """The message posted last in `channel` (not ephemeral)."""
        posted = self.messages(channel)
        if not posted:
            raise LookupError(f"nothing posted in {channel}")
        return posted[-1]

    def texts(self, channel: str) -> str:
        """The texts of the newest message posted in `channel`."""
        return self.newest(channel).texts

    def ephemerals(self, name: str, channel: str | None = None) -> list[str]:
        """The texts of every ephemeral message `name` got (in `channel`), oldest first."""
        return [Shown(where, ts, params.get("blocks") or [], params.get("text", ""), 0).texts
                for kind, where, ts, params in list(self.fake.timeline)
                if kind == "ephemeral" and params.get("user") == self._user(name)
                and (channel is None or where == channel)]

    def find_button(self, name: str, channel: str, action: str, **args: str) -> tuple[Shown, Json]:
        for shown in self.visible(name, channel):
            button = shown.button(action, args)
            if button is not None:
                return shown, button
        raise LookupError(f"{name} sees no {action!r} button {args or ''} in {channel}")

    def buttons(self, name: str, channel: str, action: str) -> list[dict[str, str]]:
        """The args of every `action` button `name` can see in `channel`, newest message first."""
        found = []
        for shown in self.visible(name, channel):
            for element in shown.buttons():
                pressed, args = parse_button(element["value"])
                if pressed == action:
                    found.append(args)
        return found

    def form(self, name: str) -> Opened:
        """The newest modal opened with a trigger `name` got."""
        mine = [o for o in self.fake.opened if self.triggers.get(o.trigger) == name]
        if not mine:
            raise LookupError(f"no modal was opened for {name}")
        return mine[-1]

    def uploads(self, channel: str) -> list[tuple[str, bytes]]:
        """(title, bytes) of each file shared in `channel` (files.completeUploadExternal)."""
        return [(f.get("title", ""), self.fake.uploads[f["id"]])
                for call in self.fake.calls_to("files.completeUploadExternal", ok_only=True)
                if call.params.get("channel_id") == channel for f in call.params["files"]]

    def api_calls(self) -> list[Call]:
        """Every request to the Web API (not the bytes sent to an upload URL)."""
        return [c for c in self.fake.calls if c.method != "upload"]

    # -- the outbox -----------------------------------------------------------------------

    def open_errors(self) -> list[str]:
        with self.store.sessions() as session:
            return list(session.scalars(select(OutboxRow.last_error).where(
                OutboxRow.delivered_at.is_(None), OutboxRow.last_error != "")))

    def set_aside(self) -> list[str]:
        """The errors of what the dispatcher gave up on (never delivered)."""
        with self.store.sessions() as session:
            return list(session.scalars(select(OutboxRow.last_error).where(
                OutboxRow.failed_at.is_not(None))))

    # -- requests -------------------------------------------------------------------------

    def _user(self, name: str) -> str:
        self.fake.people[user_id(name)] = name  # what Slack's users.info says about them
        return user_id(name)

    def _trigger(self, name: str) -> str:
        trigger = f"{next(self._numbers)}.{time.monotonic_ns()}.trigger"
        self.triggers[trigger] = name
        return trigger

    def _stamp(self) -> str:
        return f"{int(time.time())}.{next(self._numbers):06d}"

    @staticmethod
    def _block_of(shown: Shown, button: Json) -> str:
        for block in shown.blocks:
            if button in block.get("elements", []):
                return str(block.get("block_id", ""))
        return ""

    async def _post_form(self, fields: Mapping[str, str]) -> str:
        """A slash command or an interaction; the answer is what Slack got back (a modal's errors)."""
        if not self.socket_mode:
            return await self._post(urllib.parse.urlencode(fields), "application/x-www-form-urlencoded")
        if "payload" in fields:
            answer = await self.fake.push("interactive", json.loads(fields["payload"]))
        else:
            answer = await self.fake.push("slash_commands", dict(fields))
        return json.dumps(answer) if answer else ""

    async def _post(self, body: str, content_type: str, extra: Mapping[str, str] | None = None) -> str:
        """POST /slack/events signed as Slack signs it; Slack wants a 200."""
        stamp = str(int(time.time()))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": str(SignatureVerifier(SECRET).generate_signature(
                       timestamp=stamp, body=body)), **(extra or {})}
        response = await self.client.post("/slack/events", data=body, headers=headers)
        text = await response.text()
        if response.status != 200:
            raise AssertionError(f"Slack's request was answered {response.status}: {text[:500]}")
        return text


# --- modal state --------------------------------------------------------------------------


def _inputs(view: Json) -> list[Json]:
    return [b for b in view.get("blocks", []) if b.get("type") == "input"]


def _input(view: Json, block_id: str) -> Json:
    for block in _inputs(view):
        if block.get("block_id") == block_id:
            return block
    raise LookupError(f"the modal {view.get('callback_id')!r} has no field {block_id!r}: "
                      f"{[b.get('block_id') for b in _inputs(view)]}")


def _action_id(view: Json, block_id: str) -> str:
    return str(_input(view, block_id)["element"]["action_id"])


def initial_state(view: Json) -> Json:
    """`view.state.values` of a modal nobody has touched: every input at its initial value."""
    state: Json = {}
    for block in _inputs(view):
        element = block["element"]
        state[block["block_id"]] = {element["action_id"]: _initial(element)}
    return state


def _initial(element: Json) -> Json:
    kind = element["type"]
    entry: Json = {"type": kind}
    if kind == "datepicker":
        entry["selected_date"] = element.get("initial_date")
    elif kind in ("static_select", "radio_buttons"):
        entry["selected_option"] = element.get("initial_option")
    elif kind in ("multi_static_select", "checkboxes"):
        entry["selected_options"] = list(element.get("initial_options") or [])
    else:  # plain_text_input, number_input
        entry["value"] = element.get("initial_value")
    return entry


def _entry(view: Json, block_id: str, value: str | Iterable[str]) -> Json:
    """What Slack sends for an input after a person typed or picked `value` in it. Only the
    options the modal offers can be picked."""
    element = _input(view, block_id)["element"]
    kind = element["type"]
    options = {o["value"]: o for o in element.get("options") or ()}

    def option(chosen: str) -> Json:
        if chosen not in options:
            raise ValueError(f"{block_id!r} offers no option {chosen!r}")
        return options[chosen]

    if kind == "datepicker":
        return {"type": kind, "selected_date": str(value) or None}
    if kind in ("static_select", "radio_buttons"):
        return {"type": kind, "selected_option": option(str(value)) if value else None}
    if kind in ("multi_static_select", "checkboxes"):
        chosen = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
        return {"type": kind, "selected_options": [option(v) for v in chosen if v]}
    if not isinstance(value, str):
        raise TypeError(f"{block_id!r} takes text, not {value!r}")
    return {"type": kind, "value": value or None}  # Slack sends an emptied input as null
