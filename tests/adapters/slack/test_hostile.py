"""Hostile input at POST /slack/events, fuzzed with hypothesis ("[proof] hostile input").

Every request here is signed with the right secret, so it passes the signature check and
reaches the parsing behind it: what is tried is what someone holding the secret, a broken proxy
or a future Slack could send. (What an outsider can send, any signature headers at all, gets a
401 and is read no further: one test for that.) Whatever arrives, the server must answer without a 5xx and without a stack trace, the
database must stay consistent (`tests.invariants`), another team must never change a
workshop, and a person who typed something the bot does not know gets the translated refusal.

The outbox is delivered to the loopback fake of the Slack Web API here, so what people are
told is what the fake records.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.app import PlatformRouter, Store, plan_files
from adapters.slack.deliver import SlackDeliverer
from adapters.slack.render import escape
from bot.clock import SystemClock
from bot.engine import ACTIONS, FORMS
from bot.i18n import Translator
from bot.store.tables import OutboxRow, WorkshopRow
from tests.adapters.slack.conftest import SECRET, Router, Served
from tests.fakes.slack_api import TOKEN, FakeSlackApi
from tests.invariants import violations
from tests.served import caught_up

Json = Any  # what json.loads can give
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TEAM = "T1"  # the team whose workshop the tests try to reach
LIMIT = 1024 * 1024  # the server's client_max_size
SETTLE_SECONDS = 20.0
PLACEHOLDER = "WORKSHOP-ID"  # in a body drawn before the workshop exists: its id, when sent


def fuzz(examples: int) -> Any:
    """Hypothesis settings for these tests: the fixtures (one server and one database per test)
    are shared by all of a test's examples on purpose, since state left by one example is
    part of what the next one meets."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def router() -> Router:
    """Overrides conftest's: the outbox goes out to the fake Slack, so the answers people get
    are the chat.postEphemeral calls it records."""
    def deliver(store: Store, api: FakeSlackApi) -> PlatformRouter:
        client = AsyncWebClient(token=TOKEN, base_url=api.url)
        return PlatformRouter({"slack": SlackDeliverer(client, plan_files(store, SystemClock()).build,
                                                       interval=0)})
    return deliver


@pytest.fixture
def slack_database(database_url: str) -> str:
    """Overrides conftest's: on SQLite and on PostgreSQL, whose types refuse more (a NUL in
    text, a lone surrogate) and whose concurrency differs."""
    return database_url


@pytest.fixture
def ids() -> Iterator[int]:
    """A fresh number for each request: trigger ids, event ids and channels that no earlier
    example used, so one example's answer is never taken for another's (from 100: C1 and C2
    are the channels the tests name)."""
    return count(100)


# --- what is sent ---------------------------------------------------------------------------

CONTROL = ["\x00", "\x01", "\x1b[31m", "\x7f", "\u202e", "\u2028", "\u2029", "\ufeff", "\r\n", "\t"]
MARKUP = ["<!channel>", "<!here>", "<!everyone>", "<@U1>", "<@UBOT>", "<@U1|mette>", "<#C1|plenum>",
          "<http://evil.example|klik>", "&amp;", "&lt;b&gt;", "*fed* _kursiv_ `kode`", "```", "<@", ">"]
INJECTION = ["'; DROP TABLE workshops; --", "\" OR 1=1 --", '=HYPERLINK("http://evil.example","klik")',
             "=cmd|' /C calc'!A0", "+1+1", "@SUM(1)", "{{7*7}}", "${jndi:ldap://x}", "%s%n", "{word}",
             "{0.__class__}", "payload", "payload=%7B", "{", "[", "%", "%zz", "&=&", "a=b&payload="]
# Half a UTF-16 pair, alone: JSON can escape one ("\ud800"), though it is no text.
SURROGATES = ["\ud800", "\udfff", "\ud83d"]
HOSTILE = [*CONTROL, *MARKUP, *INJECTION, *SURROGATES]

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(HOSTILE),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8)), max_size=6).map("".join),
)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(),
                        st.floats(allow_nan=False, allow_infinity=False), hostile_text)
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)), max_leaves=8)
ids_or_junk = st.one_of(st.sampled_from(["U1", "UBOT", "C1", "T1", "T2", ""]), hostile_text, json_value)
other_team = st.one_of(st.sampled_from(["T2", "", "t1", "T1 ", "E1"]), hostile_text).filter(lambda t: t != TEAM)


