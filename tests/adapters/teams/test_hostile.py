"""Hostile input at POST /api/messages, fuzzed with hypothesis ("[proof] hostile input").

The real server (build_app) with the Teams adapter and authentication on: botbuilder's
CloudAdapter checks every activity against the keys of the loopback fake of Microsoft's side
(tests/fakes/teams_api.py), the real service handles it, and the outbox goes out through the
real TeamsDeliverer to the same fake, so what people are told is what the fake records.

Nearly every request here is signed correctly, so it gets past the token check and reaches
what is behind it: what is tried is what a Teams user can type or put in a card's fields, and
what a broken proxy, a future Teams or anyone holding a token could send. Whatever arrives:

* the answer is never a 5xx and never carries a stack trace;
* a body that is no activity is a 400, one too large a 413, one that is not JSON a 415, and an
  activity without a valid token a 401;
* what the bot tells a person in answer to something it cannot do is a translated refusal;
* another tenant, a forged workshop id or a stale button changes nothing;
* every card the bot posts is still one Microsoft's Adaptive Cards library accepts (the
  validator of test_card_validation.py), with nobody's `{{DATE(…)}}` in it but the bot's own;
* the database invariants (tests/invariants.py) hold at the end of each test.

How hypothesis meets the async server: each test is a plain function that owns one event loop
(an asyncio.Runner, in the `bench` fixture) for the whole test, and the @given function inside
it runs each example on that loop. So the fake, the server and the database are made once per
test and shared by its examples on purpose (what one example leaves behind is part of what the
next one meets), and the end-of-test checks run once, after the last example.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import subprocess
import time
import warnings
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import openpyxl
import pytest
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.schema import Activity
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from adapters.app import PlatformRouter, Runtime, Store, open_store, plan_files, start_runtime
from adapters.config import Settings
from adapters.server import build_app
from adapters.teams import parse
from adapters.teams.app import cloud_adapter, file_links
from adapters.teams.conversations import Conversations
from adapters.teams.deliver import TeamsDeliverer
from adapters.teams.render import CONTENT_TYPE, ELLIPSIS, WORD_JOINER
from bot import engine
from bot.clock import SystemClock
from bot.events import NUL
from bot.i18n import LANGUAGES, catalog
from bot.store.tables import OutboxRow, WorkshopRow
from tests.adapters.teams.test_card_validation import LIBRARY, NODE_TIMEOUT, SCRIPT, Checked, _problems
from tests.adapters.teams.test_endpoint import OTHER_TENANT, from_tenant, teams_settings
from tests.fakes.teams_api import APP_ID, CHANNEL, JONAS, METTE, TENANT_ID, Call, FakeTeamsApi, Person
from tests.invariants import violations
from tests.served import caught_up

Json = Any  # whatever json.loads can give
T = TypeVar("T")
JSON = "application/json"
LIMIT = 1024 * 1024  # build_app's client_max_size
SETTLE_SECONDS = 20.0
THEIR_CHANNEL = "19:their-plenum@thread.tacv2"  # another organisation's team, in its own tenant
POSTING = ("send", "reply", "update", "create")  # the Bot Connector calls that show something


def fuzz(examples: int) -> Any:
    """Hypothesis settings for these tests: no example database (the fuzzing is random on each
    run, and nothing is written into the working tree), no deadline (a request waits for the
    outbox to be delivered)."""
    return settings(max_examples=examples, deadline=None, database=None)


# --- the setting ------------------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTeamsApi]:
    with FakeTeamsApi() as api:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", api.ca_file)  # the SDK fetches the fake's keys
        yield api


@pytest.fixture
def teams_store(database_url: str) -> Iterator[Store]:
    """SQLite, and PostgreSQL where TEST_DATABASE_URL is set (tests/conftest.py): PostgreSQL
    refuses some text SQLite takes (a NUL), and production runs on it."""
    store = open_store(database_url)
    yield store
    store.close()


@pytest.fixture
def settings_(tmp_path: Path, database_url: str) -> Settings:
    return teams_settings(tmp_path, database_url=database_url)


@pytest.fixture
def runtime(teams_store: Store, settings_: Settings, fake: FakeTeamsApi) -> Iterator[Runtime]:
    """The runtime with the real Teams deliverer (unpaced), so the outbox reaches the fake."""
    deliverer = TeamsDeliverer(cloud_adapter(settings_, fake.endpoints()), APP_ID,
                               Conversations(teams_store.memory), file_links(settings_),
                               files=plan_files(teams_store, SystemClock()).build, interval=0)
    running = start_runtime(teams_store, settings_, False, PlatformRouter({"teams": deliverer}))
    yield running
    running.stop()


@dataclass
class Answer:
    status: int
    text: str


class Bench:
    """The server on an event loop of its own, and what the tests ask of it."""

    def __init__(self, runner: asyncio.Runner, client: TestClient, fake: FakeTeamsApi, store: Store) -> None:
        self.runner = runner
        self.client = client
        self.fake = fake
        self.store = store
        self.requests = 0
        self.seen = 0  # how many of the fake's calls `settle` has handed out
        self.cards: dict[str, dict[str, Any]] = {}  # every card posted, once each

    def __repr__(self) -> str:  # hypothesis shows it with each failing example
        return f"Bench({self.requests} requests)"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    def post(self, body: bytes, authorization: str | None, content_type: str = JSON) -> Answer:
        """POST a raw body; whatever it was, the answer is no crash."""
        headers = {"Content-Type": content_type} | ({"Authorization": authorization} if authorization else {})

        async def posted() -> Answer:
            async with self.client.post("/api/messages", data=body, headers=headers) as response:
                answer = Answer(response.status, await response.text(errors="replace"))
            await caught_up(self.client)  # answered once kept; checked once handled
            return answer

        answer = self.run(posted())
        self.requests += 1
        assert_no_crash(answer)
        return answer

    def send(self, activity: dict[str, Any], token: str | None = None) -> Answer:
        """POST an activity signed as the Bot Connector signs it (for the fake's serviceUrl,
        even when the activity's own was fuzzed)."""
        body = json.dumps(activity).encode()
        return self.post(body, token or self.fake.sign_activity(activity, service_url=self.fake.service_url))

    def settle(self) -> list[Call]:
        """Wait until the outbox is delivered; the Bot Connector calls made since the last time
        (the cards among them are kept for the end of the test)."""
        async def delivered() -> None:
            deadline = time.monotonic() + SETTLE_SECONDS
            while await asyncio.to_thread(self.store.outbox.backlog):
                assert time.monotonic() < deadline, "the outbox was not delivered"
                await asyncio.sleep(0.01)

        self.run(delivered())
        calls = self.fake.calls[self.seen:]
        self.seen += len(calls)
        for call in calls:
            for card in cards_of(call):
                self.cards.setdefault(json.dumps(card, sort_keys=True), card)
        return calls

    def finish(self) -> None:
        """The end of a test: every card posted validates, and the database is consistent."""
        self.settle()
        problems = card_problems(list(self.cards.values()))
        assert problems == [], "\n".join(problems[:12])
        smuggled = [text for card in self.cards.values() for text in shown_texts(card)
                    if any(mark in text for mark in SMUGGLED)]
        assert smuggled == []
        assert violations(self.store) == []


@pytest.fixture
def bench(fake: FakeTeamsApi, teams_store: Store, settings_: Settings, runtime: Runtime) -> Iterator[Bench]:
    with asyncio.Runner() as runner:
        app = build_app(teams_store, settings_, runtime, teams_endpoints=fake.endpoints())

        async def started() -> TestClient:  # aiohttp makes its client on a running loop
            made = TestClient(TestServer(app, host="127.0.0.1"))
            await made.start_server()
            return made

        client = runner.run(started())
        try:
            yield Bench(runner, client, fake, teams_store)
        finally:
            runner.run(client.close())


def assert_no_crash(answer: Answer) -> None:
    assert answer.status < 500, f"{answer.status}: {answer.text[:500]}"
    assert "Traceback" not in answer.text and 'File "' not in answer.text, answer.text[:2000]


# --- what the bot says and shows ----------------------------------------------------------------


def posted_activity(call: Call) -> dict[str, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    return body.get("activity") or {} if call.route == "create" else body


def cards_of(call: Call) -> list[dict[str, Any]]:
    if call.route not in POSTING or call.status >= 300:
        return []
    return [a.get("content") or {} for a in posted_activity(call).get("attachments") or []
            if a.get("contentType") == CONTENT_TYPE]


def told(calls: list[Call], fake: FakeTeamsApi, person: Person) -> list[str]:
    """What the bot said to `person` in their own chat (where a refusal goes): the summaries."""
    chat = fake.personal_conversation_id(person)
    return [str(posted_activity(c).get("summary") or "") for c in calls
            if c.route in ("send", "reply") and c.conversation_id == chat and c.status < 300]


def _template(text: str) -> str:
    """A catalog text as a pattern for Teams' summary of it: any value for each {placeholder},
    whitespace as the summary has it (one line)."""
    literal = [r"\s*".join(re.escape(word) for word in part.split()) for part in re.split(r"\{\w+\}", text)]
    return r"\s*" + r"(?s:.*)".join(literal) + r"\s*"


def _refusal(language: str, text: str) -> re.Pattern[str]:
    """A refusal, and after it what was typed in a refused form (bot/engine.py, _refusal)."""
    typed_back = _template(catalog(language)["refuse.your_text"])
    return re.compile(f"{_template(text)}(?:{typed_back})?")


REFUSALS: dict[tuple[str, str], tuple[re.Pattern[str], str]] = {
    (language, key): (_refusal(language, text), text.split("{")[0])
    for language in LANGUAGES for key, text in catalog(language).items()
    if key.startswith("refuse.") and key != "refuse.your_text"}


def refusal(summary: str) -> str | None:
    """The refuse.* text a summary says (in either language), or None. A long one is cut with
    an ellipsis: then its start must be the text's own start."""
    plain = " ".join(summary.replace(WORD_JOINER, "").split())
    for (_, key), (pattern, head) in REFUSALS.items():
        if pattern.fullmatch(plain) or (plain.endswith(ELLIPSIS) and len(head) > 8 and plain.startswith(head)):
            return key
    return None


def assert_refusals(summaries: list[str], *, expected: str | None = None) -> None:
    keys = [refusal(summary) for summary in summaries]
    assert None not in keys, f"not a translated refusal: {summaries[keys.index(None)]!r}"
    if expected is not None:
        assert expected in keys, (expected, summaries)


def card_problems(cards: list[dict[str, Any]]) -> list[str]:
    """What Microsoft's Adaptive Cards library (test_card_validation.py's validator, one Node
    run) finds in the cards. Without Node or its packages this part is skipped, with a warning:
    the rest of a fuzz test still stands."""
    node = shutil.which("node")
    if not cards:
        return []
    if node is None or not LIBRARY.is_file():
        warnings.warn("cards not validated: needs Node.js and `npm ci --prefix tests/adapters/teams`",
                      stacklevel=2)
        return []
    run = subprocess.run([node, str(SCRIPT)], input=json.dumps(cards), capture_output=True, text=True,
                         encoding="utf-8", timeout=NODE_TIMEOUT, check=False)
    assert run.returncode == 0, f"validate_cards.js failed ({run.returncode}):\n{run.stderr}"
    results = json.loads(run.stdout)["results"]
    found = []
    for index, (card, result) in enumerate(zip(cards, results, strict=True)):
        checked = Checked(f"card {index}", card, result["version"], result["events"])
        found += [f"card {index} ({json.dumps(card, ensure_ascii=False)[:200]}…): {problem}"
                  for problem in _problems(checked)]
    return found


def shown_texts(card: Any) -> Iterator[str]:
    """The texts of a card Teams reads for date functions, Markdown and mentions: a TextBlock's
    text, a Fact's title and value (an input's value is shown as typed, so it may hold anything)."""
    if isinstance(card, list):
        for item in card:
            yield from shown_texts(item)
    elif isinstance(card, dict):
        if card.get("type") == "TextBlock":
            yield str(card.get("text", ""))
        if card.get("type") == "FactSet":
            yield from (str(fact.get(part, "")) for fact in card.get("facts") or [] for part in ("title", "value"))
        for value in card.values():
            yield from shown_texts(value) if isinstance(value, (dict, list)) else ()


# What people's text must never be in a card as: a date function or mention Teams would act on
# (the bot itself writes only {{TIME(…)}}, of its own moments, and no mention at all).
SMUGGLED = ("{{DATE(", "{{TIME(2001-02-03T04:05:06Z)}}", "<at>")


# --- the world a test starts from --------------------------------------------------------------


def workshops(store: Store) -> dict[str, tuple[str, int, str, int]]:
    """Each workshop as (org, version, phase, phase_seq): what must not move when it should not."""
    with store.sessions() as session:
        rows = session.scalars(select(WorkshopRow))
        return {row.id: (row.org, row.version, str(row.phase), row.phase_seq) for row in rows}


def new_workshop(bench: Bench, title: str, channel: str = CHANNEL, tenant: str | None = None) -> str:
    """A workshop made as a facilitator does ("@Ambition ny <title>" in the channel); its id."""
    before = set(workshops(bench.store))
    activity = bench.fake.channel_message(f"ny {title}", channel=channel)
    assert bench.send(from_tenant(activity, tenant) if tenant else activity).status == 201
    bench.settle()
    [made] = set(workshops(bench.store)) - before
    return made


def buttons(fake: FakeTeamsApi, channel: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(conversation, activity id, Action.Submit data) of every button the channel shows."""
    found = []
    for posted in fake.shown(channel):
        for card in posted.cards:
            for action in _actions(card):
                if action.get("type") == "Action.Submit":
                    found.append((posted.conversation_id, posted.id, action["data"]))
    return found


def _actions(card: Any) -> Iterator[dict[str, Any]]:
    if isinstance(card, dict):
        yield from card.get("actions") or []
        for value in card.values():
            yield from _actions(value) if isinstance(value, (dict, list)) else ()
    elif isinstance(card, list):
        for value in card:
            yield from _actions(value)


def press(bench: Bench, action: str, channel: str = CHANNEL, person: Person = METTE,
          values: dict[str, Any] | None = None) -> list[Call]:
    """Press the newest button `action` the channel shows (a form's submit: with `values`)."""
    conversation, card, data = [b for b in buttons(bench.fake, channel)
                                if b[2]["ambition"]["action"] == action][-1]
    activity = bench.fake.card_submit({**data, **(values or {})}, reply_to_id=card,
                                      conversation_id=conversation, person=person)
    assert bench.send(activity).status == 201
    return bench.settle()


def form_button(fake: FakeTeamsApi, form: str, channel: str = CHANNEL) -> tuple[str, str, dict[str, Any]]:
    """The submit button of the newest `form` card in the channel."""
    return [b for b in buttons(fake, channel) if b[2]["ambition"]["args"].get("form") == form][-1]


def choose_measures(bench: Bench) -> None:
    """The facilitator chooses the workshop's målepunkter (the measures form)."""
    press(bench, "setup_measures")
    conversation, card, data = form_button(bench.fake, "measures")
    bench.send(bench.fake.card_submit({**data, "measures": "E-energi,S-tilfredshed,G-indkoeb"},
                                      reply_to_id=card, conversation_id=conversation))
    bench.settle()


def started(bench: Bench) -> str:
    """A workshop past its setup (phase 1), so the setup card's buttons are stale; its id."""
    workshop = new_workshop(bench, "Fjordly")
    choose_measures(bench)
    press(bench, "start")
    assert workshops(bench.store)[workshop][2:] == ("intro", 1), workshops(bench.store)
    return workshop


# --- what is sent --------------------------------------------------------------------------------

CONTROL = ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\u202e", "\u2028", "\u2029", "\ufeff", "\u200b",
           "\r\n", "\r", "\t", "\ud800"]  # the last: a lone surrogate, which JSON can carry
MARKUP = ["<at>Ambition</at>", "<at>x</at>", "</at>", "<at>", "<script>alert(1)</script>",
          "<img src=x onerror=alert(1)>", "&lt;b&gt;&amp;&#0;", "&nbsp;", "<p>", "<https://evil.example>",
          "${$root.title}", "${if(true, 'a', 'b')}", "{{DATE(2001-02-03T04:05:06Z, SHORT)}}",
          "{{TIME(2001-02-03T04:05:06Z)}}", "{{", "}}", "**fed** _kursiv_ ~~x~~ `kode`",
          "[link](https://evil.example)", "![x](https://evil.example/x.png)", "# overskrift",
          "> citat", "- punkt", "1. punkt", "    indrykket", "\\", "\\*"]
INJECTION = ["'; DROP TABLE workshops; --", "\" OR \"1\"=\"1", "1; SELECT pg_sleep(10)--", "%s%n{0}{}",
             "=HYPERLINK(\"https://evil.example\",\"klik\")", "=cmd|' /C calc'!A0", "+SUM(A1:A9)",
             "@SUM(A1)", "-2+3", "=1+1", "../../etc/passwd", "null", "undefined", "NaN", "true"]
WORDS = ["ny", "status", "hjælp", "help", "start", "næste", "slet", "gruppe", "deltag", "/ny",
         "ÆØÅ æøå", "😀👍🏽", "\U0010ffff", "a" * 41]
PIECES = CONTROL + MARKUP + INJECTION + WORDS
hostile_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), min_size=1,
                        max_size=8).map("".join)
# 100 kB of something nasty: below the 1 MB limit even as JSON escapes (\u0000 is six bytes)
overlong_text = st.tuples(st.sampled_from(PIECES), st.integers(60_000, 100_000)).map(
    lambda piece_and_size: (piece_and_size[0] * piece_and_size[1])[:piece_and_size[1]])
any_text = st.one_of(hostile_text, hostile_text, hostile_text, overlong_text)

KEYS = ["type", "id", "text", "value", "ambition", "action", "args", "workshop", "seq", "form",
        parse.ORIGIN, "tenant", "conversation", "mentioned", "name", "uploadInfo", "context"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile_text)
json_values: st.SearchStrategy[Json] = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                     st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


def nested(depth: int, kind: str) -> str:
    """JSON `depth` levels deep, as text (json.dumps itself would hit the recursion limit)."""
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opening * depth + "1" + closing * depth


# Around Python's recursion limit (1000) is where parsers and reprs fall over.
depths = st.one_of(st.integers(1, 50), st.integers(900, 1100), st.integers(5_000, 150_000))


# --- a body that is no activity ------------------------------------------------------------------

not_json = st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                     st.sampled_from([b"", b"{", b'{"type": "message"', b"\xff\xfe{}", b"NaN]",
                                      b'{"type": "message"}}', b"\x00"]))
