"""Splitting participants into E, S and G: the balanced proposal, subgroups, moves, late arrivals."""

from __future__ import annotations

from collections import Counter

from bot.domain.groups import members_of, propose_split
from bot.domain.model import Member, Phase
from bot.effects import Invite
from tests.harness import FACILITATOR, Room, actor, refusal_only


def people(*interests: str) -> list[Member]:
    return [Member(id=f"p{i}", name=f"P{i:02}", participant=True, interest=interest)
            for i, interest in enumerate(interests)]


def test_the_proposal_is_balanced_and_honours_interests_where_it_can() -> None:
    everyone = people(*"EEEEEEEEE", "S", "", "", "")  # nine want E, 13 people in all
    placed = propose_split(everyone)
    sizes = Counter(placed.values())
    assert max(sizes.values()) - min(sizes.values()) <= 1
    assert sizes["E"] == 5  # the most wanted area gets the extra person
    assert placed["p9"] == "S"
    assert sum(placed[p.id] == "E" for p in everyone[:9]) == 5


def test_nobody_is_left_out_when_nobody_states_an_interest() -> None:
    placed = propose_split(people(*[""] * 8))
    assert len(placed) == 8 and sorted(Counter(placed.values()).values()) == [2, 3, 3]


def test_facilitator_proposes_and_approves_and_groups_are_welcomed_in_their_channels() -> None:
    room = Room()
    room.to_intro()
    refused = room.act("Anders", "plenum", "propose_split")
    assert "kun tovholderen" in refusal_only(refused, "Anders").lower()
    room.press(FACILITATOR, "plenum", "propose_split")
    assert [len(members_of(room.ws, g)) for g in "ESG"] == [7, 6, 6]
    assert "del E" in room.posted_in("plenum")[-1]  # E is big enough to split
    room.press(FACILITATOR, "plenum", "approve_split")
    assert room.ws.split_approved
    welcome_s = room.posted_in("S")[-1]
    assert "Hanne" in welcome_s and "Beboernes tilfredshed" in welcome_s


def test_group_work_cannot_start_before_the_split_is_approved() -> None:
    room = Room()
    room.to_intro()
    refused = refusal_only(room.say(FACILITATOR, "plenum", "next"), FACILITATOR)
    assert "ikke godkendt" in refused
    assert room.ws.phase == Phase.INTRO


def test_a_group_of_seven_splits_into_two_subgroups_that_divide_its_measures() -> None:
    room = Room()
    room.to_intro()
    room.press(FACILITATOR, "plenum", "propose_split")
    assert "flere end 6" in refusal_only(room.say(FACILITATOR, "plenum", "split S"), FACILITATOR)
    room.say(FACILITATOR, "plenum", "del E")
    assert [len(members_of(room.ws, g)) for g in ("E1", "E2")] == [4, 3]
    assert room.ws.measures["E-energi"].group == "E1" and room.ws.measures["E-co2"].group == "E2"
    assert room.ws.conversations["E"].group == "E1"
    room.press(FACILITATOR, "plenum", "approve_split")
    refused = refusal_only(room.say(FACILITATOR, "plenum", "next"), FACILITATOR)
    assert "Gruppe E2 har ingen kanal" in refused
    room.say(FACILITATOR, "E2", "group E2")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.AMBITIONS
    assert any("CO2-udledning" in text for text in room.posted_in("E2"))


def test_moving_people_by_name() -> None:
    room = Room()
    room.to_intro()
    room.press(FACILITATOR, "plenum", "propose_split")
    room.say(FACILITATOR, "plenum", "flyt anders S")
    assert room.ws.members[actor("Anders").id].group == "S"
    assert "»Zoe«" in refusal_only(room.say(FACILITATOR, "plenum", "move Zoe S"), FACILITATOR)
    assert "Maja og Mette" in refusal_only(room.say(FACILITATOR, "plenum", "move M S"), FACILITATOR)
    assert "»X«" in refusal_only(room.say(FACILITATOR, "plenum", "move Maja X"), FACILITATOR)


def test_someone_arriving_after_the_split_joins_the_smallest_group_of_their_choice() -> None:
    room = Room()
    room.to_intro()
    room.press(FACILITATOR, "plenum", "propose_split")
    room.press(FACILITATOR, "plenum", "approve_split")
    room.say("Zoe", "plenum", "join G")
    assert room.ws.members[actor("Zoe").id].group == "G"
    assert "Gruppe G" in room.last_private("Zoe")
    room.joined("Yusuf", "S")
    assert room.ws.members[actor("Yusuf").id].group == "S"


def test_someone_choosing_a_group_after_the_proposal_is_placed_when_it_is_approved() -> None:
    room = Room()
    room.to_intro()
    room.press(FACILITATOR, "plenum", "propose_split")
    room.press("Zoe", "plenum", "interest", area="S")
    assert "Endnu ikke fordelt: Zoe" in room.posted_in("plenum")[-1]
    room.press(FACILITATOR, "plenum", "approve_split")
    assert room.ws.members[actor("Zoe").id].group == "S"
    assert "Zoe" in room.posted_in("S")[-1]


def test_when_the_split_is_approved_each_groups_people_are_invited_to_its_channel() -> None:
    room = Room()
    room.to_intro()
    room.press(FACILITATOR, "plenum", "propose_split")
    approved = room.press(FACILITATOR, "plenum", "approve_split")
    invites = {e.conversation: set(e.users) for e in approved.effects if isinstance(e, Invite)}
    assert invites == {code: {m.id for m in members_of(room.ws, code)} for code in ("E", "S", "G")}
    assert actor("Hanne").id in invites["S"]