action_names = st.one_of(st.sampled_from(sorted(ACTIONS)), hostile_text)


def maybe(**fields: st.SearchStrategy[Json]) -> st.SearchStrategy[dict[str, Json]]:
    """Objects with any of these fields, each present or missing."""
    return st.fixed_dictionaries({}, optional=fields)


def button_value(action: st.SearchStrategy[str], workshop: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """What a button the bot drew sends back ({"a": action, "args": …}), forged."""
    args = st.one_of(st.fixed_dictionaries({"workshop": workshop},
                                           optional={"group": hostile_text, "measure": hostile_text}),
                     json_value)
    return st.builds(lambda a, r: json.dumps({"a": a, "args": r}), action, args)


def metadata(workshop: st.SearchStrategy[str], junk: bool = True) -> st.SearchStrategy[str]:
    """A modal's private_metadata, as the bot writes it (the form's args, and where it was
    opened, as JSON) but stale or forged; with `junk`, also what the bot never writes."""
    args = st.fixed_dictionaries({"workshop": workshop}, optional={"group": hostile_text, "measure": hostile_text})
    where = st.sampled_from(["slack:C1", "slack:C2", "", "teams:19:x@thread.v2"])
    written = st.one_of(st.builds(json.dumps, args),  # as older versions of the bot wrote it
                        st.builds(lambda a, c: json.dumps({"args": a, "conversation": c}), args, where))
    if not junk:
        return written
    return st.one_of(written, st.builds(json.dumps, json_value), hostile_text)  # the last: not JSON at all


Path = tuple[str | int, ...]


def _paths(value: Json, prefix: Path = ()) -> list[Path]:
    """Every place in `value` (keys of objects, indexes of lists), outermost first."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found: list[Path] = []
    for key, inner in items:
        found += [(*prefix, key), *_paths(inner, (*prefix, key))]
    return found


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[Json]) -> Json:
    """A body as Slack sends it, with up to three of its parts taken away or replaced by
    anything: mostly well-formed, so that most examples get past the door to slack-bolt's
    matching, our parsing and the engine, and the others find where the door is missing."""
    body = copy.deepcopy(draw(valid))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(body)
        if not paths:
            break
        *path, last = draw(st.sampled_from(paths))
        parent = body
        for key in path:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[last]
        else:
            parent[last] = draw(json_value)
    return body


def signature(raw: bytes, stamp: str) -> str:
    """Slack's signature of the raw bytes (also of bytes that are not UTF-8)."""
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256)
    return "v0=" + digest.hexdigest()


async def post(client: TestClient, body: str | bytes, content_type: str | None,
               extra: dict[str, str] | None = None) -> tuple[int, str]:
    """POST `body` to the endpoint, signed; the status and the body of the answer."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    stamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature(raw, stamp),
               **(extra or {})}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post("/slack/events", data=raw, headers=headers)
    answer = response.status, (await response.read()).decode("utf-8", "replace")
    await caught_up(client)  # answered once kept; what it did is checked once it was handled
    return answer


def assert_clean(answer: tuple[int, str]) -> None:
    """No server error and no stack trace, whatever was sent."""
    status, text = answer
    if currently_in_test_context():
        event(f"HTTP {status}")  # in --hypothesis-show-statistics: how many got how far
    assert status < 500, f"{status}: {text[:500]}"
    assert "Traceback" not in text and 'File "' not in text, text[:2000]


def form(fields: dict[str, str]) -> str:
    # surrogatepass: half a UTF-16 pair goes out as the bytes it would be (no UTF-8)
    return urllib.parse.urlencode(fields, errors="surrogatepass")


def interactive(payload: Json, workshop: str = "") -> str:
    """An interactivity request: a form whose `payload` field is the JSON (in which the
    placeholder stands for `workshop`)."""
    return form({"payload": json.dumps(payload).replace(PLACEHOLDER, workshop or PLACEHOLDER)})


def command_fields(text: str, n: int, team: str = TEAM, channel: str = "", user: str = "U1") -> dict[str, str]:
    return {"token": "legacy", "team_id": team, "team_domain": "fjordly", "channel_id": channel or f"C{n}",
            "channel_name": "plenum", "user_id": user, "user_name": "mette", "command": "/ambition",
            "text": text, "api_app_id": "A1", "trigger_id": f"trigger-{n}",
            "response_url": "http://127.0.0.1:9/r"}


def event_body(event: Json, n: int, team: Json = TEAM) -> str:
    return json.dumps({"token": "legacy", "team_id": team, "api_app_id": "A1", "type": "event_callback",
                       "event_id": f"Ev{n}", "event_time": int(time.time()), "event": event})


# --- what the database and the fake hold ----------------------------------------------------

def workshops(store: Store) -> list[WorkshopRow]:
    with store.sessions() as session:
        return list(session.scalars(select(WorkshopRow)))


def outbox(store: Store) -> list[str]:
    with store.sessions() as session:
        return list(session.scalars(select(OutboxRow.payload)))


def unchanged(store: Store) -> list[tuple[str, int, str]]:
    """Each workshop's id, version and phase: what another team must never change."""
    return sorted((w.id, w.version, str(w.phase)) for w in workshops(store))