not_an_object = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile_text,
                          st.lists(json_values, max_size=4)).map(lambda value: json.dumps(value).encode())
no_type = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=5).map(
    lambda value: {k: v for k, v in value.items() if k != "type"}).map(lambda value: json.dumps(value).encode())
deep = st.tuples(depths, st.sampled_from(["list", "dict"])).map(lambda dk: nested(*dk).encode())


@given(body=st.one_of(not_json, not_an_object, no_type, deep))
@example(body=nested(100_000, "list").encode())  # was 500: json's RecursionError is no ValueError
@fuzz(examples=100)
def _no_activity(bench: Bench, body: bytes) -> None:
    answer = bench.post(body, bench.fake.sign_activity(bench.fake.channel_message("ny Fjordly")))
    assert answer.status == 400, answer
    assert workshops(bench.store) == {} and bench.store.outbox.backlog() == 0


def test_a_body_that_is_no_activity_is_a_bad_request_and_changes_nothing(bench: Bench) -> None:
    _no_activity(bench)
    bench.finish()


# --- an activity with fields of the wrong type ---------------------------------------------------

FIELDS = ["type", "id", "text", "value", "conversation", "from", "recipient", "channelData", "entities",
          "attachments", "replyToId", "membersAdded", "timestamp", "locale", "name", "textFormat",
          "channelId", "serviceUrl", "deliveryMode"]
