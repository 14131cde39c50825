"""A workshop run through Microsoft Teams the way Teams runs it, for end-to-end tests.

`TeamsWorkshop` owns everything between a person's click and what the conversation then shows:

* activities signed as the Bot Connector signs them, POSTed to the real `/api/messages`
  (botbuilder's CloudAdapter checks each JWT against the fake's keys),
* the real service on a SQLite file, the real outbox and its dispatcher thread,
* the real `TeamsDeliverer` (CloudAdapter, MSAL, msrest) talking HTTPS to the loopback fake of
  the Bot Connector and Entra ID (`tests/fakes/teams_api.py`),
* the real plan download at `GET /files/<token>`, on the server's own address, which is
  therefore also its PUBLIC_BASE_URL.

People are Teams users (`"Mette"` is `29:mette`); conversations are Teams ids: a channel
(`"19:plenum@thread.tacv2"`), a thread in it (`"<channel>;messageid=<root>"`), or a person's
one-to-one chat with the bot (`DM` in the methods below). A person acts only on what Teams
would show them: `press` finds the newest card in the conversation that has the button,
`fill` submits the form card the bot posted when they last pressed something. Every request
is followed by `settle()`, which waits until the outbox has delivered everything, so what
the fake holds is what Teams shows.

    async with TeamsWorkshop(tmp_path) as teams:
        await teams.say("Mette", PLENUM, "ny Fjordly")
        await teams.press("Mette", PLENUM, "setup_measures")
        card = await teams.fill("Mette", {"measures": ["E-energi", "S-tilfredshed"]})
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import os
import re
import socket
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy
from pydantic import SecretStr
from sqlalchemy import select

from adapters.app import (
    Platforms,
    Runtime,
    Store,
    open_store,
    platforms,
    start_runtime,
)
from adapters.config import Settings
from adapters.pacing import Pacer
from adapters.server import INTAKE, build_app
from adapters.teams.render import SUBMIT_KEY, WORD_JOINER
from bot.dispatch import Deliverer
from bot.events import Event
from bot.store.tables import OutboxRow
from tests.fakes.teams_api import APP_ID, APP_PASSWORD, TENANT_ID, FakeTeamsApi, Person

PLENUM = "19:plenum@thread.tacv2"
DM = "dm"  # `where` for the person's own one-to-one chat with the bot
SETTLE_SECONDS = 30.0
K = TypeVar("K")
V = TypeVar("V")
POLL_SECONDS = 0.02
_PUNCTUATION = frozenset(string.punctuation)

Json = dict[str, Any]


def user_id(name: str) -> str:
    """The Teams user id of a person in these tests: "Mette" → "29:mette"."""
    return "29:" + name.casefold()


def person(name: str) -> Person:
    return Person(user_id(name), name, "aad-" + name.casefold())


def channel_of(conversation_id: str) -> str:
    return conversation_id.split(";messageid=", 1)[0]


# --- what Teams shows ---------------------------------------------------------------------


def readable(markdown: str) -> str:
    """What a reader sees of a TextBlock's Markdown, as far as the bot's escaping goes: the
    invisible word joiners are invisible and a backslash before punctuation is an escape
    (CommonMark), so `\\*\\*bold\\*\\*` reads `**bold**`, in plain type."""
    out: list[str] = []
    text = markdown.replace(WORD_JOINER, "")
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _PUNCTUATION:
            out.append(text[index + 1])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def card_lines(card: Json) -> list[str]:
    """Every text of a card, a line each, as the card holds it (Markdown): TextBlocks,
    FactSets ("title: value"), inputs' labels and button titles."""
    lines: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type", "")
        if kind == "TextBlock":
            lines.append(str(node.get("text", "")))
        elif kind == "FactSet":
            lines.extend(f"{f.get('title', '')}: {f.get('value', '')}" for f in node.get("facts", ()))
        elif kind.startswith("Input."):
            lines.append(str(node.get("label", "")))
        elif kind.startswith("Action."):
            lines.append(str(node.get("title", "")))
        for key in ("body", "items", "columns", "actions", "card"):
            walk(node.get(key))

    walk(card.get("body"))
    walk(card.get("actions"))
    return lines


