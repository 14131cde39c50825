"""Before the day: creating the workshop, choosing målepunkter, binding channels, the agenda."""

from __future__ import annotations

from bot.domain.model import PLENUM, Phase
from bot.effects import CreateConversation, Post, PostPrivate, Update
from tests.harness import FACILITATOR, Room, refusal_only, texts


def test_new_workshop_makes_the_channel_the_plenum_and_its_creator_the_facilitator() -> None:
    room = Room()
    room.say(FACILITATOR, "plenum", "ny Boligselskabet Fjordly")
    ws = room.ws
    assert ws is not None and ws.title == "Boligselskabet Fjordly"
    assert ws.facilitators == ("test:mette",)
    assert ws.conversations["plenum"].group == PLENUM
    assert sorted(ws.groups) == ["E", "G", "S"]
    setup = [e for e in room.effects if isinstance(e, Post) and e.key == "setup"]
    assert setup and "Boligselskabet Fjordly" in texts(setup[0].message)
    assert ws.id in room.last_private(FACILITATOR)


def test_new_needs_a_name_and_a_free_channel() -> None:
    room = Room()
    assert "organisationens navn" in refusal_only(room.say(FACILITATOR, "plenum", "new"), FACILITATOR)
    assert room.ws is None
    room.say(FACILITATOR, "plenum", "new Fjordly")
    again = room.say("Anna", "plenum", "new Someone else")
    assert "allerede en workshop" in refusal_only(again, "Anna")
    assert room.ws.title == "Fjordly"


def test_more_than_nine_measures_is_refused_on_the_form_and_changes_nothing() -> None:
    room = Room()
    room.say(FACILITATOR, "plenum", "new Fjordly")
    room.press(FACILITATOR, "plenum", "setup_measures")
    before = room.ws
    outcome = room.fill(FACILITATOR, {"measures": ",".join(
        ["E-energi", "E-co2", "E-vand", "E-affald", "S-tilfredshed", "S-udsaettelser",
         "S-beboerdemokrati", "S-tryghed", "G-kompetencer", "G-indkoeb"])})
    assert "højst være 9" in outcome.form_errors["measures"]
    assert outcome.effects == () and room.ws is before


def test_chosen_measures_are_copied_in_the_workshops_language_and_can_be_changed() -> None:
    room = Room(language="en")
    room.set_up(["E-energi", "S-tilfredshed"])
    assert room.ws.measures["E-energi"].name == "Energy consumption in the homes"
    assert room.ws.measures["E-energi"].group == "E"
    room.press(FACILITATOR, "plenum", "setup_measures")
    room.fill(FACILITATOR, {"measures": "S-tilfredshed,G-indkoeb"})
    assert sorted(room.ws.measures) == ["G-indkoeb", "S-tilfredshed"]
    assert [m.position for m in sorted(room.ws.measures.values(), key=lambda m: m.id)] == [2, 1]


def test_details_form_rejects_an_impossible_date_and_switches_language() -> None:
    room = Room()
    room.say(FACILITATOR, "plenum", "new Fjordly")
    room.press(FACILITATOR, "plenum", "setup_details")
    bad = room.fill(FACILITATOR, {"date": "31/02/2027"})
    assert "31/02/2027" in bad.form_errors["date"] and "gyldig dato" in bad.form_errors["date"]
    room.fill(FACILITATOR, {"date": "15-01-2027", "language": "en", "mandate": "The board decides."})
    assert room.ws.date.isoformat() == "2027-01-15" and room.ws.language == "en"
    assert "Only the facilitator" in refusal_only(room.say("Anna", "plenum", "start"), "Anna")


def test_only_the_facilitator_binds_group_channels_and_never_the_plenum() -> None:
    room = Room()
    room.say(FACILITATOR, "plenum", "new Fjordly")
    assert "tovholderen" in refusal_only(room.say("Anna", "E", "group E"), "Anna")
    assert "plenum" in refusal_only(room.say(FACILITATOR, "plenum", "group E"), FACILITATOR)
    assert "»X«" in refusal_only(room.say(FACILITATOR, "E", "group X"), FACILITATOR)
    room.say(FACILITATOR, "E", "gruppe e")
    assert room.ws.conversations["E"].group == "E"
    room.say(FACILITATOR, "E-new", "group E")  # moving the group to another channel
    assert "E" not in room.ws.conversations and room.ws.conversations["E-new"].group == "E"


def test_start_needs_measures_and_a_facilitator() -> None:
    room = Room()
    room.say(FACILITATOR, "plenum", "new Fjordly")
    assert "målepunkterne" in refusal_only(room.press(FACILITATOR, "plenum", "start"), FACILITATOR)
    room.set_up()
    before = room.ws
    refused = room.say("Jonas", "plenum", "start")
    assert "kun tovholderen" in refusal_only(refused, "Jonas").lower()
    assert room.ws is before and room.ws.phase == Phase.SETUP


def test_agenda_minutes_are_checked_and_a_zero_break_is_skipped() -> None:
    room = Room()
    room.set_up()
    room.press(FACILITATOR, "plenum", "setup_agenda")
    bad = room.fill(FACILITATOR, {"intro": "0", "ambitions": "lots"})
    assert set(bad.form_errors) == {"intro", "ambitions"}
    room.fill(FACILITATOR, {"break": "0", "intro": "20", "ambitions": "25"})
    assert room.ws.durations["break"] == 0 and room.ws.durations["intro"] == 20


def test_a_workshop_is_invisible_from_another_organisation() -> None:
    room = Room()
    room.set_up()
    before = room.ws
    room.org = "another-org"
    outcome = room.press(FACILITATOR, "plenum", "start")
    assert isinstance(outcome.effects[0], PostPrivate)
    assert "ingen ambitionsworkshop" in refusal_only(outcome, FACILITATOR)
    assert room.ws is before


def test_the_bot_can_make_the_group_channels_and_binds_each_to_its_group() -> None:
    room = Room()
    room.say(FACILITATOR, "plenum", "new Boligselskabet Fjordly")
    room.say(FACILITATOR, "E", "group E")  # one channel exists already

    made = room.press(FACILITATOR, "plenum", "create_channels")

    wanted = [e for e in made.effects if isinstance(e, CreateConversation)]
    assert [(e.group, e.name) for e in wanted] == [("S", "boligselskabet-fjordly-gruppe-s"),
                                                   ("G", "boligselskabet-fjordly-gruppe-g")]
    assert all(e.requested_by == "test:mette" and e.workshop_id == room.ws.id for e in wanted)
    assert "Kanalerne til gruppe S og G oprettes nu" in room.last_private(FACILITATOR)
    for effect in wanted:  # what the platform reports back once it made them
        room.say(FACILITATOR, f"new-{effect.group}", f"group {effect.group}")
    assert {c.group for c in room.ws.conversations.values()} == {"", "E", "S", "G"}
    card = [e for e in room.effects if isinstance(e, (Post, Update)) and e.key == "setup"][-1]
    assert "Opret gruppekanaler" not in texts(card.message)  # nothing left to make


def test_only_the_facilitator_makes_channels_and_only_those_missing() -> None:
    room = Room()
    room.set_up()  # every group has its channel
    assert "kun tovholderen" in refusal_only(room.act("Hanne", "plenum", "create_channels"), "Hanne").lower()
    assert "allerede en kanal" in refusal_only(room.act(FACILITATOR, "plenum", "create_channels"),
                                               FACILITATOR)