# what those fields hold in other activities: the right type, the wrong place
NAMED = ["message", "invoke", "conversationUpdate", "event", "messageReaction", "installationUpdate",
         "typing", "endOfConversation", "messageUpdate", "messageDelete", "fileConsent/invoke",
         "adaptiveCard/action", "task/fetch", "composeExtension/query", "signin/verifyState",
         "expectReplies", "msteams", "emulator", "xml", "markdown"]
field_values = st.one_of(json_values, st.sampled_from(NAMED))


def with_raw(activity: dict[str, Any], raw: dict[str, str]) -> bytes:
    """The activity as JSON with some fields' values spliced in as raw JSON text (a nesting
    json.dumps could not write)."""
    marked = {**activity, **{name: f"@@{name}@@" for name in raw}}
    text = json.dumps(marked)
    for name, value in raw.items():
        text = text.replace(json.dumps(f"@@{name}@@"), value)
    return text.encode()


def base_activities(fake: FakeTeamsApi) -> dict[str, Callable[[], dict[str, Any]]]:
    """Each kind of activity Teams sends this bot, fresh each time (a new id)."""
    chat = fake.personal_conversation_id(METTE)
    return {
        "channel": lambda: fake.channel_message("status"),
        "personal": lambda: fake.personal_message("status"),
        "button": lambda: fake.card_submit({"ambition": {"action": "start", "args": {"workshop": "w0", "seq": "0"}}},
                                           reply_to_id="1", conversation_id=chat),
        "added": lambda: fake.bot_added(),
        "consent": lambda: fake.file_consent_accepted(reply_to_id="1", context={"workshop": "w0"}, name="plan.xlsx"),
    }


