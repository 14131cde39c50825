"""TeamsDeliverer through the real botbuilder CloudAdapter (authentication on), against the
loopback fake of the Microsoft side (tests/fakes/teams_api.py): what each effect shows in
Teams, how Teams' failures reach the dispatcher, and that a retry never shows anything twice.

The conversations are remembered in a real SQLite store, the way the endpoint remembers them
when it first hears from a channel (TeamsBot._remember).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

import pytest
from botbuilder.schema import Activity
from pydantic import SecretStr

from adapters.app import Store, open_store
from adapters.config import Settings
from adapters.intake import Intake
from adapters.pacing import Pacer
from adapters.teams import parse
from adapters.teams.app import TeamsBot, cloud_adapter, file_links
from adapters.teams.conversations import Conversations
from adapters.teams.deliver import TeamsDeliverer
from adapters.teams.render import CONTENT_TYPE, message_cards
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
from bot.events import Command, Event, FormSubmitted
from bot.store.memory import PlatformMemory
from bot.store.uow import SqlUnitOfWork
from bot.ui import Button, Buttons, FieldKind, Form, FormField, Heading, Message, Text
from tests.conftest import START
from tests.fakes.teams_api import (
    APP_ID,
    APP_PASSWORD,
    CHANNEL,
    JONAS,
    METTE,
    TENANT_ID,
    FakeTeamsApi,
    Posted,
)

PLENUM = f"teams:{CHANNEL}"
WORKSHOP = "w1a2b3c4d"
BASE_URL = "https://bot.example.dk"
FORM = Form("ambition", "Ambition for målet", "Gem",
            (FormField("sentence", "Sætning", FieldKind.LONG_TEXT, required=True),),
            {"workshop": WORKSHOP, "point": "p1"})


# --- the setting ------------------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTeamsApi]:
    with FakeTeamsApi() as api:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", api.ca_file)  # trust the fake, and only it
        yield api


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'teams.sqlite3'}",
                    microsoft_app_id=APP_ID, microsoft_app_password=SecretStr(APP_PASSWORD),
                    microsoft_app_tenant_id=TENANT_ID, public_base_url=BASE_URL)


@pytest.fixture
def teams_store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings.database_url)
    yield store
    store.close()


@pytest.fixture
def conversations(teams_store: Store, fake: FakeTeamsApi) -> Conversations:
    """The bot has heard from the plenum channel (Mette's "ny Fjordly") and nowhere else."""
    known = Conversations(PlatformMemory(teams_store.sessions))
    heard_from(known, fake.channel_message("ny Fjordly"))
    return known


def heard_from(conversations: Conversations, activity: dict[str, Any]) -> None:
    """Remember the activity's conversation exactly as the endpoint does on every turn."""
    bot = TeamsBot(cast(Intake, None), conversations)
    bot._remember(Activity().deserialize(activity))


def deliverer(fake: FakeTeamsApi, settings: Settings, conversations: Conversations, *,
              linked: bool = True, created: Callable[[Event], object] | None = None) -> TeamsDeliverer:
    """A deliverer as platform_deliverers makes it, without pacing (tests of pacing set it);
    `linked=False`: as without PUBLIC_BASE_URL."""
    links = file_links(settings) if linked else None
    return TeamsDeliverer(cloud_adapter(settings, fake.endpoints()), APP_ID, conversations, links,
                          interval=0, created=created or (lambda event: None))


def message(text: str) -> Message:
    return Message((Heading("Tavle"), Text(text), Buttons((Button("Åbn", "open"),))), summary=text)


def long_message(lines: int = 24) -> Message:
    """More than one Adaptive Card holds (Teams refuses a card over 28 KB)."""
    return Message(tuple(Text(f"Linje {n}: " + "x" * 2500) for n in range(lines)), summary="En lang")


def ref_of(posted: Posted) -> str:
    return f"{posted.conversation_id}|{posted.id}"


def channel_posts(fake: FakeTeamsApi) -> list[Posted]:
    """What the plenum channel shows as posts of its own (not inside a thread)."""
    return [p for p in fake.shown() if p.conversation_id == CHANNEL]


def secrets_of(fake: FakeTeamsApi) -> list[str]:
    return [APP_PASSWORD, *fake.issued]


def assert_no_secret(error: BaseException, fake: FakeTeamsApi) -> None:
    assert fake.issued  # the bot did hold a token when it failed: there was one to leak
    for secret in secrets_of(fake):
        assert secret not in str(error) and secret not in repr(error)


class BreakingPacer(Pacer):
    """No pacing, but after `sends` messages Teams starts failing (`fault`): a long message
    that breaks halfway, which the fake alone cannot time."""

    def __init__(self, fake: FakeTeamsApi, sends: int, **fault: Any) -> None:
        super().__init__(0)
        self.fake, self.sends, self.fault = fake, sends, fault

    @asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        if self.sends == 0:
            self.fake.fail_next("send", **self.fault)
        self.sends -= 1
        async with super().turn(channel):
            yield


class NoTimers:
    def schedule(self, effect: Schedule) -> None:
        raise AssertionError("no timers here")

    def cancel(self, effect: Cancel) -> None:
        raise AssertionError("no timers here")


def queue(store: Store, *effects: Effect) -> None:
    with SqlUnitOfWork(store.sessions) as uow:
        uow.add_effects(WORKSHOP, list(effects), START)
        uow.commit()


# --- posts and updates ------------------------------------------------------------------------


async def test_a_post_is_a_new_post_in_the_channel_with_an_adaptive_card(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    ref = await deliverer(fake, settings, conversations).deliver(Post(PLENUM, message("hej"), key="board"), None)

    [posted] = channel_posts(fake)
    [call] = fake.calls_to("send")
    assert call.conversation_id == CHANNEL  # the channel itself, not the thread of Mette's post
    assert posted.reply_to_id is None
    [card_attachment] = posted.activity["attachments"]
    assert card_attachment["contentType"] == CONTENT_TYPE
    assert posted.cards == message_cards(message("hej"))
    assert posted.activity["summary"] == "hej"  # what notifications show
    assert ref == ref_of(posted)
    assert call.headers["Authorization"].partition(" ")[2] in fake.issued  # a token the fake gave


async def test_a_long_message_goes_out_as_several_cards_in_order_and_the_ref_is_the_first(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    cards = message_cards(long_message())
    assert len(cards) == 3

    ref = await deliverer(fake, settings, conversations).deliver(Post(PLENUM, long_message()), None)

    shown = channel_posts(fake)
    assert [p.cards[0] for p in shown] == cards
    assert ref == ref_of(shown[0])


async def test_a_long_post_that_failed_halfway_goes_on_where_it_stopped(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    cards = message_cards(long_message())
    teams = deliverer(fake, settings, conversations)
    teams.pacer = BreakingPacer(fake, sends=1, status=503)

    with pytest.raises(DeliveryError) as failed:
        await teams.deliver(Post(PLENUM, long_message()), None)
    assert not failed.value.permanent
    first = channel_posts(fake)
    assert [p.cards[0] for p in first] == cards[:1]
    assert failed.value.progress is not None and ref_of(first[0]) in failed.value.progress

    ref = await deliverer(fake, settings, conversations).deliver(Post(PLENUM, long_message()),
                                                                failed.value.progress)

    assert [p.cards[0] for p in channel_posts(fake)] == cards  # each card once, in order
    assert ref == ref_of(first[0])  # still the first card's: the one an Update edits


async def test_a_long_post_broken_off_is_finished_by_the_dispatcher_from_the_outbox(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations, teams_store: Store) -> None:
    cards = message_cards(long_message())
    clock = ManualClock(START)
    queue(teams_store, Post(PLENUM, long_message(), key="plan"))
    teams = deliverer(fake, settings, conversations)
    teams.pacer = BreakingPacer(fake, sends=2, status=502)
    assert await Dispatcher(teams_store.outbox, teams, NoTimers(), clock).deliver_due() == 0

    clock.advance(timedelta(minutes=5))
    restarted = deliverer(fake, settings, Conversations(PlatformMemory(teams_store.sessions)))
    assert await Dispatcher(teams_store.outbox, restarted, NoTimers(), clock).deliver_due() == 1

    shown = channel_posts(fake)
    assert [p.cards[0] for p in shown] == cards
    assert teams_store.outbox.refs({(WORKSHOP, "plan")}) == {(WORKSHOP, "plan"): ref_of(shown[0])}


async def test_an_update_replaces_the_card_where_it_stands(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    teams = deliverer(fake, settings, conversations)
    ref = await teams.deliver(Post(PLENUM, message("0 prikker"), key="board"), None)

    assert await teams.deliver(Update(PLENUM, "board", message("1 prik")), ref) == ref

    [update] = fake.calls_to("update")
    [posted] = channel_posts(fake)
    assert (update.method, update.conversation_id, update.activity_id) == ("PUT", CHANNEL, posted.id)
    assert posted.cards == message_cards(message("1 prik"))
    assert [v["attachments"][0]["content"] for v in posted.versions] == [
        *message_cards(message("0 prikker")), *message_cards(message("1 prik"))]
    assert len(fake.calls_to("send")) == 1  # no second post


async def test_an_update_that_outgrew_one_card_edits_the_first_and_posts_the_rest(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    teams = deliverer(fake, settings, conversations)
    ref = await teams.deliver(Post(PLENUM, message("kort"), key="board"), None)

    await teams.deliver(Update(PLENUM, "board", long_message()), ref)

    cards = message_cards(long_message())
    assert [p.cards[0] for p in channel_posts(fake)] == cards


async def test_an_update_of_a_message_never_posted_posts_it(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    ref = await deliverer(fake, settings, conversations).deliver(Update(PLENUM, "board", message("v2")), None)

    [posted] = channel_posts(fake)
    assert posted.cards == message_cards(message("v2"))
    assert ref == ref_of(posted)
    assert fake.calls_to("update") == []


async def test_a_long_update_that_is_posted_and_broken_off_does_not_repeat_its_first_cards(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations, teams_store: Store) -> None:
    cards = message_cards(long_message())
    clock = ManualClock(START)
    queue(teams_store, Update(PLENUM, "board", long_message()))
    teams = deliverer(fake, settings, conversations)
    teams.pacer = BreakingPacer(fake, sends=2, status=503)
    assert await Dispatcher(teams_store.outbox, teams, NoTimers(), clock).deliver_due() == 0

    clock.advance(timedelta(minutes=5))
    restarted = deliverer(fake, settings, conversations)
    assert await Dispatcher(teams_store.outbox, restarted, NoTimers(), clock).deliver_due() == 1

    assert [p.cards[0] for p in channel_posts(fake)] == cards


async def test_posts_to_one_conversation_are_spaced_as_teams_asks(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    """Teams takes about two messages a second in one place and answers bursts with 429."""
    teams = TeamsDeliverer(cloud_adapter(settings, fake.endpoints()), APP_ID, conversations,
                           file_links(settings), interval=0.3)

    for text in ("en", "to", "tre"):
        await teams.deliver(Post(PLENUM, message(text)), None)

    times = [call.at for call in fake.calls_to("send")]
    assert all(later - earlier >= 0.3 for earlier, later in pairwise(times))


# --- a person's own chat, forms, files --------------------------------------------------------


async def test_a_private_message_opens_a_chat_with_the_person_once_and_reuses_it(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations, teams_store: Store) -> None:
    user = f"teams:{JONAS.id}"
    await deliverer(fake, settings, conversations).deliver(PostPrivate(PLENUM, user, message("kun til dig")), None)

    [create] = fake.calls_to("create")
    assert [member["id"] for member in create.body["members"]] == [JONAS.id]
    assert create.body["channelData"]["tenant"]["id"] == TENANT_ID
    assert create.body.get("isGroup") is False

    # after a restart, from what the store remembers
    restarted = deliverer(fake, settings, Conversations(PlatformMemory(teams_store.sessions)))
    await restarted.deliver(PostPrivate(PLENUM, user, message("igen")), None)

    assert len(fake.calls_to("create")) == 1
    chat = fake.personal_conversation_id(JONAS)
    assert [p.cards for p in fake.shown(chat)] == [message_cards(message("kun til dig")),
                                                   message_cards(message("igen"))]
    assert channel_posts(fake) == []  # nobody else saw it


async def test_a_direct_message_stays_in_the_persons_chat_and_can_be_edited_there(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    teams = deliverer(fake, settings, conversations)
    user = f"teams:{JONAS.id}"

    ref = await teams.deliver(Direct(PLENUM, user, message("Dit mål: status?"), key="goal"), None)
    assert ref is not None
    await teams.deliver(Update(PLENUM, "goal", message("Dit mål: i gang")), ref)

    chat = fake.personal_conversation_id(JONAS)
    [shown] = fake.shown(chat)
    assert shown.cards == message_cards(message("Dit mål: i gang"))  # edited where it stands
    assert channel_posts(fake) == []


async def test_a_form_is_a_card_with_its_inputs_and_is_remembered_by_its_activity_id(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations, teams_store: Store) -> None:
    opened = OpenForm(PLENUM, f"teams:{METTE.id}", FORM)

    await deliverer(fake, settings, conversations).deliver(opened, None)

    [posted] = channel_posts(fake)
    [card] = posted.cards
    assert [element["id"] for element in card["body"] if element["type"].startswith("Input.")] == ["sentence"]
    [submit] = card["actions"]
    assert submit["title"] == "Gem"
    # remembered (also across a restart), so a refused submission can be drawn again
    assert conversations.form(posted.id) == opened
    assert Conversations(PlatformMemory(teams_store.sessions)).form(posted.id) == opened

    # pressing it: Teams sends the button's data with the inputs, from the card's own thread
    pressed = fake.card_submit({**submit["data"], "sentence": " Alle kan bo her "},
                               reply_to_id=posted.id, conversation_id=f"{CHANNEL};messageid={posted.id}")
    [event] = parse.events(Activity().deserialize(pressed), conversations.is_group_thread)
    assert isinstance(event, FormSubmitted)
    assert (event.form, event.conversation, dict(event.values)) == ("ambition", PLENUM, {"sentence": "Alle kan bo her"})
    assert dict(event.args) == dict(FORM.args)


async def test_the_plan_is_a_button_that_opens_a_signed_link_to_the_bot(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    await deliverer(fake, settings, conversations).deliver(
        SendFile(PLENUM, WORKSHOP, message("Her er handlingsplanen"), open_label="Hent handlingsplanen"), None)

    [posted] = channel_posts(fake)
    text = json.dumps(posted.cards, ensure_ascii=False)
    assert "open_url" not in text  # no button that would only send the bot an unknown action
    actions = [a for card in posted.cards for s in card["body"] if s["type"] == "ActionSet" for a in s["actions"]]
    [link] = [a for a in actions if a["type"] == "Action.OpenUrl"]
    assert link["title"] == "Hent handlingsplanen"
    assert link["url"].startswith(f"{BASE_URL}/files/")
    token = link["url"].removeprefix(f"{BASE_URL}/files/")
    # the server's own FileLinks (same settings, as after a restart) opens it, for this workshop
    links = file_links(settings)
    assert links is not None and links.workshop_of(token) == WORKSHOP
    assert "Her er handlingsplanen" in text


async def test_without_a_public_address_the_plan_cannot_be_sent_and_that_is_final(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    teams = deliverer(fake, settings, conversations, linked=False)

    with pytest.raises(DeliveryError) as caught:
        await teams.deliver(SendFile(PLENUM, WORKSHOP, message("plan")), None)

    assert caught.value.permanent
    assert fake.calls_to("send") == []


# --- a group's own thread ---------------------------------------------------------------------


async def test_a_group_gets_a_thread_in_the_plenum_channel_bound_as_if_group_was_typed_there(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    told: list[Event] = []
    teams = deliverer(fake, settings, conversations, created=told.append)

    await teams.deliver(CreateConversation(PLENUM, TENANT_ID, WORKSHOP, "E", "Fjordly – gruppe E",
                                           f"teams:{METTE.id}"), None)

    [create] = fake.calls_to("create")
    assert create.body["channelData"]["channel"]["id"] == CHANNEL
    assert create.body["activity"]["text"] == "Fjordly – gruppe E"
    thread = create_answer_id(fake)
    [bound] = told
    assert isinstance(bound, Command) and bound.text == "group E"
    assert (bound.org, bound.workshop_id, bound.actor.id) == (TENANT_ID, WORKSHOP, f"teams:{METTE.id}")
    assert bound.conversation == f"teams:{thread}"

    # the group's messages go inside its thread, and what is said there stays there
    await teams.deliver(Post(bound.conversation, message("Velkommen, gruppe E")), None)
    sent = fake.calls_to("send")[-1]
    assert sent.conversation_id == thread
    reply = fake.channel_message("næste", thread=thread.partition(";messageid=")[2], person=JONAS)
    [event] = parse.events(Activity().deserialize(reply), conversations.is_group_thread)
    assert event.conversation == bound.conversation


def create_answer_id(fake: FakeTeamsApi) -> str:
    """The thread the fake made: "<channel>;messageid=<its opening post>"."""
    [root] = [p for p in fake.shown() if p.conversation_id.startswith(f"{CHANNEL};messageid=")
              and p.reply_to_id is None and p.id == p.conversation_id.partition(";messageid=")[2]]
    return root.conversation_id


async def test_a_thread_made_whose_binding_failed_is_not_made_again_on_the_retry(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    told: list[Event] = []
    database_down = [True]

    def bind(event: Event) -> None:
        if database_down.pop() if database_down else False:
            raise OSError("the database went away")
        told.append(event)

    effect = CreateConversation(PLENUM, TENANT_ID, WORKSHOP, "S", "Fjordly – gruppe S", f"teams:{METTE.id}")

    with pytest.raises(DeliveryError) as failed:
        await deliverer(fake, settings, conversations, created=bind).deliver(effect, None)
    assert not failed.value.permanent
    assert failed.value.progress == create_answer_id(fake)

    await deliverer(fake, settings, conversations, created=bind).deliver(effect, failed.value.progress)

    assert len(fake.calls_to("create")) == 1
    [bound] = told
    assert bound.conversation == f"teams:{failed.value.progress}"


async def test_a_thread_made_whose_binding_failed_is_bound_by_the_dispatcher_without_a_second(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations, teams_store: Store) -> None:
    clock = ManualClock(START)
    told: list[Event] = []
    database_down = [True]

    def bind(event: Event) -> None:
        if database_down.pop() if database_down else False:
            raise OSError("the database went away")
        told.append(event)

    queue(teams_store, CreateConversation(PLENUM, TENANT_ID, WORKSHOP, "G", "Fjordly – gruppe G",
                                          f"teams:{METTE.id}"))
    first = deliverer(fake, settings, conversations, created=bind)
    assert await Dispatcher(teams_store.outbox, first, NoTimers(), clock).deliver_due() == 0
    clock.advance(timedelta(minutes=5))
    again = deliverer(fake, settings, Conversations(PlatformMemory(teams_store.sessions)), created=bind)
    assert await Dispatcher(teams_store.outbox, again, NoTimers(), clock).deliver_due() == 1

    assert len(fake.calls_to("create")) == 1
    [bound] = told
    assert bound.conversation == f"teams:{create_answer_id(fake)}"


async def test_inviting_to_a_thread_needs_nothing_from_teams(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    await deliverer(fake, settings, conversations).deliver(Invite(PLENUM, (f"teams:{JONAS.id}",)), None)
    assert [c for c in fake.calls if c.route not in ("token", "openid")] == []


# --- failures, as the dispatcher needs them ---------------------------------------------------


async def test_a_429_is_handed_to_the_dispatcher_with_retry_after_and_sent_once(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    fake.fail_next("send", status=429, retry_after=7)

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake, settings, conversations).deliver(Post(PLENUM, message("hej")), None)

    assert caught.value.retry_after == 7 and not caught.value.permanent
    assert len(fake.calls_to("send")) == 1  # the SDK did not wait it out (or repeat it) itself
    assert "429" in str(caught.value)
    assert_no_secret(caught.value, fake)


RETRIED: dict[str, dict[str, Any]] = {
    "412": {"status": 412}, "500": {"status": 500}, "502": {"status": 502}, "503": {"status": 503},
    "504": {"status": 504}, "dropped connection": {"disconnect": True},
}


@pytest.mark.parametrize("fault", RETRIED.values(), ids=RETRIED.keys())
async def test_server_trouble_and_a_dropped_connection_are_retried_by_the_dispatcher_not_repeated(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations, fault: dict[str, Any]) -> None:
    fake.fail_next("send", **fault)

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake, settings, conversations).deliver(Post(PLENUM, message("hej")), None)

    assert not caught.value.permanent
    assert len(fake.calls_to("send")) == 1  # a post Teams may have had is not sent a second time
    assert channel_posts(fake) == []
    assert_no_secret(caught.value, fake)


@pytest.mark.parametrize("status", [403, 404])
async def test_teams_refusing_is_permanent(fake: FakeTeamsApi, settings: Settings,
                                           conversations: Conversations, status: int) -> None:
    """The bot was removed from the team, or the conversation is gone: asking again is futile."""
    fake.fail_next("send", status=status)

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake, settings, conversations).deliver(Post(PLENUM, message("hej")), None)

    assert caught.value.permanent and str(status) in str(caught.value)
    assert_no_secret(caught.value, fake)


async def test_failures_of_making_a_private_chat_are_told_apart_the_same_way(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    teams = deliverer(fake, settings, conversations)
    private = PostPrivate(PLENUM, f"teams:{JONAS.id}", message("psst"))

    fake.fail_next("create", status=429, retry_after=2)
    with pytest.raises(DeliveryError) as throttled:
        await teams.deliver(private, None)
    fake.fail_next("create", status=403)
    with pytest.raises(DeliveryError) as refused:
        await teams.deliver(private, None)

    assert (throttled.value.retry_after, throttled.value.permanent) == (2, False)
    assert refused.value.permanent
    assert len(fake.calls_to("create")) == 2 and fake.calls_to("send") == []


async def test_an_update_of_a_card_that_is_gone_is_refused_for_good(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    """Someone deleted the board post: Teams answers 404, and asking again will not change it."""
    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake, settings, conversations).deliver(
            Update(PLENUM, "board", message("v2")), f"{CHANNEL}|1790000009999")

    assert caught.value.permanent
    assert channel_posts(fake) == []


async def test_an_update_that_teams_throttles_is_handed_to_the_dispatcher_and_sent_once(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    teams = deliverer(fake, settings, conversations)
    ref = await teams.deliver(Post(PLENUM, message("v1"), key="board"), None)
    fake.fail_next("update", status=429, retry_after=2)

    with pytest.raises(DeliveryError) as throttled:
        await teams.deliver(Update(PLENUM, "board", message("v2")), ref)

    assert (throttled.value.retry_after, throttled.value.permanent) == (2, False)
    assert len(fake.calls_to("update")) == 1


async def test_a_conversation_the_bot_never_heard_from_is_refused_for_good(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake, settings, conversations).deliver(
            Post("teams:19:never-heard-of@thread.tacv2", message("hej")), None)

    assert caught.value.permanent
    assert [c for c in fake.calls if c.route not in ("openid",)] == []


@pytest.mark.parametrize("effect", [Schedule("nudge", START), Post("slack:C0123", message("x"))],
                         ids=["a timer", "another platform's conversation"])
async def test_what_teams_cannot_deliver_is_refused_for_good(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations, effect: Effect) -> None:
    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake, settings, conversations).deliver(effect, None)

    assert caught.value.permanent
    assert fake.calls_to("send") == [] and fake.calls_to("create") == []


async def test_a_refused_bot_secret_is_named_without_the_secret(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations) -> None:
    wrong = settings.model_copy(update={"microsoft_app_password": SecretStr("an-old-secret")})

    with pytest.raises(DeliveryError) as caught:
        await deliverer(fake, wrong, conversations).deliver(Post(PLENUM, message("hej")), None)

    assert "an-old-secret" not in str(caught.value) and "an-old-secret" not in repr(caught.value)
    assert fake.calls_to("send") == []


async def test_a_post_whose_answer_was_lost_is_sent_again_under_its_item_and_logged(
        fake: FakeTeamsApi, settings: Settings, conversations: Conversations, teams_store: Store,
        caplog: pytest.LogCaptureFixture) -> None:
    # The connector has no idempotency key and cannot list what a bot posted: rather twice
    # than never, said in the log, and each request names its outbox item for whoever looks.
    clock = ManualClock(START)
    queue(teams_store, Post(PLENUM, message("hej")))
    fake.fail_next("send", status=503, acted=True)
    dispatcher = Dispatcher(teams_store.outbox, deliverer(fake, settings, conversations), NoTimers(), clock)
    assert await dispatcher.deliver_due() == 0

    clock.advance(timedelta(minutes=5))
    assert await dispatcher.deliver_due() == 1

    assert fake.items() == [(CHANNEL, "1"), (CHANNEL, "1")]
    assert "outbox item 1 may have been posted" in caplog.text