def consistent(store: Store) -> None:
    assert violations(store) == []


async def settle(served: Served) -> None:
    """Wait until the dispatcher delivered everything in the outbox to the fake."""
    store, runtime, _ = served
    deadline = time.monotonic() + SETTLE_SECONDS
    runtime.worker.wake()
    while store.outbox.backlog() > 0:
        assert time.monotonic() < deadline, "the outbox was not delivered"
        await asyncio.sleep(0.02)


def ephemerals(api: FakeSlackApi, channel: str, user: str) -> list[str]:
    """The texts (notification fallbacks) of the private messages `user` got in `channel`."""
    return [str(c.params.get("text", "")) for c in api.calls_to("chat.postEphemeral", ok_only=True)
            if c.params.get("channel") == channel and c.params.get("user") == user]


async def new_workshop(client: TestClient, store: Store) -> str:
    """Team T1's workshop in channel C1, made by U1: what forged requests aim at."""
    assert (await post(client, form(command_fields("ny Fjordly", 0, channel="C1")), FORM))[0] == 200
    [workshop] = workshops(store)
    return workshop.id


async def the_workshop(client: TestClient, store: Store) -> str:
    """The id of team T1's first workshop, made by the first example that needs it."""
    made = sorted(workshops(store), key=lambda w: w.created_at)
    return made[0].id if made else await new_workshop(client, store)


# --- raw bodies ----------------------------------------------------------------------------

CONTENT_TYPES = [JSON, FORM, f"{JSON}; charset=utf-8", f"{FORM}; charset=UTF-8", "text/plain", "",
                 "application/xml", "multipart/form-data; boundary=x", f"{JSON}; charset=bogus",
                 f"{FORM}; charset=latin-1", "application/json; charset=utf-16", "*/*", None]
raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    st.builds(json.dumps, json_value),
    st.builds(lambda v: "payload=" + urllib.parse.quote(v, errors="surrogatepass"),
              st.one_of(hostile_text, st.builds(json.dumps, json_value))),
    st.builds(lambda depth: "[" * depth + "]" * depth, st.integers(1, 200_000)),
    st.sampled_from(["", "{", "{}", "[]", "null", "0", "\"x\"", "NaN", "{\"type\": \"event_callback\"", "payload=",
                     "payload=%7B", "payload=null", "payload=%5B%5D", "command=%2Fambition", "ssl_check=1",
                     "type=url_verification&challenge=x", "\ufeff{}"]),
)


@fuzz(150)
@given(body=raw_bodies, content_type=st.sampled_from(CONTENT_TYPES))
@example(body="{not json", content_type=JSON)  # was 500: the JSON failed to parse inside slack-bolt
@example(body="[]", content_type=JSON)  # was 500: slack-bolt reads a body as an object
@example(body="payload=%7Bnot+json", content_type=FORM)  # was 500: the payload's JSON, likewise
@example(body="payload=%5B%5D", content_type=FORM)
@example(body=b"\xff\xfe{}", content_type=JSON)  # was 500: not UTF-8
@example(body="{}", content_type=f"{JSON}; charset=bogus")  # was 500: no such charset
@example(body="[" * 100_000, content_type=JSON)  # was 500: json.loads' RecursionError, inside slack-bolt
@example(body='{"type": "url_verification", "challenge": "\\ud800"}', content_type=JSON)  # half a pair, alone
@example(body='{"type": "event_callback", "event": ' * 990 + "{}" + "}" * 990, content_type=JSON)  # deepest
async def test_any_body_of_any_content_type_is_answered_without_an_error(
        client: TestClient, served: Served, body: str | bytes, content_type: str | None) -> None:
    assert_clean(await post(client, body, content_type))
    consistent(served[0])