@given(kind=st.sampled_from(["channel", "personal", "button", "added", "consent"]),
       changes=st.dictionaries(st.sampled_from(FIELDS), field_values, min_size=1, max_size=3),
       deep_field=st.one_of(st.none(), st.tuples(st.sampled_from(FIELDS), depths, st.sampled_from(["list", "dict"]))))
@example(kind="channel", changes={"conversation": "19:x"}, deep_field=None)  # was 500: msrest's DeserializationError
@example(kind="channel", changes={"entities": [1, 2]}, deep_field=None)  # was 500
@example(kind="channel", changes={"timestamp": "gestern"}, deep_field=None)  # was 500
@example(kind="personal", changes={"type": "invoke", "name": "task/fetch"}, deep_field=None)  # was 501
@example(kind="channel", changes={"entities": [None]}, deep_field=None)  # was 500: a null entity
@example(kind="channel", changes={"deliveryMode": "expectReplies"}, deep_field=None)  # was 500
@example(kind="added", changes={"membersAdded": [None, {"id": "29:x"}]}, deep_field=None)
@fuzz(examples=150)
def _wrong_types(bench: Bench, kind: str, changes: dict[str, Json],
                 deep_field: tuple[str, int, str] | None) -> None:
    activity = {**base_activities(bench.fake)[kind](), **changes}
    if deep_field is None:
        bench.send(activity)
    else:
        name, depth, shape = deep_field
        raw = {name: nested(depth, shape)}
        bench.post(with_raw(activity, raw), bench.fake.sign_activity(activity, service_url=bench.fake.service_url))
    bench.settle()


