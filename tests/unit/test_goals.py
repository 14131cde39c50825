"""Phase 4: SMART goals per målepunkt, checked as they are written; at most three."""

from __future__ import annotations

from bot.domain.model import Phase
from tests.harness import FACILITATOR, GOAL, Room, actor, refusal_only


def goal_card(room: Room) -> str:
    return next(text for text in reversed(room.posted_in("E")) if "SMART-mål 1" in text)


def test_a_goal_is_posted_with_concrete_feedback_per_criterion() -> None:
    room = Room()
    room.to_smart_goals()
    room.add_goal("Anders", "E", "E-energi", {"text": "Mindre energi", "indicator": "", "baseline": "",
                                               "target": "", "deadline": ""})
    card = goal_card(room)
    assert "Specifikt: ✗ Målet er for kort (2 ord)" in card
    assert "Målbart: ✗ Der mangler en indikator" in card
    assert "Tidsbestemt: ✗ Der mangler en frist" in card
    assert "Realistisk: ✗ Angiv udgangspunktet" in card
    assert "(SMART 0/5)" in room.posted_in("E")[-1]


def test_backing_from_another_member_makes_the_goal_accepted() -> None:
    room = Room()
    room.to_smart_goals()
    room.add_goal("Anders", "E", "E-energi")
    assert "Attraktivt/Accepteret: ✗" in goal_card(room)
    room.press("Anders", "E", "support_goal")  # the author's own backing is not enough
    assert "Attraktivt/Accepteret: ✗" in goal_card(room)
    room.press("Birgitte", "E", "support_goal")
    assert "Attraktivt/Accepteret: ✓ opfyldt" in goal_card(room)
    assert "(SMART 5/5)" in room.posted_in("E")[-1]
    room.press("Birgitte", "E", "support_goal")  # pressing again withdraws it
    assert room.ws.goals[next(iter(room.ws.goals))].supporters == (actor("Anders").id,)


def test_impossible_and_past_deadlines_are_refused_on_the_form() -> None:
    room = Room()
    room.to_smart_goals()
    bad = room.add_goal("Anders", "E", "E-energi", {**GOAL, "deadline": "31/02/2027"})
    assert "»31/02/2027« er ikke en gyldig dato" in bad.form_errors["deadline"]
    past = room.fill("Anders", {"deadline": "01-01-2020"})
    assert "overskredet" in past.form_errors["deadline"]
    assert room.ws.goals == {}
    room.fill("Anders", {"deadline": "2028-12-31"})
    [goal] = room.ws.goals.values()
    assert goal.deadline.isoformat() == "2028-12-31" and goal.author == actor("Anders").id


def test_a_fourth_goal_is_refused_with_a_reason() -> None:
    room = Room()
    room.to_smart_goals()
    for number in range(3):
        room.add_goal("Hanne", "S", "S-udsaettelser", {**GOAL, "text": f"Mål nummer {number} med mange ord"})
    refused = refusal_only(room.act("Ib", "S", "add_goal", m="S-udsaettelser"), "Ib")
    assert "allerede 3 SMART-mål" in refused
    assert len(room.ws.goals) == 3


def test_a_goal_form_opened_before_the_third_goal_cannot_add_a_fourth() -> None:
    room = Room()
    room.to_smart_goals()
    for number in range(2):
        room.add_goal("Hanne", "S", "S-udsaettelser", {**GOAL, "text": f"Mål {number} med rigtig mange ord"})
    room.press("Ib", "S", "add_goal", m="S-udsaettelser")  # Ib opens a form while there is room
    room.add_goal("Hanne", "S", "S-udsaettelser", {**GOAL, "text": "Det tredje mål med mange ord"})
    refused = refusal_only(room.fill("Ib", {**GOAL, "text": "Ibs fjerde mål"}), "Ib")
    assert "allerede 3 SMART-mål" in refused and "Ibs fjerde mål" in refused
    assert len(room.ws.goals) == 3


def test_in_the_plenum_the_facilitator_adjusts_a_goal() -> None:
    room = Room()
    room.to_smart_goals()
    room.add_goal("Anders", "E", "E-energi")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.GOALS_PLENUM
    refused = refusal_only(room.act("Hanne", "plenum", "edit_goal", goal=next(iter(room.ws.goals))),
                           "Hanne")
    assert "Du er med i Gruppe S" in refused and "Gruppe E" in refused
    room.press(FACILITATOR, "plenum", "edit_goal")
    room.fill(FACILITATOR, {"target": "100 kWh/m²"})
    [goal] = room.ws.goals.values()
    assert goal.target == "100 kWh/m²" and goal.updated_by == actor(FACILITATOR).id
    assert "100 kWh/m²" in room.posted_in("plenum")[-1]