@pytest.mark.parametrize("content_type", [JSON, f"{JSON}; charset=latin-1", FORM, f"{FORM}; x", "text/plain", "",
                                          None, "multipart/form-data; boundary=x"])
@pytest.mark.parametrize("kind", ["command", "mention", "button"])
async def test_a_well_formed_request_of_the_wrong_content_type_is_answered_without_an_error(
        client: TestClient, served: Served, ids: Iterator[int], kind: str, content_type: str | None) -> None:
    """slack-bolt (and the door before it) read a body starting with "{" as JSON whatever its
    content type, and anything else as a form."""
    n = next(ids)
    body = {"command": form(command_fields("status", n)),
            "mention": event_body({"type": "app_mention", "user": "U1", "channel": "C1", "text": "<@UBOT> status",
                                   "ts": "1.1"}, n),
            "button": interactive({"type": "block_actions", "team": {"id": TEAM}, "user": {"id": "U1"},
                                   "channel": {"id": "C1"}, "actions": [{"action_id": "x", "value": "{}"}]})}[kind]
    assert_clean(await post(client, body, content_type))
    consistent(served[0])


@pytest.mark.parametrize("content_type", [JSON, FORM, "text/plain"])
async def test_a_body_over_the_limit_is_refused_as_too_large(client: TestClient, served: Served,
                                                            content_type: str) -> None:
    body = json.dumps({"type": "event_callback", "event": {"type": "app_mention", "text": "x" * LIMIT}})
    status, text = await post(client, body, content_type)
    assert status == 413 and "Traceback" not in text
    assert workshops(served[0]) == []
    consistent(served[0])


@fuzz(80)
@given(stamp=st.one_of(st.text(max_size=25), st.integers().map(str), st.just("9" * 5000),
                       st.sampled_from(["", " 1", "1e9", "١٧٠٠٠٠٠٠٠٠", "0x10", "-1", "NaN"])),
       signature=st.one_of(st.text(max_size=80), st.just("v0=" + "0" * 64), st.just("v0=é")),
       body=st.sampled_from([b"{}", form(command_fields("ny Fjordly", 0)).encode(), b"\xff\xfe"]))
@example(stamp="abc", signature="v0=x", body=b"{}")  # was 500: slack-bolt's int(timestamp)
@example(stamp=str(int(time.time())), signature="v0=é", body=b"{}")  # was 500: compare_digest of non-ASCII
async def test_any_signature_headers_that_are_not_slacks_are_refused_without_an_error(
        client: TestClient, served: Served, stamp: str, signature: str, body: bytes) -> None:
    """Without the secret: whatever the headers say, 401, and nothing is read or stored."""
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, "Content-Type": FORM}
    try:
        response = await client.post("/slack/events", data=body, headers=headers)
    except ValueError:  # aiohttp itself sends no header with a line break or the like in it
        return
    answer = response.status, (await response.read()).decode("utf-8", "replace")
    assert_clean(answer)
    assert answer[0] == 401
    assert workshops(served[0]) == []


# --- the Events API ------------------------------------------------------------------------

event_types = st.one_of(st.sampled_from(["app_mention", "member_joined_channel", "message", "url_verification",
                                         "app_home_opened", "reaction_added"]), hostile_text, json_value)
events = st.one_of(
    json_value,
    maybe(type=event_types, user=ids_or_junk, channel=ids_or_junk, text=st.one_of(hostile_text, json_value),
          ts=json_value, team=ids_or_junk, channel_type=json_value, subtype=json_value, bot_id=json_value),
)
callbacks = st.one_of(
    json_value,
    maybe(type=st.one_of(st.just("event_callback"), json_value), team_id=ids_or_junk, event_id=json_value,
          event=events, authorizations=json_value, api_app_id=json_value, is_ext_shared_channel=json_value,
          enterprise_id=json_value, challenge=json_value),
)
# As Slack sends them: a mention (with a command and hostile text), someone joining, a message.
slack_events = st.builds(
    lambda kind, user, channel, text, event_id: {
        "token": "legacy", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": 1700000000,
        "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
        "event": {"type": kind, "user": user, "channel": channel, "text": text, "ts": "1.2",
                  "channel_type": "channel", "team": TEAM}},
    st.sampled_from(["app_mention", "member_joined_channel", "message"]),
    st.sampled_from(["U1", "U2", "UBOT"]), st.sampled_from(["C1", "C2", "D1"]),
    st.builds(lambda word, rest: f"<@UBOT> {word} {rest}",
              st.sampled_from(["", "status", "help", "ny", "start", "next", "group E", "specialist", "zq"]),
              hostile_text),
    st.uuids().map(str))