def card_nodes(card: Json, prefix: str) -> list[Json]:
    """Every element or action of a card whose type starts with `prefix`, in reading order."""
    found: list[Json] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if str(node.get("type", "")).startswith(prefix):
                found.append(node)
            for key in ("body", "items", "columns", "actions", "card"):
                walk(node.get(key))

    walk(card.get("body"))
    walk(card.get("actions"))
    return found


@dataclass(frozen=True)
class Shown:
    """A message as its conversation shows it now (after any update)."""

    conversation: str  # where it was posted: a channel, a thread, or a 1:1 chat
    id: str
    activity: Json  # the newest version the bot sent
    order: int  # when it was last posted or updated (a rising number)
    versions: int = 1  # how many times it was drawn: 1 + its updates

    @property
    def cards(self) -> list[Json]:
        return [a.get("content") or {} for a in self.activity.get("attachments") or ()
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]

    @property
    def markdown(self) -> str:
        """Every text of its cards as the bot wrote it (escaped Markdown), a line each."""
        lines = [str(self.activity.get("text") or "")] if self.activity.get("text") else []
        return "\n".join([*lines, *(line for card in self.cards for line in card_lines(card))])

    @property
    def texts(self) -> str:
        """Every text as a reader sees it: headings, texts, facts, labels, button titles."""
        return readable(self.markdown)

    @property
    def headings(self) -> list[str]:
        return [readable(str(node.get("text", ""))) for card in self.cards
                for node in card_nodes(card, "TextBlock") if node.get("weight") == "bolder"
                and node.get("size") == "large"]

    def actions(self) -> list[Json]:
        return [a for card in self.cards for a in card_nodes(card, "Action.")]

    def inputs(self) -> list[Json]:
        return [i for card in self.cards for i in card_nodes(card, "Input.")]

    @property
    def is_form(self) -> bool:
        return bool(self.inputs())

    def submits(self, action: str | None = None) -> list[Json]:
        """The Action.Submit buttons (doing `action`) of the card."""
        return [a for a in self.actions() if a.get("type") == "Action.Submit"
                and (action is None or _data_of(a).get("action") == action)]

    def button(self, action: str, args: Mapping[str, str]) -> Json | None:
        """The Action.Submit that does `action` with (at least) these args, as the bot drew it."""
        for submit in self.submits(action):
            given = _data_of(submit).get("args") or {}
            if all(given.get(k) == v for k, v in args.items()):
                return submit
        return None

    def links(self) -> list[str]:
        """The addresses its Action.OpenUrl buttons open."""
        return [str(a["url"]) for a in self.actions() if a.get("type") == "Action.OpenUrl"]


def _data_of(action: Json) -> Json:
    data = action.get("data")
    inner = data.get(SUBMIT_KEY) if isinstance(data, dict) else None
    return inner if isinstance(inner, dict) else {}


@dataclass
class TeamsService(FakeTeamsApi):
    """The fake Bot Connector, also keeping when each message was last posted or updated.

    It also takes an update addressed by a channel thread's id ("<channel>;messageid=<root>")
    for a post made in the channel itself, as Teams does: a button pressed on a card posted in
    a channel arrives with the card's thread as its conversation, and an answer on the card
    (turn_context.update_activity) goes back to that id. The plain fake only knows the id the
    post was made with."""

    touched: dict[tuple[str, str], int] = field(default_factory=dict)
    _ticks: Any = field(default_factory=lambda: itertools.count(1))

    def _post(self, conversation_id: str, activity: Json, reply_to_id: str | None = None,
              item: str | None = None) -> str:
        activity_id = super()._post(conversation_id, activity, reply_to_id, item)
        self.touched[(conversation_id, activity_id)] = next(self._ticks)
        return activity_id

    async def _create(self, request: web.Request) -> web.StreamResponse:
        before = set(self.posted)
        response = await super()._create(request)
        for key in set(self.posted) - before:  # a thread's opening post
            self.touched[key] = next(self._ticks)
        return response

    async def _update(self, request: web.Request) -> web.StreamResponse:
        conversation = request.match_info.get("conversation", "")
        activity = request.match_info.get("activity", "")
        channel = channel_of(conversation)
        if (conversation, activity) not in self.posted and (channel, activity) in self.posted \
                and conversation == f"{channel};messageid={activity}":
            conversation = request.match_info["conversation"] = channel  # the same post, by its thread's id
        response = await super()._update(request)
        if response.status == 200:
            self.touched[(conversation, activity)] = next(self._ticks)
        return response


