"""POST /slack/events through the real server, slack-bolt and its signature check.

Requests are signed like Slack signs them; the service behind the endpoint is the real one on a
SQLite file. What Slack would then be sent waits in the outbox, which these tests read.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from adapters.app import Runtime, Store
from adapters.batching import Batcher
from adapters.config import Settings
from adapters.slack.app import Names
from bot.events import Actor, Command, Event
from bot.service import Result
from bot.store.tables import MemberRow, OutboxRow, WorkshopRow
from tests.adapters.slack.conftest import signed
from tests.fakes.slack_api import FakeSlackApi
from tests.served import caught_up

async def command(client: TestClient, text: str, team: str = "T1", channel: str = "C1",
                  user: str = "U1", **sign: object) -> int:
    body = urllib.parse.urlencode({
        "token": "legacy", "team_id": team, "channel_id": channel, "user_id": user,
        "user_name": "mette", "command": "/ambition", "text": text,
        "trigger_id": f"trigger-{time.monotonic_ns()}", "response_url": "http://127.0.0.1:1/r"})
    response = await client.post("/slack/events", data=body,
                                 headers=signed(body, "application/x-www-form-urlencoded", **sign))  # type: ignore[arg-type]
    await caught_up(client)
    return response.status


async def event(client: TestClient, event_id: str, payload: dict[str, object], retry: int = 0) -> int:
    body = json.dumps({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
                       "event_id": event_id, "event": payload})
    headers = signed(body, "application/json")
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    status = (await client.post("/slack/events", data=body, headers=headers)).status
    await caught_up(client)
    return status


def outbox(store: Store) -> list[str]:
    with store.sessions() as session:
        return list(session.scalars(select(OutboxRow.payload).order_by(OutboxRow.id)))


def workshops(store: Store) -> list[WorkshopRow]:
    with store.sessions() as session:
        return list(session.scalars(select(WorkshopRow)))


async def test_a_signed_slash_command_creates_the_workshop_in_that_team(
        client: TestClient, served: tuple[Store, Runtime, Settings]) -> None:
    store = served[0]
    assert await command(client, "ny Fjordly") == 200
    [workshop] = workshops(store)
    assert (workshop.org, workshop.title) == ("T1", "Fjordly")
    assert any("Fjordly" in payload and '"slack:C1"' in payload for payload in outbox(store))


@pytest.mark.parametrize("sign", [{"secret": "wrong-secret"}, {"age": 6 * 60}], ids=["forged", "old"])
async def test_a_forged_or_old_request_is_refused_and_changes_nothing(
        client: TestClient, served: tuple[Store, Runtime, Settings], sign: dict[str, object]) -> None:
    assert await command(client, "ny Fjordly", **sign) == 401
    assert workshops(served[0]) == [] and outbox(served[0]) == []


async def test_an_unsigned_request_is_refused(client: TestClient,
                                              served: tuple[Store, Runtime, Settings]) -> None:
    response = await client.post("/slack/events", data="command=/ambition&text=ny+X",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 401 and workshops(served[0]) == []


async def test_slack_retrying_an_event_changes_nothing_the_second_time(
        client: TestClient, served: tuple[Store, Runtime, Settings]) -> None:
    store = served[0]
    await command(client, "ny Fjordly")
    before = len(outbox(store))
    mention = {"type": "app_mention", "user": "U1", "text": "<@UBOT> status", "channel": "C1", "ts": "1.2"}
    assert await event(client, "Ev-status", mention) == 200
    answered = len(outbox(store))
    assert answered > before  # the status was answered
    assert await event(client, "Ev-status", mention, retry=1) == 200
    assert len(outbox(store)) == answered  # … once


async def test_another_team_cannot_reach_the_workshop(client: TestClient,
                                                      served: tuple[Store, Runtime, Settings]) -> None:
    store = served[0]
    await command(client, "ny Fjordly")
    [before] = workshops(store)
    assert await command(client, "start", team="T2") == 200  # same channel id, another team
    [after] = workshops(store)
    assert (after.version, after.phase) == (before.version, before.phase)
    assert "Fjordly" not in outbox(store)[-1]


async def test_text_that_looks_like_a_mention_is_kept_as_typed(
        client: TestClient, served: tuple[Store, Runtime, Settings]) -> None:
    await command(client, "ny <!channel> Fjordly")
    [workshop] = workshops(served[0])
    assert workshop.title == "<!channel> Fjordly"  # escaping is the renderer's job, on the way out


async def test_a_button_the_bot_did_not_make_is_ignored(client: TestClient,
                                                        served: tuple[Store, Runtime, Settings]) -> None:
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1", "name": "x"},
               "trigger_id": "t1", "channel": {"id": "C1"},
               "actions": [{"action_id": "next:0", "value": "{not json", "action_ts": "1.1"}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = await client.post("/slack/events", data=body,
                                 headers=signed(body, "application/x-www-form-urlencoded"))
    assert response.status == 200 and outbox(served[0]) == []


async def test_slack_can_check_the_url(client: TestClient) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"})
    response = await client.post("/slack/events", data=body, headers=signed(body, "application/json"))
    assert response.status == 200 and "c-123" in await response.text()


def names(store: Store) -> dict[str, str]:
    with store.sessions() as session:
        return {m.id: m.name for m in session.scalars(select(MemberRow))}


async def test_people_are_shown_by_their_slack_display_name(
        client: TestClient, served: tuple[Store, Runtime, Settings]) -> None:
    await command(client, "ny Fjordly", user="U1")
    assert names(served[0]) == {"slack:U1": "User U1"}  # the fake's display name, not "mette"


async def test_without_an_answer_about_the_name_the_username_will_do(
        client: TestClient, served: tuple[Store, Runtime, Settings], slack_api: FakeSlackApi) -> None:
    slack_api.fail_next("users.info", status=500)
    await command(client, "ny Fjordly", user="U1")
    assert names(served[0]) == {"slack:U1": "mette"}  # and the workshop was still made


async def test_a_command_is_answered_while_slack_is_slow_to_say_who_sent_it(
        client: TestClient, served: tuple[Store, Runtime, Settings], slack_api: FakeSlackApi) -> None:
    """Slack's users.info is asked once per person, for the name cards show; the answer to
    the command does not wait for it (bench/load.py: a fifth of the requests were someone's
    first)."""
    slack_api.fail_next("users.info", timeout=5)  # longer than the bot asks (Names.ASK_SECONDS)
    body = urllib.parse.urlencode({
        "token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": "U1", "user_name": "mette",
        "command": "/ambition", "text": "ny Fjordly", "trigger_id": "trigger-slow"})
    started = time.monotonic()
    response = await client.post("/slack/events", data=body, headers=signed(body, "application/x-www-form-urlencoded"))
    answered = time.monotonic() - started
    assert response.status == 200 and answered < Names.ASK_SECONDS, f"answered after {answered:.2f} s"
    await caught_up(client)
    assert names(served[0]) == {"slack:U1": "mette"}  # the username, once the bot gave up asking


@pytest.fixture
def handled(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """The events the endpoint hands the engine, in order (and handled as usual)."""
    seen: list[Event] = []
    handle = Batcher.handle

    async def spy(self: Batcher, event: Event) -> Result:
        seen.append(event)
        return await handle(self, event)

    monkeypatch.setattr(Batcher, "handle", spy)
    return seen


def last_command(handled: list[Event]) -> Command:
    assert isinstance(handled[-1], Command), handled
    return handled[-1]


async def test_the_people_a_channel_mention_names_are_its_mentions_by_display_name(
        client: TestClient, slack_api: FakeSlackApi, handled: list[Event]) -> None:
    slack_api.people["U777"] = "Hans Hansen"
    mention: dict[str, object] = {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.2",
                                  "text": "<@UBOT> fagperson <@U777> <@UBOT>"}
    assert await event(client, "Ev-fagperson", mention) == 200
    typed = last_command(handled)
    assert typed.text == "fagperson"
    assert typed.mentions == (Actor("slack:U777", "Hans Hansen"),)  # the bot (auth.test's UBOT) is none


async def test_the_people_a_slash_command_names_are_its_mentions_by_display_name(
        client: TestClient, slack_api: FakeSlackApi, handled: list[Event]) -> None:
    slack_api.people["U777"] = "Hans Hansen"
    assert await command(client, "fagperson <@U777|hans>") == 200
    assert last_command(handled).mentions == (Actor("slack:U777", "Hans Hansen"),)


async def test_without_an_answer_about_a_mentioned_persons_name_the_username_will_do(
        client: TestClient, slack_api: FakeSlackApi, handled: list[Event]) -> None:
    slack_api.fail_next("users.info", status=500, times=2)
    assert await command(client, "fagperson <@U777|hans>") == 200
    typed = last_command(handled)
    assert (typed.actor.name, typed.mentions) == ("mette", (Actor("slack:U777", "hans"),))


async def test_a_slash_command_slack_escaped_is_read_as_typed(
        client: TestClient, served: tuple[Store, Runtime, Settings]) -> None:
    await command(client, "ny Fjordly &amp; Søn &lt;Nord&gt;")  # as Slack sends it (should_escape)
    [workshop] = workshops(served[0])
    assert workshop.title == "Fjordly & Søn <Nord>"
