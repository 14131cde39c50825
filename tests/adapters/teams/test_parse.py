"""Teams activities as the engine's events (adapters/teams/parse.py), on the activities the
loopback fake builds the way Teams sends them (tests/fakes/teams_api.py), deserialized by
botbuilder as CloudAdapter hands them to the bot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botbuilder.schema import Activity

from adapters.teams.parse import ORIGIN, events
from adapters.teams.render import form_card
from bot.events import Action, Actor, Command, Event, FormSubmitted, MemberJoined
from bot.ui import FieldKind, Form, FormField
from tests.fakes.teams_api import APP_ID, CHANNEL, JONAS, METTE, TENANT_ID, FakeTeamsApi

PLENUM = f"teams:{CHANNEL}"
THREAD_ROOT = "1790000000777"
GROUP_THREAD = f"{CHANNEL};messageid={THREAD_ROOT}"  # a thread the bot made for a group


@pytest.fixture
def fake() -> FakeTeamsApi:
    """Only its activity builders are used: no server is started."""
    return FakeTeamsApi()


def no_group_threads(conversation: str) -> bool:
    return False


def parse(activity: dict[str, Any], is_group_thread: Callable[[str], bool] = no_group_threads) -> list[Event]:
    return events(Activity().deserialize(activity), is_group_thread)


def only(found: list[Event]) -> Event:
    assert len(found) == 1, found
    return found[0]


def command_of(activity: dict[str, Any], is_group_thread: Callable[[str], bool] = no_group_threads) -> Command:
    found = only(parse(activity, is_group_thread))
    assert isinstance(found, Command), found
    return found


def mentioning(activity: dict[str, Any], person: Any) -> dict[str, Any]:
    """`activity` with an @mention of `person` entity, as Teams adds for each <at>…</at>."""
    activity["entities"].append({"type": "mention", "text": f"<at>{person.name}</at>",
                                 "mentioned": {"id": person.id, "name": person.name}})
    return activity


# --- typed commands ---------------------------------------------------------------------------


def test_a_channel_mention_is_a_command_in_the_channel_of_the_tenant(fake: FakeTeamsApi) -> None:
    activity = fake.channel_message("ny Fjordly")
    assert activity["text"] == "<at>Ambition</at> ny Fjordly"  # as Teams sends it
    assert ";messageid=" in activity["conversation"]["id"]  # a new post is a thread of its own

    command = only(parse(activity))

    assert isinstance(command, Command)
    assert command.text == "ny Fjordly"
    assert command.org == TENANT_ID
    assert command.conversation == PLENUM  # the channel, not the new post's thread
    assert command.actor == Actor(f"teams:{METTE.id}", METTE.name)
    assert command.event_id == f"teams:{activity['conversation']['id']}:{activity['id']}"


def test_a_reply_in_a_thread_the_bot_did_not_make_belongs_to_the_channel(fake: FakeTeamsApi) -> None:
    command = only(parse(fake.channel_message("status", thread="1790000000555")))
    assert command.conversation == PLENUM


def test_a_reply_in_a_groups_own_thread_belongs_to_that_thread(fake: FakeTeamsApi) -> None:
    known = {f"teams:{GROUP_THREAD}"}
    typed = command_of(fake.channel_message("gruppe E", thread=THREAD_ROOT), known.__contains__)
    assert typed.conversation == f"teams:{GROUP_THREAD}"
    assert typed.text == "gruppe E"


def test_other_peoples_mentions_become_their_names(fake: FakeTeamsApi) -> None:
    activity = mentioning(fake.channel_message(f"tovholder <at>{JONAS.name}</at>"), JONAS)

    assert command_of(activity).text == f"tovholder {JONAS.name}"


def test_the_people_a_command_mentions_are_its_mentions_in_order_but_never_the_bot(fake: FakeTeamsApi) -> None:
    typed = f"fagperson <at>{JONAS.name}</at> <at>{METTE.name}</at> <at>{JONAS.name}</at>"
    activity = mentioning(mentioning(mentioning(fake.channel_message(typed), JONAS), METTE), JONAS)

    command = command_of(activity)

    assert command.text == f"fagperson {JONAS.name} {METTE.name} {JONAS.name}"
    assert command.mentions == (Actor(f"teams:{JONAS.id}", JONAS.name), Actor(f"teams:{METTE.id}", METTE.name))


def test_a_mention_entity_that_names_nobody_is_no_mention(fake: FakeTeamsApi) -> None:
    activity = mentioning(fake.channel_message(f"fagperson <at>{JONAS.name}</at>"), JONAS)
    activity["entities"] += [{"type": "mention", "text": "<at>?</at>", "mentioned": "29:1nobody"},
                             {"type": "mention", "text": "<at>?</at>", "mentioned": {"name": "Nobody"}}]

    assert command_of(activity).mentions == (Actor(f"teams:{JONAS.id}", JONAS.name),)


@pytest.mark.parametrize(("typed", "meant"), [
    ("ny Fjordly &amp; Søn", "ny Fjordly & Søn"),
    ("ny &lt;Ærø&gt; &quot;Nord&quot;", 'ny <Ærø> "Nord"'),
    ("ny Fjordly&nbsp;&nbsp;Syd", "ny Fjordly Syd"),
    ("ny <b>Fjordly</b>", "ny Fjordly"),
], ids=["ampersand", "angle brackets and quotes", "non-breaking spaces", "markup"])
def test_teams_html_is_read_back_as_the_plain_text_typed(fake: FakeTeamsApi, typed: str, meant: str) -> None:
    assert command_of(fake.channel_message(typed)).text == meant


def test_a_message_in_the_personal_chat_is_a_command_there(fake: FakeTeamsApi) -> None:
    activity = fake.personal_message("hjælp", person=JONAS)

    command = only(parse(activity))

    assert isinstance(command, Command)
    assert command.text == "hjælp"
    assert command.conversation == f"teams:{fake.personal_conversation_id(JONAS)}"
    assert command.org == TENANT_ID
    assert command.actor == Actor(f"teams:{JONAS.id}", JONAS.name)


def test_the_same_activity_twice_is_the_same_event_and_another_is_not(fake: FakeTeamsApi) -> None:
    activity = fake.channel_message("næste")
    again = only(parse(activity))
    assert only(parse(activity)).event_id == again.event_id  # Teams re-sending it: handled once
    assert only(parse(fake.channel_message("næste"))).event_id != again.event_id


def test_an_activity_from_nobody_cannot_be_read(fake: FakeTeamsApi) -> None:
    activity = fake.channel_message("ny Fjordly")
    del activity["from"]
    with pytest.raises(ValueError):
        parse(activity)


def test_the_organisation_is_the_tenant_of_each_activity(fake: FakeTeamsApi) -> None:
    other = FakeTeamsApi(tenant_id="0c0ffee0-0000-4000-8000-0000000000b2")
    assert only(parse(other.channel_message("ny Fjordly"))).org == other.tenant_id
    assert only(parse(other.personal_message("hjælp"))).org == other.tenant_id


# --- card buttons and forms -------------------------------------------------------------------


def test_a_card_button_is_an_action_with_its_args(fake: FakeTeamsApi) -> None:
    card_id = "1790000000100"
    value = {"ambition": {"action": "dot", "args": {"workshop": "w1", "level": "Mellem"}}}
    activity = fake.card_submit(value, reply_to_id=card_id, conversation_id=f"{CHANNEL};messageid={card_id}")

    action = only(parse(activity))

    assert isinstance(action, Action)
    assert (action.action, dict(action.args), action.workshop_id) == ("dot", {"workshop": "w1", "level": "Mellem"}, "w1")
    assert (action.org, action.conversation) == (TENANT_ID, PLENUM)
    assert action.actor.id == f"teams:{METTE.id}"
    assert action.event_id == f"teams:{activity['conversation']['id']}:{activity['id']}"


FORM = Form("ambition", "Ambition for målet", "Gem",
            (FormField("sentence", "Sætning", FieldKind.LONG_TEXT),
             FormField("level", "Niveau", FieldKind.CHOICES, options=(("1", "Lav"), ("2", "Høj")))),
            {"workshop": "w1", "point": "p1"})


def submitted_value(card: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """What Teams sends for the card's Action.Submit: its data with the inputs merged in."""
    [submit] = [a for a in card["actions"] if a["type"] == "Action.Submit"]
    return {**submit["data"], **inputs}