@fuzz(200)
@given(body=st.one_of(callbacks, mutated(slack_events)))
@example(body={"type": "event_callback", "event": []})  # was 500 in slack-bolt's middleware
@example(body={"type": "event_callback", "event_id": "E1", "team_id": "T1",
               "event": {"type": "app_mention"}})  # was 500: parse.mention read event["channel"]
@example(body={"type": "event_callback", "event_id": "E2", "team_id": "T1",
               "event": {"type": "member_joined_channel"}})
@example(body={"type": "event_callback", "event": "type"})  # was 500: "type" in "type"
@example(body={"type": "event_callback", "event_id": "E3", "team_id": "T1",  # was 500: the database
               "event": {"type": "app_mention", "user": "U1", "channel": "C1", "text": "ny \ud800"}})
@example(body={"type": "event_callback", "response_urls": [{}, {}],  # was 500 in slack-bolt's logging
               "event": {"type": "message"}})
async def test_an_event_of_any_shape_is_answered_without_an_error(client: TestClient, served: Served,
                                                                  body: Json) -> None:
    assert_clean(await post(client, json.dumps(body), JSON))
    consistent(served[0])


@fuzz(60)
@given(team=other_team, text=hostile_text,
       word=st.sampled_from(["start", "next", "næste", "extend 5", "pause", "plan", "status", ""]))
async def test_another_teams_mentions_change_no_workshop(client: TestClient, served: Served, ids: Iterator[int],
                                                         team: str, text: str, word: str) -> None:
    """Commands to team T1's workshop's channel (its id), mentioned in another team."""
    store = served[0]
    await the_workshop(client, store)
    before = unchanged(store)
    event = {"type": "app_mention", "user": "U1", "channel": "C1", "text": f"<@UBOT> {word} {text}", "ts": "1.2"}
    assert_clean(await post(client, event_body(event, next(ids), team), JSON))
    assert unchanged(store) == before
    consistent(store)


# --- buttons -------------------------------------------------------------------------------

pressed = maybe(action_id=st.one_of(hostile_text, json_value), block_id=json_value, type=json_value,
                action_ts=json_value, value=st.one_of(button_value(action_names, hostile_text), hostile_text,
                                                      json_value))
block_actions = maybe(
    type=st.one_of(st.sampled_from(["block_actions", "interactive_message", "dialog_submission",
                                    "workflow_step_edit", "shortcut", "message_action", "block_suggestion",
                                    "view_closed"]), json_value),
    team=st.one_of(st.builds(lambda t: {"id": t}, ids_or_junk), ids_or_junk),
    user=st.one_of(st.builds(lambda u: {"id": u, "name": "x"}, ids_or_junk), ids_or_junk),
    channel=st.one_of(st.builds(lambda c: {"id": c}, ids_or_junk), ids_or_junk),
    container=json_value, trigger_id=json_value, callback_id=json_value, response_urls=json_value,
    actions=st.one_of(st.lists(pressed, max_size=2), json_value),
)


slack_presses = st.builds(
    lambda team, user, value, n: {
        "type": "block_actions", "api_app_id": "A1", "token": "legacy", "trigger_id": f"trigger-{n}",
        "team": {"id": team, "domain": "fjordly"},
        "user": {"id": user, "username": "x", "name": "x", "team_id": team},
        "channel": {"id": "C1", "name": "plenum"},
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C1", "is_ephemeral": False},
        "actions": [{"type": "button", "action_id": "x:0", "block_id": "b", "value": value,
                     "text": {"type": "plain_text", "text": "x"}, "action_ts": f"{n}.0"}]},
    st.sampled_from([TEAM, "T2"]), st.sampled_from(["U1", "U2"]),
    button_value(action_names, st.sampled_from([PLACEHOLDER, "", "nope"])), st.uuids().map(str))


@fuzz(200)
@given(payload=st.one_of(block_actions, json_value, mutated(slack_presses)))
@example(payload={"type": "block_actions", "actions": []})  # was 500 in slack-bolt's matcher
@example(payload={"type": "block_actions", "actions": [5], "user": {"id": "U1"}})
@example(payload={"type": "block_actions", "user": 5, "actions": [{"action_id": "x"}]})
@example(payload={"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"},  # was 500: parse.action
                  "channel": "C1",  # read the channel as an object
                  "actions": [{"action_id": "x", "value": json.dumps({"a": "next", "args": {"workshop": "w"}})}]})
