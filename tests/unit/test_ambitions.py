"""Phase 2 in the groups: dots that can be moved and taken back, and one sentence per målepunkt."""

from __future__ import annotations

import pytest

from bot.domain.model import Level, Phase
from bot.effects import Update
from tests.harness import FACILITATOR, Room, actor, refusal_only, texts


def dots(room: Room, measure: str) -> dict[str, int]:
    counts = {lv.value: 0 for lv in Level}
    for vote in room.ws.votes.values():
        if vote.measure_id == measure:
            counts[vote.level] += 1
    return counts


def test_a_dot_updates_the_card_in_place_and_can_be_moved_or_taken_back() -> None:
    room = Room()
    room.to_ambitions()
    outcome = room.press("Hanne", "S", "vote", m="S-tilfredshed", level="medium")
    [update] = outcome.effects
    assert isinstance(update, Update) and update.key == "vote:S-tilfredshed" and update.conversation == "S"
    assert "Mellem · 1" in texts(update.message) and "1 af 6 har sat en prik" in texts(update.message)
    room.press("Hanne", "S", "vote", m="S-tilfredshed", level="ambitious")
    assert dots(room, "S-tilfredshed") == {"minimum": 0, "medium": 0, "ambitious": 1}
    room.press("Hanne", "S", "vote", m="S-tilfredshed", level="ambitious")
    assert dots(room, "S-tilfredshed") == {"minimum": 0, "medium": 0, "ambitious": 0}


def test_only_the_groups_own_members_place_dots() -> None:
    room = Room()
    room.to_ambitions()
    before = room.ws
    other = refusal_only(room.act("Hanne", "G", "vote", m="G-indkoeb", level="minimum"), "Hanne")
    assert "Gruppe S (Sociale forhold)" in other and "Gruppe G (Governance)" in other
    assert "ikke med i en gruppe" in refusal_only(
        room.act(FACILITATOR, "G", "vote", m="G-indkoeb", level="minimum"), FACILITATOR)
    assert room.ws is before


def test_a_button_from_an_earlier_phase_is_refused() -> None:
    room = Room()
    room.to_ambitions()
    stale = room.button("Hanne", "S", "vote", m="S-tilfredshed", level="medium")
    room.write_ambition("Hanne", "S", "S-tilfredshed", "Beboerne skal trives.")
    room.say(FACILITATOR, "plenum", "next")
    before = room.ws
    from bot.events import Action

    outcome = room.send(Action(event_id="late", org=room.org, conversation="S", actor=actor("Hanne"),
                               workshop_id=room.ws.id, action="vote", args=dict(stale.args)))
    assert "fase, der er slut" in refusal_only(outcome, "Hanne")
    assert room.ws is before


def test_the_sentence_form_starts_from_the_leading_dot_and_checks_the_text() -> None:
    room = Room()
    room.to_ambitions()
    for name, level in (("Hanne", "ambitious"), ("Ib", "ambitious"), ("Jonas", "medium")):
        room.press(name, "S", "vote", m="S-tilfredshed", level=level)
    room.press("Karen", "S", "edit_ambition", m="S-tilfredshed")
    level = next(f for f in room.form("Karen").form.fields if f.name == "level")
    assert level.value == "ambitious"
    assert room.fill("Karen", {"sentence": " \t "}).form_errors["sentence"] == "Udfyld venligst feltet."
    too_long = room.fill("Karen", {"sentence": "x" * 10_000}).form_errors["sentence"]
    assert "10000 tegn" in too_long and "280" in too_long
    assert "S-tilfredshed" not in room.ws.ambitions
    room.fill("Karen", {"sentence": "Beboerne skal trives\x00 og føle sig hørt."})
    ambition = room.ws.ambitions["S-tilfredshed"]
    assert ambition.sentence == "Beboerne skal trives og føle sig hørt." and ambition.level == "ambitious"
    assert (ambition.updated_by, ambition.updated_at) == (actor("Karen").id, room.now)


def test_two_people_editing_one_sentence_never_overwrite_each_other() -> None:
    room = Room()
    room.to_ambitions()
    room.press("Hanne", "S", "edit_ambition", m="S-tilfredshed")
    room.press("Ib", "S", "edit_ambition", m="S-tilfredshed")
    room.fill("Hanne", {"sentence": "Hannes sætning.", "level": "medium"})
    refused = refusal_only(room.fill("Ib", {"sentence": "Ibs sætning.", "level": "medium"}), "Ib")
    assert "Hanne har ændret" in refused and "Ibs sætning." in refused  # nothing Ib typed is lost
    assert room.ws.ambitions["S-tilfredshed"].sentence == "Hannes sætning."
    room.press("Ib", "S", "edit_ambition", m="S-tilfredshed")
    room.fill("Ib", {"sentence": "Ibs sætning.", "level": "medium"})
    assert room.ws.ambitions["S-tilfredshed"].sentence == "Ibs sætning."
    assert room.ws.ambitions["S-tilfredshed"].version == 2


def test_sentences_cannot_be_written_once_the_plenum_has_started() -> None:
    room = Room()
    room.to_ambitions()
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.AMBITIONS_PLENUM
    refused = room.act("Hanne", "S", "edit_ambition", m="S-tilfredshed")
    assert "Plenum: enighed" in refusal_only(refused, "Hanne")


@pytest.mark.parametrize(("language", "words"), [("da", "Tryk på knappen igen"),
                                                  ("en", "press the button again")])
def test_a_form_says_in_the_workshops_language_what_to_do_if_it_cannot_open(
        language: str, words: str) -> None:
    room = Room(language=language)
    room.to_ambitions()
    room.press("Karen", "S", "edit_ambition", m="S-tilfredshed")
    assert words in room.form("Karen").form.expired