def test_an_activity_with_fields_of_the_wrong_type_is_no_crash(bench: Bench) -> None:
    new_workshop(bench, "Fjordly")  # something for the activities to hit
    _wrong_types(bench)
    bench.finish()


# --- a file consent the bot did not offer ------------------------------------------------------

uploads = st.one_of(st.just("as Teams sends it"), json_values,
                    st.fixed_dictionaries({"uploadUrl": st.one_of(hostile_text, st.just("http://evil.example/x"))}))


@given(action=st.one_of(st.just("accept"), st.just("accept"), st.just("decline"), json_values),
       whose=st.sampled_from(["ours", "theirs", "forged"]), forged=st.one_of(hostile_text, json_values),
       tenant=st.sampled_from([TENANT_ID, OTHER_TENANT]), upload=uploads, context=st.one_of(st.none(), json_values))
@fuzz(examples=60)
def _consent(bench: Bench, ours: str, theirs: str, action: Json, whose: str, forged: Json, tenant: str,
             upload: Json, context: Json) -> None:
    workshop = {"ours": ours, "theirs": theirs, "forged": forged}[whose]
    name = f"plan-{bench.requests}.xlsx"
    activity = bench.fake.file_consent_accepted(reply_to_id="1", context={"workshop": workshop}, name=name)
    value = activity["value"]
    value["action"] = action
    if upload != "as Teams sends it":
        value["uploadInfo"] = upload
    if context is not None:
        value["context"] = context
    answer = bench.send(from_tenant(activity, tenant))
    assert answer.status in (200, 400), answer
    owner = TENANT_ID if workshop == ours else OTHER_TENANT if workshop == theirs else None
    if name in bench.fake.uploads:  # a plan went into someone's OneDrive: theirs only
        assert (owner, value["context"]["workshop"]) == (tenant, workshop), (owner, tenant, value)
    bench.settle()


def test_a_file_consent_the_bot_did_not_offer_is_no_crash_and_gives_no_plan_away(bench: Bench) -> None:
    ours = new_workshop(bench, "Fjordly")
    theirs = new_workshop(bench, "Havbo", channel=THEIR_CHANNEL, tenant=OTHER_TENANT)
    _consent(bench, ours, theirs)
    bench.finish()