async def test_a_button_press_of_any_shape_is_answered_without_an_error(client: TestClient, served: Served,
                                                                        payload: Json) -> None:
    workshop = await the_workshop(client, served[0])
    assert_clean(await post(client, interactive(payload, workshop), FORM))
    consistent(served[0])


@fuzz(80)
@given(team=other_team, action=action_names, user=st.sampled_from(["U1", "U2"]), data=st.data())
async def test_another_teams_buttons_change_no_workshop(client: TestClient, served: Served, ids: Iterator[int],
                                                        team: str, action: str, user: str,
                                                        data: st.DataObject) -> None:
    """Buttons that name team T1's workshop, pressed in another team (even by a user id that
    is T1's facilitator's): the bot's own actions, with forged args."""
    store = served[0]
    workshop = await the_workshop(client, store)
    before = unchanged(store)
    value = data.draw(button_value(st.just(action), st.sampled_from([workshop, workshop.upper(), "", "x"])))
    n = next(ids)
    payload = {"type": "block_actions", "team": {"id": team}, "user": {"id": user, "name": "x"},
               "trigger_id": f"trigger-{n}", "channel": {"id": "C1"},
               "actions": [{"action_id": f"{action}:0", "value": value, "action_ts": f"{n}.0"}]}
    assert_clean(await post(client, interactive(payload), FORM))
    assert unchanged(store) == before
    consistent(store)


def unknown_action(name: str) -> bool:
    """Not one of the bot's actions, even once the NUL characters no database keeps are gone
    ("ne\x00xt" is "next"), and text (no half of a UTF-16 pair, which is refused at the door)."""
    return bool(name) and name.replace("\x00", "") not in ACTIONS and not any(c in name for c in SURROGATES)


@fuzz(40)
@given(action=hostile_text.filter(unknown_action), args=json_value)
async def test_an_action_the_bot_does_not_have_changes_nothing_and_is_refused(
        client: TestClient, served: Served, slack_api: FakeSlackApi, ids: Iterator[int],
        action: str, args: Json) -> None:
    """A button of the bot's own team and workshop, by its facilitator, with an action the bot
    never drew: the presser is told the translated "cannot find that", and nothing changes."""
    store = served[0]
    workshop = await the_workshop(client, store)
    before = unchanged(store)
    n = next(ids)
    value = json.dumps({"a": action, "args": {"workshop": workshop, "x": json.dumps(args)}})
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": "U1", "name": "mette"},
               "trigger_id": f"trigger-{n}", "channel": {"id": f"C{n}"},
               "actions": [{"action_id": "x", "value": value, "action_ts": f"{n}.0"}]}
    answer = await post(client, interactive(payload), FORM)
    assert_clean(answer)
    assert answer[0] == 200
    assert unchanged(store) == before
    await settle(served)
    assert ephemerals(slack_api, f"C{n}", "U1") == [escape(Translator("da")("refuse.unknown_item"))]
    consistent(store)


# --- modals ----------------------------------------------------------------------------------

state_values = st.one_of(
    json_value,
    st.builds(lambda v: {"values": v}, st.dictionaries(hostile_text, st.dictionaries(
        hostile_text, st.one_of(maybe(type=st.sampled_from(["plain_text_input", "datepicker", "static_select",
                                                          "checkboxes", "users_select", "multi_users_select",
                                                          "number_input"]),
                                      value=json_value, selected_date=json_value, selected_option=json_value,
                                      selected_options=json_value, selected_user=json_value,
                                      selected_users=json_value), json_value),
        max_size=2), max_size=3)),
)
views = st.one_of(json_value, maybe(
    type=st.one_of(st.just("modal"), json_value), id=json_value,
    callback_id=st.one_of(st.sampled_from(sorted(FORMS)), hostile_text, json_value),
    private_metadata=st.one_of(metadata(hostile_text), json_value), state=state_values,
    app_installed_team_id=json_value, team_id=json_value, hash=json_value,
))
submissions = maybe(type=st.one_of(st.just("view_submission"), json_value),
                    team=st.one_of(st.builds(lambda t: {"id": t}, ids_or_junk), ids_or_junk),
                    user=st.one_of(st.builds(lambda u: {"id": u, "name": "x"}, ids_or_junk), ids_or_junk),
                    view=views, trigger_id=json_value, response_urls=json_value)


