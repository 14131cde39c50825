"""The clock: phases start with an end time, time runs out, and extend/pause/resume move it."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.model import Phase
from bot.effects import Cancel, Post, PostPrivate, Schedule, SendFile
from bot.events import Action
from tests.harness import FACILITATOR, GOAL, MEASURES, Room, actor, refusal_only, texts


def schedules(room: Room) -> list[Schedule]:
    return [e for e in room.effects if isinstance(e, Schedule)]


def test_starting_announces_the_phase_with_its_local_end_time_and_arms_a_timer() -> None:
    room = Room()
    room.set_up()
    room.press(FACILITATOR, "plenum", "start")
    announcement = next(t for t in room.posted_in("plenum") if "Fase 1 af 6" in t)
    assert "Slutter kl. 09:30 (30 min)." in announcement  # 08:00 UTC is 09:00 in Copenhagen
    marks = {e.args["mark"]: e.at - room.now for e in schedules(room)}
    assert marks == {"10": timedelta(minutes=20), "5": timedelta(minutes=25), "end": timedelta(minutes=30)}
    assert "kl. 09:30 · ca. 25 min" in next(t for t in room.posted_in("plenum") if "Sådan forløber" in t)


def test_when_time_is_up_the_groups_are_told_and_the_facilitator_chooses() -> None:
    room = Room()
    room.to_ambitions()
    *reminders, outcome = room.advance(25)
    assert len([o for o in reminders if o.effects]) == 2  # 10 and 5 minutes before; stale ones are silent
    assert "Tiden er gået" in room.posted_in("S")[-1]
    [choice] = [e for e in outcome.effects if isinstance(e, PostPrivate)]
    assert choice.user == "test:mette" and choice.conversation == "plenum"
    room.press(FACILITATOR, "plenum", "extend", minutes="5")
    assert "Den slutter nu kl. 09:30" in room.posted_in("G")[-1]
    room.press(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.AMBITIONS_PLENUM


def test_an_extension_makes_the_old_timer_harmless() -> None:
    room = Room()
    room.to_ambitions()
    room.advance(20)
    room.say(FACILITATOR, "plenum", "forlæng 10")
    ends = [e for e in schedules(room) if e.args["mark"] == "end"]
    stale, fresh = ends[-2:]
    assert fresh.at == stale.at + timedelta(minutes=10)
    # The old timers of phases 1 and 2 pass: they fire, late or twice, and do nothing; the
    # moved reminders (10 and 5 minutes before the new end) remind.
    fired = room.advance(14)
    stale_ones = [o for o in fired if o.effects == ()]
    reminders = [o for o in fired if o.effects]
    assert len(stale_ones) >= 2 and len(reminders) == 2
    assert all("minutter tilbage" in texts(e.message) for o in reminders for e in o.effects
               if isinstance(e, Post))
    [end] = room.advance(1)
    told = {e.conversation for e in end.effects}
    assert told == {"E", "S", "G", "plenum"} and len(end.effects) == 4


def test_extend_takes_a_sensible_number_of_minutes() -> None:
    room = Room()
    room.to_ambitions()
    for text in ("extend", "extend abc", "extend 0", "extend 500", "extend -5"):
        assert "helt tal fra 1 til 60" in refusal_only(room.say(FACILITATOR, "plenum", text), FACILITATOR)
    assert "kun tovholderen" in refusal_only(room.say("Hanne", "S", "extend 5"), "Hanne").lower()


def test_a_pause_stops_the_clock_and_resume_moves_the_end_by_the_pause() -> None:
    room = Room()
    room.to_ambitions()
    end = room.ws.phase_ends_at
    room.advance(10)
    room.say(FACILITATOR, "plenum", "pause")
    assert any(isinstance(e, Cancel) for e in room.last.effects)
    assert "allerede sat på pause" in refusal_only(room.say(FACILITATOR, "plenum", "pause"), FACILITATOR)
    assert all(o.effects == () for o in room.advance(30))  # nothing fires into a paused phase
    room.say(FACILITATOR, "plenum", "fortsæt")
    assert room.ws.phase_ends_at == end + timedelta(minutes=30)
    assert "Fasen slutter kl. 09:55" in room.posted_in("plenum")[-1]
    assert "kører allerede" in refusal_only(room.say(FACILITATOR, "plenum", "resume"), FACILITATOR)


def test_an_old_time_up_button_cannot_skip_the_next_phase() -> None:
    room = Room()
    room.to_ambitions()
    room.advance(25)
    old_next = room.button(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    outcome = room.send(Action(event_id="old", org=room.org, conversation="plenum", actor=actor(FACILITATOR),
                               workshop_id=room.ws.id, action="next", args=dict(old_next.args)))
    assert "fase, der er slut" in refusal_only(outcome, FACILITATOR)
    assert room.ws.phase == Phase.AMBITIONS_PLENUM


def test_the_break_can_be_switched_off() -> None:
    room = Room()
    room.to_ambitions(break_minutes=0)
    assert "Pause" not in next(t for t in room.posted_in("plenum") if "Sådan forløber" in t)
    room.say(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.SMART_GOALS


def test_the_whole_day_ends_with_the_plan_and_a_log_of_actual_times() -> None:
    room = Room()
    room.to_smart_goals()
    room.add_goal("Anders", "E", "E-energi")
    room.say(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.WRAP_UP
    refused = refusal_only(room.say(FACILITATOR, "plenum", "next"), FACILITATOR)
    assert "»Energiforbrug i boligerne«, mål 1, mangler en ansvarlig" in refused
    room.press(FACILITATOR, "plenum", "set_owner")
    room.fill(FACILITATOR, {"owner": "carsten", "next_step": "Bestil energimærker"})
    [goal] = room.ws.goals.values()
    assert (goal.owner, goal.owner_id) == ("Carsten", actor("Carsten").id)  # linked to the person
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.FOLLOW_UP
    plan = next(t for t in room.posted_in("plenum") if "Handlingsplan – Boligselskabet Fjordly" in t)
    assert GOAL["text"] in plan and "Bestil energimærker" in plan
    [workbook] = [e for e in room.last.effects if isinstance(e, SendFile)]  # and the Excel file
    assert (workbook.conversation, workbook.workshop_id) == ("plenum", room.ws.id)
    phases = [run.phase for run in room.ws.phase_log]
    assert phases == [Phase.INTRO, Phase.AMBITIONS, Phase.AMBITIONS_PLENUM, Phase.BREAK,
                      Phase.SMART_GOALS, Phase.GOALS_PLENUM, Phase.WRAP_UP]
    assert all(run.ended_at for run in room.ws.phase_log)
    assert any(isinstance(e, Cancel) for e in room.last.effects)  # no clock after the day
    assert "slut" in refusal_only(room.say(FACILITATOR, "plenum", "next"), FACILITATOR)
    assert len(room.ws.measures) == len(MEASURES)


def test_the_facilitator_gets_the_plan_file_on_request_and_others_do_not() -> None:
    room = Room()
    room.to_smart_goals()
    asked = room.say(FACILITATOR, "E", "handlingsplan")
    assert [(e.conversation, e.workshop_id) for e in asked.effects if isinstance(e, SendFile)] == \
        [("E", room.ws.id)]
    refused = room.say("Anders", "E", "plan")
    assert not any(isinstance(e, SendFile) for e in refused.effects)
    assert "tovholderen" in refusal_only(refused, "Anders")
