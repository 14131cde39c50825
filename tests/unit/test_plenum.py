"""Phase 3 in the plenum: agree, send back, revise, comment."""

from __future__ import annotations

from bot.domain.model import AmbitionStatus
from tests.harness import FACILITATOR, Room, refusal_only, texts


def in_plenum() -> Room:
    room = Room()
    room.to_ambitions()
    room.write_ambition("Hanne", "S", "S-tilfredshed", "Beboerne skal trives.")
    room.write_ambition("Maja", "G", "G-indkoeb", "Vi følger loven.", level="minimum")
    room.say(FACILITATOR, "plenum", "next")
    return room


def test_each_groups_ambitions_are_presented_with_their_dots() -> None:
    room = in_plenum()
    cards = room.posted_in("plenum")
    s_card = next(c for c in cards if "Beboernes tilfredshed" in c and "Status" in c)
    assert "Gruppe S (Sociale forhold)" in s_card and "Beboerne skal trives." in s_card
    assert "Afventer enighed i plenum" in s_card


def test_only_the_facilitator_decides_and_only_on_written_ambitions() -> None:
    room = in_plenum()
    assert "kun tovholderen" in refusal_only(room.act("Hanne", "plenum", "agree", m="S-tilfredshed"),
                                             "Hanne").lower()
    missing = refusal_only(room.press(FACILITATOR, "plenum", "agree", m="E-energi"), FACILITATOR)
    assert "ikke skrevet en ambitionssætning" in missing
    room.press(FACILITATOR, "plenum", "agree", m="S-tilfredshed")
    assert room.ws.ambitions["S-tilfredshed"].status == AmbitionStatus.AGREED
    assert "✓ Vedtaget i plenum" in room.posted_in("plenum")[-1]


def test_sent_back_the_group_revises_and_the_plenum_agrees() -> None:
    room = in_plenum()
    room.press(FACILITATOR, "plenum", "send_back", m="G-indkoeb")
    room.fill(FACILITATOR, {"reason": "Minimum er for lidt."})
    ambition = room.ws.ambitions["G-indkoeb"]
    assert ambition.status == AmbitionStatus.SENT_BACK and ambition.note == "Minimum er for lidt."
    notice = room.posted_in("G")[-1]
    assert "Minimum er for lidt." in notice
    assert "plenum" in refusal_only(room.act("Hanne", "S", "edit_ambition", m="S-tilfredshed"),
                                    "Hanne").lower()  # only what was sent back can be rewritten
    room.press("Niels", "G", "edit_ambition", m="G-indkoeb")
    room.fill("Niels", {"level": "medium", "sentence": "Klare krav i alle store udbud."})
    revised = room.ws.ambitions["G-indkoeb"]
    assert (revised.status, revised.level, revised.note) == (AmbitionStatus.DRAFT, "medium", "")
    room.press(FACILITATOR, "plenum", "agree", m="G-indkoeb")
    assert room.ws.ambitions["G-indkoeb"].status == AmbitionStatus.AGREED


def test_anyone_can_comment_and_the_text_is_kept_exactly() -> None:
    room = in_plenum()
    room.press("Pia", "plenum", "comment", m="S-tilfredshed")
    assert room.fill("Pia", {"text": ""}).form_errors["text"]
    room.fill("Pia", {"text": "Husk de nye afdelinger <!channel> @everyone"})
    [comment] = room.ws.comments.values()
    assert comment.text == "Husk de nye afdelinger <!channel> @everyone"
    assert "Pia: Husk de nye afdelinger <!channel> @everyone" in texts(room.last.effects[0].message)