slack_submissions = st.builds(
    lambda team, form_name, meta, values, view_id: {
        "type": "view_submission", "api_app_id": "A1", "token": "legacy", "trigger_id": "trigger-v",
        "team": {"id": team, "domain": "fjordly"}, "user": {"id": "U1", "username": "mette", "name": "mette",
                                                          "team_id": team},
        "view": {"id": view_id, "type": "modal", "team_id": team, "callback_id": form_name,
                 "private_metadata": meta, "hash": "h1",
                 "state": {"values": {name: {name: {"type": "plain_text_input", "value": value}}
                                      for name, value in values.items()}}}},
    st.sampled_from([TEAM, "T2"]), st.sampled_from(sorted(FORMS)), metadata(st.just(PLACEHOLDER), junk=False),
    st.dictionaries(st.sampled_from(["title", "date", "mandate", "text", "goal", "sentence", "comment", "owner"]),
                    hostile_text, max_size=4),
    st.uuids().map(str))


@fuzz(200)
@given(payload=st.one_of(submissions, mutated(slack_submissions)))
@example(payload={"type": "view_submission", "view": {"callback_id": "x"}})  # was 500 in slack-bolt
@example(payload={"type": "view_submission", "view": {"type": "workflow_step", "callback_id": "x"}})
@example(payload={"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"},
                  "view": {"type": "modal", "callback_id": "goal", "private_metadata": "{bad"}})  # was 500
@example(payload={"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"},
                  "view": {"type": "modal", "callback_id": "goal", "private_metadata": '{"args": 5}'}})
async def test_a_form_submission_of_any_shape_is_answered_without_an_error(
        client: TestClient, served: Served, payload: Json) -> None:
    workshop = await the_workshop(client, served[0])
    assert_clean(await post(client, interactive(payload, workshop), FORM))
    consistent(served[0])


@fuzz(80)
@given(team=other_team, form_name=st.one_of(st.sampled_from(sorted(FORMS)), hostile_text),
       values=st.dictionaries(st.sampled_from(["title", "date", "measures", "text", "goal", "owner", "mandate"]),
                              hostile_text, max_size=4), data=st.data())
async def test_another_teams_forms_change_no_workshop(client: TestClient, served: Served, team: str,
                                                      form_name: str, values: dict[str, str],
                                                      data: st.DataObject) -> None:
    """Modals whose private_metadata names team T1's workshop (stale or forged), submitted in
    another team."""
    store = served[0]
    workshop = await the_workshop(client, store)
    before = unchanged(store)
    meta = data.draw(metadata(st.sampled_from([workshop, "", "0", "../" + workshop])))
    state = {"values": {name: {name: {"type": "plain_text_input", "value": value}}
                        for name, value in values.items()}}
    payload = {"type": "view_submission", "team": {"id": team}, "user": {"id": "U1", "name": "mette"},
               "view": {"type": "modal", "id": "V1", "callback_id": form_name, "private_metadata": meta,
                        "state": state}}
    assert_clean(await post(client, interactive(payload), FORM))
    assert unchanged(store) == before
    consistent(store)


async def test_a_form_naming_a_conversation_outside_slack_is_refused_and_answered_nowhere(
        client: TestClient, served: Served) -> None:
    """The bot writes, in each modal's private_metadata, the Slack channel it was opened in,
    and answers the submit there: a forged one naming a Teams conversation must not make a
    Slack request answer into Teams (the refusal went to the outbox, for the Teams adapter)."""
    store = served[0]
    workshop = await the_workshop(client, store)
    meta = json.dumps({"args": {"workshop": workshop}, "conversation": "teams:19:x@thread.v2"})
    payload = {"type": "view_submission", "team": {"id": "T2"}, "user": {"id": "U1", "name": "mette"},
               "view": {"type": "modal", "id": "V1", "callback_id": "details", "private_metadata": meta,
                        "state": {"values": {}}}}
    status, _ = await post(client, interactive(payload), FORM)
    assert status == 400
    assert not any("teams:" in payload for payload in outbox(store))
    consistent(store)


# --- slash commands ------------------------------------------------------------------------

slack_commands = st.builds(command_fields, hostile_text, st.integers(1000, 10**9))


def as_form(fields: dict[str, Json]) -> dict[str, str]:
    """A form's fields are text: what a mutation put in one goes as its JSON."""
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}


COMMAND_FIELDS = ["token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
                  "command", "text", "api_app_id", "trigger_id", "response_url", "enterprise_id",
                  "is_enterprise_install", "payload"]