def test_a_form_card_submit_carries_its_values_and_answers_where_the_form_was_opened(
        fake: FakeTeamsApi) -> None:
    opened_in = f"teams:{GROUP_THREAD}"
    card = form_card(Form(**{**FORM.__dict__, "args": {**FORM.args, ORIGIN: opened_in}}))
    card_id = "1790000000200"
    # the submit arrives in the card's own post thread, which no workshop knows
    activity = fake.card_submit(submitted_value(card, {"sentence": "  Alle skal kunne  ", "level": "1,2"}),
                                reply_to_id=card_id, conversation_id=f"{CHANNEL};messageid={card_id}")

    form = only(parse(activity))

    assert isinstance(form, FormSubmitted)
    assert form.form == "ambition"
    assert dict(form.args) == {"workshop": "w1", "point": "p1"}  # no adapter bookkeeping left in
    assert dict(form.values) == {"sentence": "Alle skal kunne", "level": "1,2"}
    assert form.workshop_id == "w1"
    assert form.conversation == opened_in
    assert (form.org, form.actor.id) == (TENANT_ID, f"teams:{METTE.id}")


def test_a_form_naming_another_platforms_conversation_answers_where_it_was_sent(fake: FakeTeamsApi) -> None:
    """The card's data is only as trustworthy as whoever pressed it: no reaching into Slack."""
    card = form_card(Form(**{**FORM.__dict__, "args": {**FORM.args, ORIGIN: "slack:C0123"}}))
    activity = fake.card_submit(submitted_value(card, {"sentence": "x"}), reply_to_id="1790000000300",
                                conversation_id=f"{CHANNEL};messageid=1790000000300")

    form = only(parse(activity))

    assert isinstance(form, FormSubmitted) and form.conversation == PLENUM


