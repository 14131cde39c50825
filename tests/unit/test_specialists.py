"""Before the workshop: specialists who cannot come are asked for their input on målepunkter,
reminded once, and their answers reach the group that works on the målepunkt, and the plan."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

from openpyxl import load_workbook

from bot.effects import Cancel, Direct, Effect, Schedule, Update
from bot.events import timer_fired
from bot.i18n import Translator
from bot.plan.workbook import build_workbook
from tests.harness import FACILITATOR, Room, actor, texts

SITUATION = "Vi har energimærker for 40 % af boligerne; resten mangler."
WORKSHOP_DAY = "10-12-2026"  # a Thursday; START is Friday 27 November 2026


def directs_to(effects: list[Effect], name: str) -> list[str]:
    return [texts(e.message) for e in effects if isinstance(e, Direct) and e.user == actor(name).id]


def planned() -> Room:
    room = Room()
    room.set_up()
    room.press(FACILITATOR, "plenum", "setup_details")
    room.fill(FACILITATOR, {"date": WORKSHOP_DAY})
    return room


def asked(measures: str = "E-energi,S-tilfredshed") -> Room:
    room = planned()
    room.say(FACILITATOR, "plenum", "fagperson", mentions=["Hans"])
    assert room.form(FACILITATOR).form.form == "specialist", room.replies()
    room.fill(FACILITATOR, {"measures": measures})
    return room


def request_id(room: Room, measure: str) -> str:
    return next(s.id for s in room.ws.specialists.values() if s.measure_id == measure)


def answer(room: Room, measure: str, values: dict[str, str], name: str = "Hans") -> None:
    room.act(name, "dm", "specialist_answer", request=request_id(room, measure))
    room.fill(name, values)


def test_a_named_specialist_is_asked_in_their_own_chat_for_each_målepunkt_by_the_day_before() -> None:
    room = asked()

    to_hans = directs_to(room.effects, "Hans")
    assert len(to_hans) == 2
    energy, satisfaction = room.ws.measures["E-energi"].name, room.ws.measures["S-tilfredshed"].name
    assert energy in to_hans[0] and satisfaction in to_hans[1]
    assert all("09.12.2026" in text and "Giv dit input" in text for text in to_hans)
    assert "Hans er bedt om input" in room.last_private(FACILITATOR)
    room.say(FACILITATOR, "plenum", "status")
    assert "Fagpersoners input: 0 af 2 givet" in room.last_private(FACILITATOR)
    # one reminder each: 09:00 in Copenhagen on the working day before the deadline
    reminders = [e for e in room.effects if isinstance(e, Schedule) and ":specialist:" in e.timer]
    assert {r.at for r in reminders} == {datetime(2026, 12, 8, 8, 0, tzinfo=UTC)}
    assert len(reminders) == 2


def test_only_the_facilitator_names_specialists_and_only_by_mentioning_one() -> None:
    room = planned()
    before = room.ws

    room.say("Anders", "plenum", "fagperson", mentions=["Hans"])
    assert "kun tovholderen" in room.replies()
    room.say(FACILITATOR, "plenum", "fagperson Hans")
    assert "Nævn fagpersonen med @" in room.replies()
    room.say(FACILITATOR, "plenum", "fagperson", mentions=["Hans", "Grete"])
    assert "én fagperson ad gangen" in room.replies()
    assert room.ws == before
    assert directs_to(room.effects, "Hans") == []


def test_a_deadline_in_the_past_or_no_målepunkt_is_refused_on_the_form() -> None:
    room = planned()
    room.say(FACILITATOR, "plenum", "fagperson", mentions=["Hans"])

    refused = room.fill(FACILITATOR, {"measures": "", "deadline": "01-11-2026"})

    assert set(refused.form_errors) == {"measures", "deadline"}
    assert room.ws.specialists == {} and directs_to(room.effects, "Hans") == []


def test_the_answer_is_kept_and_shown_to_the_group_when_it_starts_on_the_målepunkt() -> None:
    room = asked()
    answer(room, "E-energi", {"situation": SITUATION, "pitfalls": "Beboerne skal høres først."})

    given = room.ws.specialists[request_id(room, "E-energi")]
    assert given.situation == SITUATION and given.answered_at == room.now
    [card] = [e for e in room.last.effects if isinstance(e, Update) and e.key == f"specialist:{given.id}"]
    assert "Tak for dit input" in texts(card.message) and SITUATION in texts(card.message)
    assert Cancel(f"{room.ws.id}:specialist:{given.id}") in room.last.effects  # no reminder now
    assert not any(SITUATION in text for text in room.posted_in("E"))  # not before the group work

    room.start()
    room.group_work()

    shown = [text for text in room.posted_in("E") if "Input fra fagperson Hans" in text]
    assert len(shown) == 1 and SITUATION in shown[0] and "Beboerne skal høres først." in shown[0]
    assert not any("Input fra fagperson" in text for text in room.posted_in("S"))  # not answered


def test_an_answer_given_while_the_group_is_at_work_reaches_it_at_once() -> None:
    room = asked()
    room.start()
    room.group_work()
    answer(room, "S-tilfredshed", {"realistic": "85 % tilfredse på tre år."})

    assert any("85 % tilfredse" in text for text in room.posted_in("S"))


def test_only_the_specialist_can_answer_and_an_empty_answer_is_not_taken() -> None:
    room = asked()

    room.act("Anders", "dm", "specialist_answer", request=request_id(room, "E-energi"))
    assert "Beskeden er til Hans" in room.replies()
    answer(room, "E-energi", {})
    assert "Skriv noget i mindst ét af felterne" in str(room.last.form_errors)
    assert all(s.answered_at is None for s in room.ws.specialists.values())


def test_one_reminder_if_no_answer_by_then_and_none_after_an_answer() -> None:
    room = asked()
    answer(room, "S-tilfredshed", {"situation": "Målt hvert andet år."})
    timers = {e.args["request"]: e for e in room.effects if isinstance(e, Schedule) and ":specialist:" in e.timer}

    room.now = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    for request, schedule in timers.items():
        room.send(timer_fired(schedule.timer, dict(schedule.args)))
        room.send(timer_fired(schedule.timer, {**schedule.args, "due": "again"}))  # a second firing

    reminders = [t for t in directs_to(room.effects, "Hans") if "Påmindelse" in t]
    assert len(reminders) == 1 and room.ws.measures["E-energi"].name in reminders[0]


def test_the_plan_has_the_specialists_input() -> None:
    room = asked()
    answer(room, "E-energi", {"situation": SITUATION})

    book = load_workbook(BytesIO(build_workbook(room.ws, Translator("da"), room.now)))

    sheet = book["Fagpersoner"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [(r[1], r[2], r[3]) for r in rows] == [(room.ws.measures["E-energi"].name, "Hans", SITUATION),
                                                  (room.ws.measures["S-tilfredshed"].name, "Hans", None)]


def test_no_reminder_for_a_målepunkt_taken_out_of_the_workshop_since() -> None:
    room = asked("E-energi")
    [schedule] = [e for e in room.effects if isinstance(e, Schedule) and ":specialist:" in e.timer]
    room.press(FACILITATOR, "plenum", "setup_measures")
    room.fill(FACILITATOR, {"measures": "E-co2,S-tilfredshed,G-indkoeb"})

    room.now = schedule.at
    room.send(timer_fired(schedule.timer, dict(schedule.args)))

    assert not [t for t in directs_to(room.effects, "Hans") if "Påmindelse" in t]