@fuzz(150)
@given(fields=st.one_of(mutated(slack_commands).map(as_form),
                        st.dictionaries(st.one_of(st.sampled_from(COMMAND_FIELDS), hostile_text),
                                        st.one_of(hostile_text, st.sampled_from(["/ambition", "T1", "C1", "U1"])),
                                        max_size=10)),
       command=st.sampled_from(["/ambition", "/other", ""]))
@example(fields={"text": "hi"}, command="/ambition")  # was 500: parse.command read body["trigger_id"]
async def test_a_slash_command_with_any_fields_is_answered_without_an_error(
        client: TestClient, served: Served, fields: dict[str, str], command: str) -> None:
    body = form({**fields, "command": command} if command else fields)
    assert_clean(await post(client, body, FORM))
    consistent(served[0])


def unknown_word() -> st.SearchStrategy[str]:
    """A first word that names no command in any language (and that Slack's escaping and the
    renderer's leave as it is)."""
    return st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=50).map(lambda w: "zq" + w)


@fuzz(40)
@given(word=unknown_word(), rest=hostile_text.filter(lambda t: not any(c in t for c in SURROGATES)),
       where=st.sampled_from(["command", "mention"]))
@example(word="zqpayload", rest="", where="command")  # was 404: bolt read any form with "payload" in it as empty
@example(word="zq", rest="payload", where="command")
async def test_an_unknown_command_is_answered_with_the_translated_refusal(
        client: TestClient, served: Served, slack_api: FakeSlackApi, ids: Iterator[int],
        word: str, rest: str, where: str) -> None:
    n = next(ids)
    channel, text = f"C{n}", f"{word} {rest}"
    if where == "command":
        answer = await post(client, form(command_fields(text, n, channel=channel)), FORM)
    else:
        event = {"type": "app_mention", "user": "U1", "channel": channel, "text": f"<@UBOT> {text}",
                 "ts": f"{n}.1"}
        answer = await post(client, event_body(event, n), JSON)
    assert_clean(answer)
    assert answer[0] == 200
    await settle(served)
    refusal = Translator(served[2].bot_language)("refuse.unknown_command", word=word[:40])
    assert ephemerals(slack_api, channel, "U1") == [escape(refusal)]
    consistent(served[0])


# --- overlong text ----------------------------------------------------------------------------

# About 100 kB, each hostile piece many times over (not half a UTF-16 pair, which the JSON of
# an event may not hold: it is refused at the door, and this text is to reach the engine).
TEXT = "".join(h for h in HOSTILE if h not in SURROGATES)
LONG = ("Fjordly " + TEXT + " ") * (100_000 // (len(TEXT) + 9))


@pytest.mark.parametrize("text", [LONG, "\x00" * 100_000, "<!channel>" * 10_000, "\u202e" * 50_000],
                         ids=["hostile", "nul", "mentions", "rtl"])
async def test_overlong_text_everywhere_is_answered_without_an_error(
        client: TestClient, served: Served, ids: Iterator[int], text: str) -> None:
    store = served[0]
    workshop = await new_workshop(client, store)
    n = next(ids)
    for command in (f"ny {text}", text, f"extend {text}", f"specialist {text}"):
        assert_clean(await post(client, form(command_fields(command, next(ids), channel="C1")), FORM))
    event = {"type": "app_mention", "user": "U1", "channel": "C1", "text": f"<@UBOT> {text}", "ts": "1.1"}
    assert_clean(await post(client, event_body(event, n), JSON))
    button = {"a": "next", "args": {"workshop": workshop, "x": text}}
    assert_clean(await post(client, interactive({
        "type": "block_actions", "team": {"id": TEAM}, "user": {"id": "U1", "name": "mette"},
        "trigger_id": f"trigger-{n}", "channel": {"id": "C1"},
        "actions": [{"action_id": "next:0", "value": json.dumps(button), "action_ts": f"{n}.0"}]}), FORM))
    values = {name: {name: {"type": "plain_text_input", "value": text}} for name in ("title", "mandate")}
    assert_clean(await post(client, interactive({
        "type": "view_submission", "team": {"id": TEAM}, "user": {"id": "U1", "name": "mette"},
        "view": {"type": "modal", "id": "V1", "callback_id": "details",
                 "private_metadata": json.dumps({"workshop": workshop}), "state": {"values": values}}}), FORM))
    consistent(store)