@pytest.mark.parametrize("value", [
    {"action": "dot", "level": "Mellem"},  # another bot's card (or a hand-made one)
    {"ambition": "dot"},
    {"ambition": {"action": "", "args": {}}},
    {"ambition": {"action": "dot", "args": {"workshop": 7}}},
    {"ambition": {"action": "dot", "args": {}, "extra": "?"}},
    {},
], ids=["foreign", "no object", "no action", "args not text", "unknown keys", "empty"])
def test_a_submit_the_bot_did_not_make_cannot_be_read(fake: FakeTeamsApi, value: dict[str, Any]) -> None:
    activity = fake.card_submit(value, reply_to_id="1790000000400",
                                conversation_id=f"{CHANNEL};messageid=1790000000400")
    with pytest.raises(ValueError):
        parse(activity)


# --- people joining, and what is none of the workshop's business --------------------------------


def test_people_added_join_one_by_one_but_the_bot_itself_does_not(fake: FakeTeamsApi) -> None:
    activity = fake.bot_added()
    activity["membersAdded"] = [METTE.account(), JONAS.account()]

    joined = parse(activity)

    assert all(isinstance(event, MemberJoined) for event in joined)
    assert [event.actor for event in joined] == [Actor(f"teams:{METTE.id}", METTE.name),
                                                Actor(f"teams:{JONAS.id}", JONAS.name)]
    assert {(event.org, event.conversation) for event in joined} == {(TENANT_ID, PLENUM)}
    assert len({event.event_id for event in joined}) == 2  # each joining is its own event
    assert [event.event_id for event in parse(activity)] == [event.event_id for event in joined]


def test_the_bot_being_installed_is_no_one_joining_but_the_installer_gets_the_help(
        fake: FakeTeamsApi) -> None:
    activity = fake.bot_added(person=JONAS)
    activity["membersAdded"] = [{"id": f"28:{APP_ID}"}, METTE.account()]

    found = parse(activity)

    assert not any(isinstance(event, MemberJoined) and event.actor.id.endswith(APP_ID) for event in found)
    [welcome] = [event for event in found if isinstance(event, Command)]
    assert welcome.text == "help" and welcome.actor.id == f"teams:{JONAS.id}"  # who added the bot
    assert (welcome.org, welcome.conversation) == (TENANT_ID, PLENUM)
    [joined] = [event for event in found if isinstance(event, MemberJoined)]
    assert joined.actor.id == f"teams:{METTE.id}"
    assert len({event.event_id for event in found}) == 2
    assert [event.event_id for event in parse(activity)] == [event.event_id for event in found]


@pytest.mark.parametrize("kind", ["typing", "messageReaction", "installationUpdate", "invoke"])
def test_activities_that_are_none_of_the_workshops_business_are_nothing(
        fake: FakeTeamsApi, kind: str) -> None:
    activity = fake.channel_message("ny Fjordly")
    activity["type"] = kind
    assert parse(activity) == []