@dataclass(frozen=True)
class Download:
    status: int
    body: bytes
    headers: CIMultiDictProxy[str]


# --- the driver ---------------------------------------------------------------------------


class TeamsWorkshop:
    """One Teams tenant with the bot installed, and the people in it (see the module doc)."""

    def __init__(self, directory: Path, *, language: Literal["da", "en"] = "da",
                 settle_seconds: float = SETTLE_SECONDS, database_url: str = "") -> None:
        self.directory = directory
        self.database_url = database_url or f"sqlite:///{directory / 'teams-e2e.sqlite3'}"
        self.language = language
        self.settle_seconds = settle_seconds
        self.fake = TeamsService()
        self.store: Store
        self.runtime: Runtime
        self.client: TestClient
        self.settings: Settings
        self.port = 0
        self.sent: list[Json] = []  # every activity POSTed to the bot, in order
        self._forms: dict[str, Shown] = {}  # name → the form card the bot posted for them last
        self._acted_in: dict[str, str] = {}  # name → the conversation they last acted in
        # (conversation, card id) → (the card's version, the inputs as typed when it was sent)
        self._drafts: dict[tuple[str, str], tuple[int, Json]] = {}
        self._server: AsyncExitStack | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            self.fake.start()
            stack.callback(self.fake.stop)
            # requests (under MSAL, msrest and the SDK's key fetch) must trust the fake's certificate
            previous = os.environ.get("REQUESTS_CA_BUNDLE")
            os.environ["REQUESTS_CA_BUNDLE"] = self.fake.ca_file
            stack.callback(_restore_env, "REQUESTS_CA_BUNDLE", previous)
            await self._open()
            self._stack = stack.pop_all()  # all went well: closed on leaving, in reverse order
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        try:
            await self._close()
        finally:
            await self._stack.aclose()

    async def restart(self) -> None:
        """The bot's process goes away and a new one starts on the same database (the outbox
        is settled first): new runtime, new server, nothing carried over in memory. Microsoft's
        side (the fake) stays as it was."""
        await self.settle()
        await self._close()
        await self._open()

    async def _open(self) -> None:
        """Store, runtime with the real TeamsDeliverer, and the server on a port of its own,
        which the settings name as PUBLIC_BASE_URL before anything is built from them."""
        async with AsyncExitStack() as stack:
            self.port = self.port or _free_port()  # the same address after a restart
            self.settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=self.database_url, microsoft_app_id=APP_ID, microsoft_app_password=SecretStr(APP_PASSWORD),
                microsoft_app_tenant_id=TENANT_ID, public_base_url=f"http://127.0.0.1:{self.port}",
                bot_language=self.language, bot_time_scale=None)
            self.store = open_store(self.settings.database_url)
            stack.callback(self.store.close)
            endpoints = self.fake.endpoints()
            self.runtime = start_runtime(self.store, self.settings, False,
                                         deliver_to=unpaced(platforms(self.store, self.settings,
                                                                      teams_endpoints=endpoints)))
            stack.callback(self.runtime.stop)
            app = build_app(self.store, self.settings, self.runtime, teams_endpoints=endpoints)
            self.intake = app[INTAKE]
            self.client = TestClient(TestServer(app, host="127.0.0.1", port=self.port))
            await self.client.start_server()
            stack.push_async_callback(self.client.close)
            self._server = stack.pop_all()

    async def _close(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.aclose()

    # -- what people do -------------------------------------------------------------------

    async def say(self, name: str, channel: str, text: str, *, mentions: Sequence[str] = (),
                  settle: bool = True) -> Json:
        """`@Ambition <text>` written by `name` as a new post in `channel`, with each of
        `mentions` @mentioned after it. A form card it makes the bot post is `name`'s to fill."""
        tagged = " ".join([text, *(f"<at>{other}</at>" for other in mentions)])
        activity = self.fake.channel_message(tagged, person=self._person(name), channel=channel)
        activity["entities"] += [{"type": "mention", "text": f"<at>{other}</at>",
                                  "mentioned": {"id": self._person(other).id, "name": other}}
                                 for other in mentions]
        marker = self._tick()
        await self.send(activity, settle=settle)
        self._note_forms(name, marker)
        return activity

    async def say_in_thread(self, name: str, conversation_id: str, text: str, *,
                            settle: bool = True) -> Json:
        """`@Ambition <text>` written by `name` as a reply in a thread ("<channel>;messageid=<root>")."""
        channel, _, root = conversation_id.partition(";messageid=")
        activity = self.fake.channel_message(text, person=self._person(name), channel=channel,
                                             thread=root)
        await self.send(activity, settle=settle)
        return activity

    async def dm(self, name: str, text: str, *, settle: bool = True) -> Json:
        """`name` writes to the bot in their one-to-one chat (no mention there)."""
        activity = self.fake.personal_message(text, person=self._person(name))
        await self.send(activity, settle=settle)
        return activity

    async def press(self, name: str, where: str, action: str, *, settle: bool = True,
                    **args: str) -> Json:
        """Press the `action` button (with these args) on the newest card `name` can see in
        `where` that has one. Returns the activity Teams sent (to send it again)."""
        shown, button = self.find_button(name, where, action, **args)
        activity = self._submit(name, shown, copy.deepcopy(button["data"]))
        marker = self._tick()
        await self.send(activity, settle=settle)
        self._note_forms(name, marker)
        return activity

    async def fill(self, name: str, values: Mapping[str, str | Iterable[str]] | None = None, *,
                   settle: bool = True) -> Shown:
        """Submit the form card the bot posted for `name` last (else the newest form card where
        they last acted): each input as the card holds it, with `values` typed or picked over
        it. Returns the card as it is drawn afterwards: with its errors and what was typed, or
        without its button once saved. Like Teams, refuses to send a required input left empty."""
        card = self.form(name)
        if not card.submits():
            raise LookupError(f"{name}'s form card has no submit button (it was saved already)")
        [submit] = card.submits()
        inputs = {i["id"]: i for i in card.inputs()}
        # a card Teams has not redrawn since it was last sent still holds what was typed in it
        draft = self._drafts.get((card.conversation, card.id))
        typed: Json = (dict(draft[1]) if draft and draft[0] == card.versions
                       else {key: _input_value(node) for key, node in inputs.items()})
        for key, value in dict(values or {}).items():
            if key not in inputs:
                raise LookupError(f"the form card has no input {key!r}: {list(inputs)}")
            typed[key] = _typed(inputs[key], value)
        empty = [inputs[k].get("errorMessage", k) for k, v in typed.items()
                 if inputs[k].get("isRequired") and v == ""]
        if empty:  # Teams checks isRequired itself and sends nothing
            raise ClientRefused(empty)
        activity = self._submit(name, card, {**copy.deepcopy(submit["data"]), **typed})
        self._drafts[(card.conversation, card.id)] = (card.versions, typed)
        await self.send(activity, settle=settle)
        return self.current(card)

    async def send(self, activity: Json, *, settle: bool = True, expect: int = 201) -> int:
        """POST an activity to /api/messages signed as the Bot Connector signs it (again, for an
        activity sent before: Teams re-sends one when the bot was slow to answer)."""
        self.sent.append(activity)
        response = await self.client.post("/api/messages", json=activity,
                                          headers={"Authorization": self.fake.sign_activity(activity)})
        if response.status != expect:
            raise AssertionError(f"the bot answered {response.status}: {(await response.text())[:500]}")
        if settle:
            await self.settle()
        return response.status

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

    async def download_plan(self, where: str = PLENUM) -> Download:
        """Open the newest plan link posted in `where` (its Action.OpenUrl), as a browser would."""
        for shown in self.visible(None, where):
            if shown.links():
                return await self.get(shown.links()[0])
        raise LookupError(f"no plan link in {where}")

    async def get(self, url: str) -> Download:
        async with ClientSession() as session, session.get(url) as response:
            return Download(response.status, await response.read(), response.headers)

    # -- what people see ------------------------------------------------------------------

    def conversation(self, name: str | None, where: str) -> str:
        """The Teams conversation id `where` means for `name` (DM: their one-to-one chat)."""
        if where == DM:
            if name is None:
                raise ValueError("whose one-to-one chat?")
            return self.fake.personal_conversation_id(user_id(name))
        return where

    def visible(self, name: str | None, where: str) -> list[Shown]:
        """The messages in `where` as they look now, newest (last posted or updated) first.
        A channel's own posts only: a thread (a group's) is a conversation of its own."""
        conversation = self.conversation(name, where)
        found = [self._shown(key, posted) for key, posted in list(self.fake.posted.items())
                 if key[0] == conversation and not posted.deleted]
        return sorted(found, key=lambda s: s.order, reverse=True)

    def messages(self, where: str, name: str | None = None) -> list[Shown]:
        """What `where` shows, oldest post first (each message as it looks now)."""
        return sorted(self.visible(name, where), key=lambda s: int(s.id))

    def newest(self, where: str, name: str | None = None) -> Shown:
        """The message posted last in `where`."""
        posted = self.messages(where, name)
        if not posted:
            raise LookupError(f"nothing posted in {where}")
        return posted[-1]

    def texts(self, where: str, name: str | None = None) -> str:
        """What the newest message posted in `where` says."""
        return self.newest(where, name).texts

    def headings(self, where: str) -> list[str]:
        return [h for shown in self.messages(where) for h in shown.headings]

    def dms(self, name: str) -> list[str]:
        """What the bot wrote to `name` in their one-to-one chat, oldest first."""
        return [shown.texts for shown in self.messages(DM, name)]

    def current(self, shown: Shown) -> Shown:
        """`shown` as its conversation shows it now."""
        posted = self.fake.posted[(shown.conversation, shown.id)]
        return self._shown((shown.conversation, shown.id), posted)

    def find_button(self, name: str, where: str, action: str, **args: str) -> tuple[Shown, Json]:
        for shown in self.visible(name, where):
            button = shown.button(action, args)
            if button is not None:
                return shown, button
        raise LookupError(f"{name} sees no {action!r} button {args or ''} in {where}")

    def buttons(self, name: str, where: str, action: str) -> list[dict[str, str]]:
        """The args of every `action` button `name` can see in `where`, newest message first."""
        return [dict(_data_of(b).get("args") or {}) for shown in self.visible(name, where)
                for b in shown.submits(action)]

    def form(self, name: str) -> Shown:
        """The form card `name` would fill in now, as it looks now."""
        if name in self._forms:
            return self.current(self._forms[name])
        where = self._acted_in.get(name)
        for shown in self.visible(name, where) if where else ():
            if shown.is_form:
                return shown
        raise LookupError(f"no form card was posted for {name}")

    def bot_activities(self) -> list[Json]:
        """Every activity the bot sent to Teams (posts, updates, new conversations)."""
        return [(c.body.get("activity") or {}) if c.route == "create" else c.body
                for c in self.fake.calls if c.route in ("send", "reply", "update", "create")
                and isinstance(c.body, dict)]

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

    def _person(self, name: str) -> Person:
        return person(name)

    def _submit(self, name: str, shown: Shown, value: Json) -> Json:
        """The activity of pressing a button on `shown`: a card posted in a channel is the root
        of a thread, so the press arrives in that thread's conversation."""
        conversation = shown.conversation
        if conversation.startswith("19:") and ";messageid=" not in conversation:
            conversation = f"{conversation};messageid={shown.id}"
        self._acted_in[name] = shown.conversation
        return self.fake.card_submit(value, reply_to_id=shown.id, conversation_id=conversation,
                                     person=self._person(name))

    def _tick(self) -> int:
        return max(self.fake.touched.values(), default=0)

    def _note_forms(self, name: str, since: int) -> None:
        """The newest form card posted after `since` is the one the press opened for `name`."""
        fresh = [self._shown(key, self.fake.posted[key]) for key, order in _snapshot(self.fake.touched)
                 if order > since and key in self.fake.posted]
        forms = [s for s in fresh if s.is_form and s.versions == 1]
        if forms:
            self._forms[name] = max(forms, key=lambda s: s.order)

    def _shown(self, key: tuple[str, str], posted: Any) -> Shown:
        return Shown(key[0], key[1], posted.activity, self.fake.touched.get(key, 0), len(posted.versions))


class ClientRefused(ValueError):
    """Teams itself would not send the form: a required input is empty (its errorMessage)."""


# --- card inputs --------------------------------------------------------------------------


def _input_value(node: Json) -> str:
    """What Teams sends for an input nobody touched: its `value`, as text."""
    value = node.get("value")
    return "" if value is None else str(value)


def _typed(node: Json, value: str | Iterable[str]) -> str:
    """What Teams sends for an input after a person typed or picked `value` in it: text for
    every kind, several choices comma-separated. Only the choices the card offers can be picked."""
    kind = node["type"]
    if kind == "Input.ChoiceSet":
        offered = {c["value"] for c in node.get("choices") or ()}
        chosen = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
        chosen = [v for v in chosen if v]
        if unknown := [v for v in chosen if v not in offered]:
            raise ValueError(f"{node['id']!r} offers no choice {unknown}")
        if len(chosen) > 1 and not node.get("isMultiSelect"):
            raise ValueError(f"{node['id']!r} takes one choice, not {chosen}")
        return ",".join(chosen)
    if not isinstance(value, str):
        raise TypeError(f"{node['id']!r} takes text, not {value!r}")
    if node.get("maxLength") and len(value.encode("utf-16-le")) // 2 > int(node["maxLength"]):  # JS counts UTF-16
        raise ValueError(f"Teams lets nobody type more than {node['maxLength']} characters in {node['id']!r}")
    if kind == "Input.Date" and value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"a date picker sends YYYY-MM-DD, not {value!r}")
    return value


# --- small things -------------------------------------------------------------------------


def unpaced(deliver_to: Platforms) -> Platforms:
    """The platforms' deliverers, with Teams' pace off: the fake takes any pace."""
    def made(submit: Callable[[Event], object]) -> Mapping[str, Deliverer]:
        deliverers = deliver_to(submit)
        deliverers["teams"].pacer = Pacer(0)  # type: ignore[attr-defined]
        return deliverers
    return made


def _free_port() -> int:
    """A port nobody listens on now, so the server's address (PUBLIC_BASE_URL) is known before
    the app is built from the settings."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _snapshot(items: dict[K, V]) -> list[tuple[K, V]]:
    """The fake adds to its dicts on its own thread: a copy made while it does can fail (a
    garbage collection during the copy lets that thread run), so it is made again."""
    while True:
        try:
            return list(items.items())
        except RuntimeError:  # dictionary changed size during iteration
            continue