def test_another_tenant_cannot_have_a_workshops_plan_put_in_its_onedrive(bench: Bench) -> None:
    """A file consent carries the workshop id the bot put in its card, but the client sends it
    back: one naming another organisation's workshop must not get that plan."""
    ours = new_workshop(bench, "Fjordly")
    consent = bench.fake.file_consent_accepted(reply_to_id="1", context={"workshop": ours}, name="theirs.xlsx")

    answer = bench.send(from_tenant(consent, OTHER_TENANT))

    assert answer.status == 400
    assert bench.fake.uploads == {}
    mine = bench.fake.file_consent_accepted(reply_to_id="1", context={"workshop": ours}, name="ours.xlsx")
    assert bench.send(mine).status == 200  # its own tenant still gets it
    assert list(bench.fake.uploads) == ["ours.xlsx"]
    bench.finish()


def test_a_file_consent_for_a_workshop_that_is_not_there_is_a_bad_request(bench: Bench) -> None:
    """Was a 500, as if the bot were broken: the workshop is gone, or the id was made up."""
    consent = bench.fake.file_consent_accepted(reply_to_id="1", context={"workshop": "w0000000"}, name="x.xlsx")
    consent["value"]["uploadInfo"] = ["not", "an", "upload", "session"]

    assert bench.send(consent).status == 400
    assert bench.fake.uploads == {}
    bench.finish()


# --- what people type --------------------------------------------------------------------------

ELSEWHERE = "19:kantine@thread.tacv2"  # a channel of the same team without a workshop


def size(activity: dict[str, Any]) -> int:
    return len(json.dumps(activity).encode())


def typed(activity: dict[str, Any]) -> str:
    """The command the engine reads from the activity: the adapter's text, without the NULs
    the core drops (bot.events.storable)."""
    return parse.command_text(Activity().deserialize(activity)).replace(NUL, "")


@given(text=any_text, where=st.sampled_from(["plenum", "elsewhere", "personal"]),
       person=st.sampled_from([METTE, JONAS]))
@example(text="=HYPERLINK(\"https://evil.example\",\"klik\") {{DATE(2001-02-03T04:05:06Z, SHORT)}} <at>x</at>",
         where="plenum", person=JONAS)
@example(text="'; DROP TABLE workshops; --\x00\u202e\u2028", where="personal", person=METTE)
@example(text="\ud800", where="plenum", person=METTE)  # was 500: a lone surrogate failed the commit
@fuzz(examples=60)
def _commands(bench: Bench, text: str, where: str, person: Person) -> None:
    fake = bench.fake
    activity = (fake.personal_message(text, person=person) if where == "personal" else
                fake.channel_message(text, person=person, channel=CHANNEL if where == "plenum" else ELSEWHERE))
    before = workshops(bench.store)
    answer = bench.send(activity)
    if size(activity) > LIMIT:  # the channel's copy in HTML doubles it
        assert answer.status == 413
        return
    assert answer.status == 201
    said = told(bench.settle(), fake, person)
    if engine.parse(typed(activity))[0] == "":  # no command of the bot's: refused, nothing changed
        assert_refusals(said, expected="refuse.unknown_command")
        assert workshops(bench.store) == before


def test_what_people_type_is_refused_in_their_language_or_handled_never_a_crash(bench: Bench) -> None:
    new_workshop(bench, "Fjordly")
    _commands(bench)
    bench.finish()


# --- card submissions the bot did not make -----------------------------------------------------

mangled = st.one_of(st.none(), st.tuples(st.sampled_from(["ambition", "args", "action", "workshop", "seq"]),
                                         json_values))


@given(pick=st.integers(0, 1_000), action=st.one_of(st.none(), st.sampled_from(sorted(engine.ACTIONS)),
                                                     st.just("form_submit"), hostile_text),
       whose=st.sampled_from(["ours", "ours", "theirs", "forged"]), forged=hostile_text,
       seq=st.one_of(st.none(), st.sampled_from(["0", "1", "2", "-1", "", "01"]), hostile_text),
       args=st.dictionaries(st.sampled_from(["m", "goal", "area", "form", parse.ORIGIN, "point", "group", "n"]),
                            st.one_of(hostile_text, st.sampled_from(["E", "S", "G", "E-energi", "details"])),
                            max_size=3),
       inputs=st.dictionaries(st.text(max_size=10), json_values, max_size=3), mangle=mangled,
       sender=st.sampled_from(["facilitator", "member", "other tenant"]))
@example(pick=0, action=None, whose="forged", forged="\x00", seq=None, args={}, inputs={}, mangle=None,
         sender="facilitator")  # "\x00" is read as no workshop: the conversation's own
