"""Typed commands: both languages' words, help and status for each role, unknown words."""

from __future__ import annotations

from bot.engine import COMMANDS, parse
from bot.i18n import catalog
from tests.harness import FACILITATOR, Room, refusal_only


def test_every_command_has_a_danish_and_an_english_word_and_they_never_clash() -> None:
    words = {}
    for language in ("da", "en"):
        for name in COMMANDS:
            word = catalog(language)[f"command.{name}"]
            assert words.setdefault(word, name) == name, f"{word!r} means two commands"
            assert parse(f"{word.upper()} 5") == (name, ["5"])


def test_danish_words_work_in_an_english_workshop_and_the_other_way_round() -> None:
    room = Room(language="en")
    room.to_ambitions()
    room.say(FACILITATOR, "plenum", "forlæng 5")
    assert "extended by 5 minutes" in room.posted_in("plenum")[-1]


def test_an_unknown_word_gets_a_hint_to_help_and_changes_nothing() -> None:
    room = Room()
    room.set_up()
    before = room.ws
    assert "»hej«" in refusal_only(room.say("Ib", "plenum", "hej du"), "Ib")
    assert room.ws is before


def test_help_shows_participants_only_what_they_can_use() -> None:
    room = Room()
    room.set_up()
    participant = refusal_only(room.say("Ib", "plenum", "hjælp"), "Ib")
    facilitator = refusal_only(room.say(FACILITATOR, "plenum", ""), FACILITATOR)  # empty text: help
    assert "status" in participant and "næste" not in participant
    assert "næste" in facilitator and "forlæng <minutter>" in facilitator


def test_status_tells_the_phase_time_left_and_each_groups_progress() -> None:
    room = Room()
    room.to_ambitions()
    room.write_ambition("Hanne", "S", "S-tilfredshed", "Beboerne skal trives.")
    room.advance(10)
    status = refusal_only(room.say("Ib", "S", "status"), "Ib")
    assert "Fase 2 af 6" in status and "slutter kl. 09:25 (om 15 min)" in status
    assert "1/2 Gruppe S (Sociale forhold): ambitionssætninger" in status
    assert "0/2 Gruppe G (Governance): ambitionssætninger" in status


def test_a_channel_without_a_workshop_says_how_to_start_one() -> None:
    room = Room()
    assert "ny <organisationens navn>" in refusal_only(room.say("Ib", "random", "status"), "Ib")
    room.set_up()
    assert "ny <organisationens navn>" in refusal_only(room.say("Ib", "random", "status"), "Ib")
