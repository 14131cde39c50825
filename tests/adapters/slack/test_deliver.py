"""SlackDeliverer through the real slack_sdk AsyncWebClient, against a loopback fake of the
Slack Web API (tests/fakes/slack_api.py): the calls each effect makes, how Slack's failures
reach the dispatcher, the pacing per channel, and an outage the dispatcher rides out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.app import Store, open_store
from adapters.slack.deliver import SlackDeliverer
from adapters.slack.render import message_payloads, modal
from bot.clock import ManualClock
from bot.dispatch import DeliveryError, Dispatcher
from bot.effects import (
    Cancel,
    CreateConversation,
    Direct,
    Effect,
    Invite,
    OpenForm,
    Post,
    PostPrivate,
    Schedule,
    SendFile,
    Update,
)
from bot.events import Command, Event
from bot.plan.files import Attachment, UnknownWorkshop
from bot.plan.workbook import MEDIA_TYPE
from bot.store.uow import SqlUnitOfWork
from bot.ui import Button, Buttons, FieldKind, Form, FormField, Heading, Message, Text
from tests.conftest import START
from tests.fakes.slack_api import TOKEN, FakeSlackApi

CHANNEL = "C0123"
CONVERSATION = f"slack:{CHANNEL}"
WORKSHOP = "ws-1"
WORKBOOK = Attachment("Handlingsplan.xlsx", MEDIA_TYPE, b"PK\x03\x04 not really a workbook \x00\xff")
FORM = Form("ambition", "Ambition", "Save", (FormField("text", "Sentence", FieldKind.LONG_TEXT),),
            {"point": "p1"}, expired="Formularen kunne ikke åbnes. Tryk på knappen igen.")


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as api:
        yield api


def deliverer(fake: FakeSlackApi, *, interval: float = 0.0, token: str = TOKEN,
              base_url: str = "") -> SlackDeliverer:
    client = AsyncWebClient(token=token, base_url=base_url or fake.url, timeout=1)
    return SlackDeliverer(client, lambda workshop_id: WORKBOOK, interval=interval)


def message(text: str) -> Message:
    return Message((Heading("Board"), Text(text), Buttons((Button("Open", "open"),))), summary=text)


def long_message() -> Message:
    """More than one Slack message holds (50 blocks, 3000 characters a section)."""
    blocks = tuple(Text(f"Line {n}: " + "x" * 2500) for n in range(60))
    return Message(blocks, summary="A long one")


def sent(payload: dict[str, object], params: dict[str, object]) -> bool:
    return params["blocks"] == payload["blocks"] and params["text"] == payload["text"]


def assert_no_token(error: DeliveryError) -> None:
    assert "xoxb" not in str(error) and "xoxb" not in repr(error)


# --- each effect, the calls it makes -------------------------------------------------------


async def test_a_post_goes_to_the_channel_without_prefix_and_its_ref_is_channel_and_ts(
        fake: FakeSlackApi) -> None:
    ref = await deliverer(fake).deliver(Post(CONVERSATION, message("hello"), key="board"), None)

    [call] = fake.calls_to("chat.postMessage")
    assert call.params["channel"] == CHANNEL
    assert sent(message_payloads(message("hello"))[0], call.params)
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert ref == f"{CHANNEL}|1700000000.000100"


async def test_a_long_post_goes_out_as_several_messages_in_order_and_the_ref_is_the_first(
        fake: FakeSlackApi) -> None:
    payloads = message_payloads(long_message())
    assert len(payloads) > 1

    ref = await deliverer(fake).deliver(Post(CONVERSATION, long_message()), None)

    calls = fake.calls_to("chat.postMessage")
    assert [c.params["blocks"] for c in calls] == [p["blocks"] for p in payloads]
    assert ref == f"{CHANNEL}|1700000000.000100"


async def test_a_long_post_that_failed_halfway_goes_on_where_it_stopped(fake: FakeSlackApi) -> None:
    payloads = message_payloads(long_message())
    slack = deliverer(fake)
    fake.fail_next("chat.postMessage", status=503, after=1)

    with pytest.raises(DeliveryError) as failed:
        await slack.deliver(Post(CONVERSATION, long_message()), None)
    ref = await slack.deliver(Post(CONVERSATION, long_message()), failed.value.progress)

    posted = fake.calls_to("chat.postMessage", ok_only=True)
    assert [c.params["blocks"] for c in posted] == [p["blocks"] for p in payloads]  # each once
    assert ref == f"{CHANNEL}|1700000000.000100"  # still the first part's, which updates edit


async def test_a_direct_message_goes_to_the_persons_chat_with_the_app_and_can_be_edited(
        fake: FakeSlackApi) -> None:
    slack = deliverer(fake)

    ref = await slack.deliver(Direct(CONVERSATION, "slack:U42", message("Dit mål: status?"), key="goal"), None)
    await slack.deliver(Update(CONVERSATION, "goal", message("Dit mål: i gang")), ref)

    [post] = fake.calls_to("chat.postMessage")
    assert post.params["channel"] == "U42"  # Slack opens the direct chat with the app
    [edit] = fake.calls_to("chat.update")
    assert (edit.params["channel"], edit.params["ts"]) == tuple(str(ref).split("|"))
    assert fake.calls_to("chat.postEphemeral") == []


async def test_an_update_edits_the_posted_message_by_its_ts(fake: FakeSlackApi) -> None:
    slack = deliverer(fake)
    ref = await slack.deliver(Post(CONVERSATION, message("v1"), key="board"), None)

    assert await slack.deliver(Update(CONVERSATION, "board", message("v2")), ref) == ref

    [call] = fake.calls_to("chat.update")
    assert call.params["channel"] == CHANNEL and call.params["ts"] == "1700000000.000100"
    assert sent(message_payloads(message("v2"))[0], call.params)
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_an_update_of_a_message_never_posted_posts_it(fake: FakeSlackApi) -> None:
    ref = await deliverer(fake).deliver(Update(CONVERSATION, "board", message("v2")), None)

    [call] = fake.calls_to("chat.postMessage")
    assert sent(message_payloads(message("v2"))[0], call.params)
    assert ref == f"{CHANNEL}|1700000000.000100"
    assert fake.calls_to("chat.update") == []


async def test_an_update_that_outgrew_one_message_edits_the_first_and_posts_the_rest(
        fake: FakeSlackApi) -> None:
    slack = deliverer(fake)
    ref = await slack.deliver(Post(CONVERSATION, message("short"), key="board"), None)

    await slack.deliver(Update(CONVERSATION, "board", long_message()), ref)

    payloads = message_payloads(long_message())
    [update] = fake.calls_to("chat.update")
    assert update.params["blocks"] == payloads[0]["blocks"]
    posts = fake.calls_to("chat.postMessage")[1:]
    assert [c.params["blocks"] for c in posts] == [p["blocks"] for p in payloads[1:]]


async def test_a_private_message_is_ephemeral_to_the_user(fake: FakeSlackApi) -> None:
    await deliverer(fake).deliver(PostPrivate(CONVERSATION, "slack:U42", message("psst")), None)

    [call] = fake.calls_to("chat.postEphemeral")
    assert call.params["channel"] == CHANNEL and call.params["user"] == "U42"
    assert sent(message_payloads(message("psst"))[0], call.params)


async def test_a_form_opens_as_a_modal_with_the_trigger(fake: FakeSlackApi) -> None:
    await deliverer(fake).deliver(OpenForm(CONVERSATION, "slack:U42", FORM, "trig-1"), None)

    [call] = fake.calls_to("views.open")
    assert call.params["trigger_id"] == "trig-1"
    view = call.params["view"]
    remembered = json.loads(view.pop("private_metadata"))
    assert remembered == {"args": dict(FORM.args), "conversation": CONVERSATION}  # the submit answers there
    expected = json.loads(json.dumps(modal(FORM)))
    expected.pop("private_metadata")
    assert view == expected


@pytest.mark.parametrize("expired", [False, True], ids=["no trigger", "expired trigger"])
async def test_a_form_that_cannot_open_tells_the_user_to_press_again(fake: FakeSlackApi,
                                                                    expired: bool) -> None:
    if expired:
        fake.fail_next("views.open", error="expired_trigger_id")

    await deliverer(fake).deliver(OpenForm(CONVERSATION, "slack:U42", FORM, "trig-1" if expired else ""),
                                  None)

    assert len(fake.calls_to("views.open")) == int(expired)
    [call] = fake.calls_to("chat.postEphemeral")
    assert call.params["channel"] == CHANNEL and call.params["user"] == "U42"
    assert "Tryk på knappen igen" in json.dumps(call.params["blocks"], ensure_ascii=False)


async def test_the_plan_file_is_uploaded_with_its_bytes_and_the_message_as_comment(
        fake: FakeSlackApi) -> None:
    built: list[str] = []

    def build(workshop_id: str) -> Attachment:
        built.append(workshop_id)
        return WORKBOOK

    slack = deliverer(fake)
    slack.files = build

    await slack.deliver(SendFile(CONVERSATION, WORKSHOP, message("Here is the plan")), None)

    assert built == [WORKSHOP]
    [asked] = fake.calls_to("files.getUploadURLExternal")
    assert asked.params["filename"] == WORKBOOK.name
    assert int(asked.params["length"]) == len(WORKBOOK.data)
    assert list(fake.uploads.values()) == [WORKBOOK.data]
    [done] = fake.calls_to("files.completeUploadExternal")
    assert done.params["channel_id"] == CHANNEL
    assert done.params["initial_comment"] == message_payloads(message("Here is the plan"))[0]["text"]
    assert [f["title"] for f in done.params["files"]] == [WORKBOOK.name]


# --- failures, as the dispatcher needs them ------------------------------------------------


async def test_a_429_is_handed_to_the_dispatcher_with_retry_after_and_sent_once(
        fake: FakeSlackApi) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=3)

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake).deliver(Post(CONVERSATION, message("hi")), None)

    assert caught.value.retry_after == 3 and not caught.value.permanent
    assert "ratelimited" in str(caught.value)
    assert len(fake.calls_to("chat.postMessage")) == 1  # slack_sdk did not wait it out itself
    assert_no_token(caught.value)


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 502}, {"status": 503},
                                   {"timeout": 3.0}, {"error": "internal_error"}],
                         ids=["500", "502", "503", "timeout", "internal_error"])
async def test_server_trouble_and_timeouts_are_retried(fake: FakeSlackApi,
                                                       fault: dict[str, float]) -> None:
    fake.fail_next("chat.postMessage", **fault)  # type: ignore[arg-type]

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake).deliver(Post(CONVERSATION, message("hi")), None)

    assert not caught.value.permanent and caught.value.retry_after is None
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert_no_token(caught.value)


async def test_a_dropped_connection_is_left_to_the_dispatcher_not_sent_again(
        fake: FakeSlackApi) -> None:
    # slack_sdk's default handler would repeat the request: a second post if Slack had it
    fake.fail_next("chat.postMessage", disconnect=True)

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake).deliver(Post(CONVERSATION, message("hi")), None)

    assert not caught.value.permanent
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_retry_handlers_on_the_client_cannot_hide_a_429(fake: FakeSlackApi) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=fake.url, timeout=1,
                            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
    fake.fail_next("chat.postMessage", status=429, retry_after=3)

    with pytest.raises(DeliveryError) as caught:
        await SlackDeliverer(client, lambda _: WORKBOOK).deliver(Post(CONVERSATION, message("hi")), None)

    assert caught.value.retry_after == 3
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_a_slack_that_cannot_be_reached_is_retried(fake: FakeSlackApi) -> None:
    slack = deliverer(fake, base_url="http://127.0.0.1:1/api/")

    with pytest.raises(DeliveryError) as caught:
        await slack.deliver(Post(CONVERSATION, message("hi")), None)

    assert not caught.value.permanent
    assert_no_token(caught.value)


async def test_a_failed_upload_of_the_bytes_is_retried(fake: FakeSlackApi) -> None:
    fake.fail_next("upload", status=500)

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake).deliver(SendFile(CONVERSATION, WORKSHOP, message("plan")), None)

    assert not caught.value.permanent
    assert fake.calls_to("files.completeUploadExternal") == []


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived",
                                  "user_not_found", "msg_too_long"])
async def test_slack_refusing_is_permanent_and_named(fake: FakeSlackApi, code: str) -> None:
    fake.fail_next("chat.postEphemeral", error=code)

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake).deliver(PostPrivate(CONVERSATION, "slack:U42", message("x")), None)

    assert caught.value.permanent
    assert code in str(caught.value) and "chat.postEphemeral" in str(caught.value)
    assert_no_token(caught.value)


async def test_a_wrong_token_is_permanent_and_not_in_the_error(fake: FakeSlackApi) -> None:
    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake, token="xoxb-wrong").deliver(Post(CONVERSATION, message("x")), None)

    assert caught.value.permanent and "invalid_auth" in str(caught.value)
    assert fake.calls_to("chat.postMessage")[0].headers["Authorization"] == "Bearer xoxb-wrong"
    assert_no_token(caught.value)


async def test_a_plan_of_a_workshop_that_is_gone_is_refused_for_good(fake: FakeSlackApi) -> None:
    slack = deliverer(fake)

    def gone(workshop_id: str) -> Attachment:
        raise UnknownWorkshop(workshop_id)

    slack.files = gone
    with pytest.raises(DeliveryError) as caught:
        await slack.deliver(SendFile(CONVERSATION, WORKSHOP, message("plan")), None)

    assert caught.value.permanent and fake.calls == []


async def test_a_form_trigger_used_by_an_earlier_try_is_not_followed_by_a_message(
        fake: FakeSlackApi) -> None:
    fake.fail_next("views.open", error="exchanged_trigger_id")

    await deliverer(fake).deliver(OpenForm(CONVERSATION, "slack:U42", FORM, "trig-1"), None)

    assert fake.calls_to("chat.postEphemeral") == []


async def test_an_effect_for_another_platform_is_refused_for_good(fake: FakeSlackApi) -> None:
    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake).deliver(Post("teams:19abc", message("x")), None)

    assert caught.value.permanent and fake.calls == []


# --- pacing ---------------------------------------------------------------------------------


async def test_posts_to_one_channel_are_spaced_by_the_interval(fake: FakeSlackApi) -> None:
    slack = deliverer(fake, interval=0.2)

    for text in ("one", "two", "three"):
        await slack.deliver(Post(CONVERSATION, message(text)), None)

    times = [c.at for c in fake.calls_to("chat.postMessage")]
    assert all(later - earlier >= 0.2 for earlier, later in pairwise(times))


async def test_posts_to_two_channels_are_not_spaced(fake: FakeSlackApi) -> None:
    slack = deliverer(fake, interval=1.0)

    await slack.deliver(Post(CONVERSATION, message("here")), None)
    await slack.deliver(Post("slack:C0999", message("there")), None)

    first, second = (c.at for c in fake.calls_to("chat.postMessage"))
    assert second - first < 1.0


# --- with the dispatcher and the SQL outbox ------------------------------------------------


class NoTimers:
    def schedule(self, effect: Schedule) -> None:
        raise AssertionError("no timers here")

    def cancel(self, effect: Cancel) -> None:
        raise AssertionError("no timers here")


async def test_a_slack_outage_is_ridden_out_and_everything_arrives_once_in_order(
        fake: FakeSlackApi, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    clock = ManualClock(START)
    effects: list[Effect] = [
        Post(CONVERSATION, message("board v1"), key="board"),
        Post(CONVERSATION, message("welcome")),
        PostPrivate(CONVERSATION, "slack:U42", message("only for you")),
        Update(CONVERSATION, "board", message("board v2")),
        SendFile(CONVERSATION, WORKSHOP, message("the plan")),
        Post("slack:C0999", message("elsewhere")),
    ]
    with SqlUnitOfWork(store.sessions) as uow:
        uow.add_effects(WORKSHOP, effects, clock.now())
        uow.commit()
    dispatcher = Dispatcher(store.outbox, deliverer(fake, interval=0.01), NoTimers(), clock)

    fake.fail_next("*", status=503, times=1_000)
    for _ in range(4):
        assert await dispatcher.deliver_due() == 0
        clock.advance(timedelta(minutes=5))  # past each backoff
    fake.recover()
    assert await dispatcher.drain() == len(effects)

    ok = [c for c in fake.calls if c.status == 200 and not c.error and c.method != "conversations.history"]
    here = [(c.method, c.params.get("text", "")) for c in ok if c.params.get("channel", CHANNEL) == CHANNEL
            and c.params.get("channel_id", CHANNEL) == CHANNEL]
    text = {name: message_payloads(message(name))[0]["text"] for name in
            ("board v1", "welcome", "only for you", "board v2")}
    assert here == [("chat.postMessage", text["board v1"]), ("chat.postMessage", text["welcome"]),
                    ("chat.postEphemeral", text["only for you"]), ("chat.update", text["board v2"]),
                    ("files.getUploadURLExternal", ""), ("upload", ""),
                    ("files.completeUploadExternal", "")]
    # the board was edited where it stands (the fake refuses a ts it never gave out)
    assert [m["text"] for (channel, _), m in fake.messages.items() if channel == CHANNEL] == [
        text["board v2"], text["welcome"]]
    assert [c.params["text"] for c in fake.calls_to("chat.postMessage", ok_only=True)].count(
        message_payloads(message("elsewhere"))[0]["text"]) == 1
    assert list(fake.uploads.values()) == [WORKBOOK.data]
    assert store.outbox.backlog() == 0
    store.close()


async def test_a_group_channel_is_made_the_facilitator_invited_and_the_channel_bound(
        fake: FakeSlackApi) -> None:
    told: list[Event] = []
    client = AsyncWebClient(token=TOKEN, base_url=fake.url, timeout=1)
    made = SlackDeliverer(client, lambda workshop_id: WORKBOOK, interval=0, created=told.append)
    fake.fail_next("conversations.create", error="name_taken")  # someone has that name already

    await made.deliver(CreateConversation(CONVERSATION, "T1", WORKSHOP, "S", "Fjordly-gruppe-S!",
                                          "slack:U42"), None)

    names = [c.params["name"] for c in fake.calls_to("conversations.create")]
    assert names == ["fjordly-gruppe-s", "fjordly-gruppe-s-2"]  # Slack's rules for names, then a number
    [invite] = fake.calls_to("conversations.invite")
    assert invite.params["users"] == "U42"
    [bind] = told
    assert isinstance(bind, Command) and bind.text == "group S"
    assert (bind.org, bind.workshop_id, bind.actor.id) == ("T1", WORKSHOP, "slack:U42")
    assert bind.conversation == "slack:" + invite.params["channel"]


async def test_a_groups_people_are_invited_to_its_channel(fake: FakeSlackApi) -> None:
    await deliverer(fake).deliver(Invite(CONVERSATION, ("slack:U1", "slack:U2", "console:x")), None)
    [call] = fake.calls_to("conversations.invite")
    assert (call.params["channel"], call.params["users"]) == (CHANNEL, "U1,U2")

    fake.fail_next("conversations.invite", error="already_in_channel")
    await deliverer(fake).deliver(Invite(CONVERSATION, ("slack:U1",)), None)  # no error: they are in


@pytest.mark.parametrize("failing", ["invite", "binding"])
async def test_a_retry_after_the_channel_was_made_makes_no_second_channel(
        fake: FakeSlackApi, tmp_path: Path, failing: str) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    clock = ManualClock(START)
    told: list[Event] = []
    database_down = [failing == "binding"]

    def bind(event: Event) -> None:
        if database_down.pop() if database_down else False:
            raise OSError("the database went away")
        told.append(event)

    client = AsyncWebClient(token=TOKEN, base_url=fake.url, timeout=1)
    slack = SlackDeliverer(client, lambda workshop_id: WORKBOOK, interval=0, created=bind)
    with SqlUnitOfWork(store.sessions) as uow:
        uow.add_effects(WORKSHOP, [CreateConversation(CONVERSATION, "T1", WORKSHOP, "E", "fjordly-e",
                                                      "slack:U42")], clock.now())
        uow.commit()
    if failing == "invite":
        fake.fail_next("conversations.invite", status=502)
    # A new Dispatcher (and deliverer) for the retry: what was done must come from the outbox.
    assert await Dispatcher(store.outbox, slack, NoTimers(), clock).deliver_due() == 0
    clock.advance(timedelta(minutes=5))
    slack = SlackDeliverer(client, lambda workshop_id: WORKBOOK, interval=0, created=bind)
    assert await Dispatcher(store.outbox, slack, NoTimers(), clock).deliver_due() == 1

    [made] = fake.calls_to("conversations.create", ok_only=True)
    assert len(fake.calls_to("conversations.create")) == 1
    [bound] = told
    assert bound.conversation == "slack:" + next(c.params["channel"] for c in fake.calls_to(
        "conversations.invite", ok_only=True))
    assert made.params["name"] == "fjordly-e"
    store.close()


async def test_a_keyed_direct_message_is_edited_through_the_outbox(fake: FakeSlackApi,
                                                                   tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    clock = ManualClock(START)
    with SqlUnitOfWork(store.sessions) as uow:
        uow.add_effects(WORKSHOP, [Direct(CONVERSATION, "slack:U42", message("status?"), key="goal"),
                                   Update(CONVERSATION, "goal", message("i gang"))], clock.now())
        uow.commit()

    await Dispatcher(store.outbox, deliverer(fake), NoTimers(), clock).drain()

    assert len(fake.calls_to("chat.postMessage")) == 1  # the update edited it, posted nothing new
    [edit] = fake.calls_to("chat.update")
    assert edit.params["channel"] == "U42"
    store.close()


def queued(tmp_path: Path, *effects: Effect) -> tuple[Store, ManualClock]:
    store = open_store(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    clock = ManualClock(START)
    with SqlUnitOfWork(store.sessions) as uow:
        uow.add_effects(WORKSHOP, list(effects), clock.now())
        uow.commit()
    return store, clock


LOST_ANSWERS = {"dropped": {"disconnect": True}, "timeout": {"timeout": 5.0}, "5xx": {"status": 503}}
LOST_PARTS = {"post": (Post(CONVERSATION, message("board"), key="board"), 0),
              "direct": (Direct(CONVERSATION, "slack:U42", message("status?"), key="board"), 0),
              "first of parts": (Post(CONVERSATION, long_message(), key="board"), 0),
              "second of parts": (Post(CONVERSATION, long_message(), key="board"), 1)}


@pytest.mark.parametrize("fault", LOST_ANSWERS.values(), ids=LOST_ANSWERS.keys())
@pytest.mark.parametrize(("effect", "lost"), LOST_PARTS.values(), ids=LOST_PARTS.keys())
async def test_a_message_slack_posted_before_its_answer_was_lost_is_shown_once(
        fake: FakeSlackApi, tmp_path: Path, fault: dict[str, float], effect: Post | Direct,
        lost: int) -> None:
    fake.fail_next("chat.postMessage", acted=True, after=lost, **fault)  # type: ignore[arg-type]
    store, clock = queued(tmp_path, effect, Update(effect.conversation, "board", message("edited")))
    dispatcher = Dispatcher(store.outbox, deliverer(fake), NoTimers(), clock)

    assert await dispatcher.deliver_due() == 0
    clock.advance(timedelta(minutes=5))
    assert await dispatcher.drain() == 2

    channel = "U42" if isinstance(effect, Direct) else CHANNEL
    parts = len(message_payloads(effect.message))
    assert fake.items() == [(channel, f"1/{n}") for n in range(parts)]
    [edit] = fake.calls_to("chat.update", ok_only=True)  # the update found the message shown
    assert (edit.params["channel"], edit.params["ts"]) == min(k for k in fake.messages if k[0] == channel)
    assert store.outbox.backlog() == 0
    store.close()


async def test_a_refused_post_is_sent_again_without_looking_for_it(fake: FakeSlackApi,
                                                                   tmp_path: Path) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    store, clock = queued(tmp_path, Post(CONVERSATION, message("board")))
    dispatcher = Dispatcher(store.outbox, deliverer(fake), NoTimers(), clock)

    await dispatcher.deliver_due()
    clock.advance(timedelta(seconds=2))
    assert await dispatcher.drain() == 1

    assert fake.items() == [(CHANNEL, "1/0")]
    assert fake.calls_to("conversations.history") == []  # a 429 is Slack saying it did nothing
    store.close()


async def test_without_the_history_scope_a_doubtful_post_is_sent_again_and_logged(
        fake: FakeSlackApi, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # An app installed before the history scopes were asked for: better twice than never.
    fake.fail_next("chat.postMessage", acted=True, disconnect=True)
    fake.fail_next("conversations.history", error="missing_scope")
    store, clock = queued(tmp_path, Post(CONVERSATION, message("board")))
    dispatcher = Dispatcher(store.outbox, deliverer(fake), NoTimers(), clock)

    await dispatcher.deliver_due()
    clock.advance(timedelta(minutes=5))
    assert await dispatcher.drain() == 1

    assert fake.items() == [(CHANNEL, "1/0"), (CHANNEL, "1/0")]
    assert "may show twice" in caplog.text and "missing_scope" in caplog.text
    store.close()