@fuzz(examples=80)
def _submissions(bench: Bench, ours: str, theirs: str, pick: int, action: str | None, whose: str,
                 forged: str, seq: str | None, args: dict[str, str], inputs: dict[str, Json],
                 mangle: tuple[str, Json] | None, sender: str) -> None:
    foreign = sender == "other tenant"
    channel = THEIR_CHANNEL if foreign else CHANNEL
    shown = buttons(bench.fake, channel)
    conversation, card, data = shown[pick % len(shown)]
    submitted = json.loads(json.dumps(data["ambition"]))  # a copy to spoil
    workshop = {"ours": ours, "theirs": theirs, "forged": forged}[whose]
    submitted["args"] |= {**args, "workshop": workshop} | ({"seq": seq} if seq is not None else {})
    if action is not None:
        submitted["action"] = action
    value: dict[str, Json] = {**inputs, "ambition": submitted}
    if mangle is not None:  # a part of the bot's own data of the wrong type
        where, spoilt = mangle
        target = value if where == "ambition" else submitted if where in ("args", "action") else submitted["args"]
        target[where] = spoilt
    person = METTE if sender != "member" else JONAS
    activity = bench.fake.card_submit(value, reply_to_id=card, conversation_id=conversation, person=person)
    before = workshops(bench.store)

    assert bench.send(from_tenant(activity, OTHER_TENANT) if foreign else activity).status == 201
    said = told(bench.settle(), bench.fake, person)

    after = workshops(bench.store)
    sent = sent_args(value)
    named = sent.get("workshop")
    named = named.replace(NUL, "") if isinstance(named, str) else named  # as the server reads it
    if named and named != (theirs if foreign else ours):
        # another tenant's workshop, or none at all: nothing changes anywhere, and they hear why
        # (no workshop named at all is the workshop of the conversation, as for a command)
        assert after == before, (named, sender)
        assert_refusals(said)
    if named == ours and not foreign and sent.get("seq") != str(before[ours][3]):
        assert after[ours][2:] == before[ours][2:], "a stale button moved the workshop on"


def sent_args(value: dict[str, Json]) -> dict[str, Json]:
    """The args of a submission's own data, as far as it has any."""
    data = value.get("ambition")
    args = data.get("args") if isinstance(data, dict) else None
    return args if isinstance(args, dict) else {}


def test_a_card_submission_the_bot_did_not_make_changes_nothing_it_should_not(bench: Bench) -> None:
    ours = started(bench)  # its setup card's buttons say seq 0: stale
    theirs = new_workshop(bench, "Havbo", channel=THEIR_CHANNEL, tenant=OTHER_TENANT)
    _submissions(bench, ours, theirs)
    bench.finish()


# --- what people write in forms -----------------------------------------------------------------

form_value = st.one_of(hostile_text, hostile_text, overlong_text, json_values)


FORMS = ("details", "why", "agenda", "measures")


@given(form=st.sampled_from(FORMS), values=st.dictionaries(st.integers(0, 20), form_value, min_size=1, max_size=6),
       extra=st.dictionaries(st.text(max_size=10), form_value, max_size=2),
       person=st.sampled_from([METTE, METTE, JONAS]))
@example(form="details", values={0: "x" * 100_000}, extra={}, person=METTE)  # was 500: the card too large to redraw
@fuzz(examples=60)
def _forms(bench: Bench, opened: dict[str, tuple[str, str, dict[str, Any], list[str]]], form: str,
           values: dict[int, Json], extra: dict[str, Json], person: Person) -> None:
    conversation, card, data, fields = opened[form]  # as first drawn: a saved one has no button left
    value = {**extra, **{fields[n % len(fields)]: raw for n, raw in values.items()}, **data}
    activity = bench.fake.card_submit(value, reply_to_id=card, conversation_id=conversation, person=person)
    answer = bench.send(activity)
    if size(activity) > LIMIT:
        assert answer.status == 413
        return
    assert answer.status == 201
    assert_refusals(told(bench.settle(), bench.fake, person))


def opened_form(fake: FakeTeamsApi, form: str) -> tuple[str, str, dict[str, Any], list[str]]:
    """(conversation, card id, submit data, input ids) of the newest `form` card."""
    conversation, card_id, data = form_button(fake, form)
    [posted] = [p for p in fake.shown(CHANNEL) if p.id == card_id]
    ids = [element["id"] for card in posted.cards for element in card["body"]
           if str(element.get("type", "")).startswith("Input.")]
    return conversation, card_id, data, ids


def test_what_people_write_in_a_form_is_kept_as_text_or_sent_back_never_a_crash(bench: Bench) -> None:
    ours = new_workshop(bench, "Fjordly")
    choose_measures(bench)  # the why form asks about them
    for opener in ("setup_details", "setup_why", "setup_agenda", "setup_measures"):
        press(bench, opener)
    _forms(bench, {form: opened_form(bench.fake, form) for form in FORMS})
    bench.finish()
    assert_no_formula(bench.store, ours)


def assert_no_formula(store: Store, workshop: str) -> None:
    """The plan keeps what people typed as text: no `=HYPERLINK(…)` becomes a formula."""
    book = openpyxl.load_workbook(io.BytesIO(plan_files(store, SystemClock()).build(workshop).data))
    formulas = [f"{sheet.title}!{cell.coordinate}: {cell.value!r}" for sheet in book.worksheets
                for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []


# --- the request itself: size, type, token ------------------------------------------------------

TOKENS: dict[str, Callable[[FakeTeamsApi, dict[str, Any]], str | None]] = {
    "good": lambda f, a: f.sign_activity(a),
    "unsigned": lambda f, a: None,
    "forged": lambda f, a: f.sign_activity(a, wrong_key=True),
    "tampered": lambda f, a: f.sign_activity(a, valid=False),
    "expired": lambda f, a: f.sign_activity(a, expired=True),
    "for another bot": lambda f, a: f.sign_activity(a, audience="0b0e0f00-another-bot"),
    "for another service": lambda f, a: f.sign_activity(a, service_url="https://attacker.example/teams/"),
    "not a JWT": lambda f, a: "Bearer " + base64_garbage(a),
    "basic": lambda f, a: "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "empty bearer": lambda f, a: "Bearer ",
}


def base64_garbage(activity: dict[str, Any]) -> str:
    return "eyJhbGciOiJub25lIn0.eyJhdWQiOiIzZjZiIn0." + str(activity.get("id"))


content_types = st.one_of(
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "",
                     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
                     "APPLICATION/JSON", "application/json; charset=latin-1", "application/json; charset=utf-16",
                     "application/json; charset=nonsense", "application/jsonp", "text/json"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))


@given(token=st.sampled_from(sorted(TOKENS)), content_type=content_types, oversize=st.booleans(),
       text=hostile_text)
@example(token="good", content_type="application/json", oversize=True, text="ny")  # 413, not 500
@example(token="good", content_type="application/json; charset=nonsense", oversize=False, text="ny")  # was 500
@fuzz(examples=60)
def _requests(bench: Bench, token: str, content_type: str, oversize: bool, text: str) -> None:
    activity = bench.fake.personal_message(text + ("x" * LIMIT if oversize else ""))
    before = workshops(bench.store), bench.store.outbox.backlog()
    answer = bench.post(json.dumps(activity).encode(), TOKENS[token](bench.fake, activity), content_type)
    if "application/json" not in content_type:
        assert answer.status == 415, answer
    elif oversize:
        assert answer.status == 413, answer
    elif charset_of(content_type) in ("", "utf-8", "latin-1"):  # the body (ASCII) reads as JSON
        assert answer.status == (201 if token == "good" else 401), answer
    else:  # a charset that garbles it (utf-16: 400) or that nobody knows (415)
        assert answer.status in (400, 415), answer
    if answer.status >= 400:
        assert (workshops(bench.store), bench.store.outbox.backlog()) == before
    bench.settle()


def charset_of(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "charset":
            return value.strip().lower()
    return ""


def test_a_request_too_large_not_json_or_without_a_valid_token_is_refused_as_such(bench: Bench) -> None:
    _requests(bench)
    bench.finish()



# --- regressions found by the fuzzing above, each as it first failed ------------------------------


def test_a_token_replayed_on_an_activity_without_a_service_url_is_refused(bench: Bench) -> None:
    """The SDK checks the token's serviceurl claim only against a serviceUrl the activity has:
    without one, a token taken from any earlier activity passed (201), the command was run,
    and the conversation was remembered with no serviceUrl, so every later post there failed."""
    new_workshop(bench, "Fjordly")
    token = bench.fake.sign_activity(bench.fake.channel_message("status"))
    replayed = bench.fake.channel_message("ny Havbo", channel=ELSEWHERE)
    del replayed["serviceUrl"]

    assert bench.send(replayed, token).status == 401

    assert len(workshops(bench.store)) == 1
    assert bench.store.memory.get(f"teams:place:teams:{ELSEWHERE}") is None
    bench.finish()


def test_quadratic_markup_is_read_in_linear_time() -> None:
    """command_text's `<at>.*?</at>` and `<[^>]+>` read to the end of the text from each "<at>"
    or "<" that nothing closes: 9 s for 100 kB of "<at>", during which the server stalled."""
    for piece in ("<at>", "<", "<a", "</at><at>"):
        text = (piece * LIMIT)[:LIMIT]
        activity = Activity().deserialize({"type": "message", "text": text, "recipient": {"id": "28:bot"}})
        began = time.perf_counter()
        parse.command_text(activity)
        assert time.perf_counter() - began < 2, piece  # linear: ~0.1 s for the megabyte


def test_a_nul_in_a_conversation_id_is_dropped_and_the_answer_still_arrives(bench: Bench) -> None:
    """On PostgreSQL the id failed the request (a 500): the adapter keeps conversations by it.
    On SQLite the core had dropped the NUL from the event but not the adapter from its key, so
    the answer found no conversation to go to."""
    activity = bench.fake.channel_message("hvad", channel="19:kan\x00tine@thread.tacv2")

    assert bench.send(activity).status == 201

    assert_refusals(told(bench.settle(), bench.fake, METTE), expected="refuse.unknown_command")
    with bench.store.sessions() as session:
        assert session.scalars(select(OutboxRow.last_error).where(OutboxRow.failed_at.is_not(None))).all() == []
    bench.finish()


def test_an_invoke_the_bot_offers_nothing_for_is_a_bad_request_not_a_501(bench: Bench) -> None:
    activity = {**bench.fake.personal_message(""), "type": "invoke", "name": "composeExtension/query"}

    assert bench.send(activity).status == 400
    bench.finish()
