"""Importing the organisation's own målepunkter from a CSV or XLSX file with `målepunkter`."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from bot.domain.model import Area, Phase
from bot.effects import Post, PostPrivate, Update
from bot.events import Command, SharedFile
from bot.flow.turn import Outcome
from tests.harness import FACILITATOR, PEOPLE, Room, actor, refusal_only, texts

HEADER = "ESG-område;Målepunkt;Beskrivelse;Nuværende værdi;Enhed"
ROWS = (
    "E;Energiforbrug i boligerne;Varme og el pr. m²;142;kWh/m²",
    "S;Beboertilfredshed;Andel af beboerne, der er tilfredse;78;%",
    "E;CO2-udledning;Fra opvarmning af boligerne;9,8;kg/m²",
    "G;Bestyrelsens kompetencer;Kurser for bestyrelsen;3;kurser",
    "S;Udsættelser;Udsættelser pr. år;;antal",
)
NAMES = ("Energiforbrug i boligerne", "Beboertilfredshed", "CO2-udledning",
         "Bestyrelsens kompetencer", "Udsættelser")
EXPECTED = {  # name -> (area, description, current value, unit, position)
    "Energiforbrug i boligerne": (Area.E, "Varme og el pr. m²", "142", "kWh/m²", 1),
    "Beboertilfredshed": (Area.S, "Andel af beboerne, der er tilfredse", "78", "%", 2),
    "CO2-udledning": (Area.E, "Fra opvarmning af boligerne", "9,8", "kg/m²", 3),
    "Bestyrelsens kompetencer": (Area.G, "Kurser for bestyrelsen", "3", "kurser", 4),
    "Udsættelser": (Area.S, "Udsættelser pr. år", "", "antal", 5),
}


def csv_bytes(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return "\r\n".join((header, *rows)).encode(encoding) + b"\r\n"


GOOD = csv_bytes(*ROWS)


def xlsx_bytes(*rows: list[object]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Målepunkter"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def send_file(room: Room, name: str, data: bytes, text: str = "målepunkter",
              who: str = FACILITATOR, conversation: str = "plenum") -> Outcome:
    return room.send(Command(**room._base(who, conversation), text=text,
                             files=(SharedFile(name, data),)))


def new_room(language: str = "da") -> Room:
    room = Room(language=language)
    room.say(FACILITATOR, "plenum", "new Boligselskabet Fjordly")
    return room


def by_name(room: Room) -> dict[str, object]:
    return {m.name: m for m in room.ws.measures.values()}


def measures_of_file(room: Room) -> dict[str, tuple[object, ...]]:
    return {m.name: (m.area, m.description, m.current_value, m.unit, m.position)
            for m in room.ws.measures.values()}


def setup_updates(outcome: Outcome) -> list[str]:
    return [texts(e.message) for e in outcome.effects
            if isinstance(e, Update) and e.key == "setup" and e.conversation == "plenum"]


# -- 1. a good file ---------------------------------------------------------------------

def test_a_danish_csv_replaces_the_chosen_measures_and_is_confirmed_and_shown() -> None:
    room = new_room()
    room.press(FACILITATOR, "plenum", "setup_measures")
    room.fill(FACILITATOR, {"measures": "E-energi,S-tilfredshed,G-indkoeb"})
    assert sorted(room.ws.measures) == ["E-energi", "G-indkoeb", "S-tilfredshed"]

    outcome = send_file(room, "målepunkter.csv", GOOD)

    assert measures_of_file(room) == EXPECTED  # exactly the file's, nothing of the catalog's
    for measure in room.ws.measures.values():
        assert measure.group == measure.area.value  # each in its area's group
    ordered = sorted(room.ws.measures.values(), key=lambda m: m.position)
    assert tuple(m.name for m in ordered) == NAMES
    assert room.ws.phase == Phase.SETUP

    private = [texts(e.message) for e in outcome.effects if isinstance(e, PostPrivate)]
    assert len(private) == 1 and all(e.user == actor(FACILITATOR).id for e in outcome.effects
                                     if isinstance(e, PostPrivate))
    assert "5 målepunkter er indlæst fra »målepunkter.csv«" in private[0]
    assert "erstatter" in private[0]

    cards = setup_updates(outcome)
    assert len(cards) == 1
    card = cards[0]
    assert "Målepunkter: 5 valgt" in card
    for name in NAMES:
        assert name in card
    assert [card.index(name) for name in NAMES] == sorted(card.index(name) for name in NAMES)


def test_the_setup_card_no_longer_shows_the_catalog_measures_chosen_before() -> None:
    room = new_room()
    room.press(FACILITATOR, "plenum", "setup_measures")
    room.fill(FACILITATOR, {"measures": "G-indkoeb"})
    catalog_name = room.ws.measures["G-indkoeb"].name
    assert catalog_name in texts(room.last.effects[-1].message)
    outcome = send_file(room, "m.csv", GOOD)
    assert catalog_name not in setup_updates(outcome)[0]
    assert "G-indkoeb" not in room.ws.measures


def test_a_windows_1252_csv_as_danish_excel_saves_it() -> None:
    room = new_room()
    send_file(room, "m.csv", csv_bytes(*ROWS, encoding="cp1252"))
    assert measures_of_file(room) == EXPECTED


def test_an_excel_file_works_too() -> None:
    room = new_room()
    data = xlsx_bytes(["ESG-område", "Målepunkt", "Beskrivelse", "Nuværende værdi", "Enhed"],
                      ["E", "Energiforbrug i boligerne", "Varme og el pr. m²", 142, "kWh/m²"],
                      ["S", "Beboertilfredshed", "Andel af beboerne, der er tilfredse", "78", "%"],
                      ["E", "CO2-udledning", "Fra opvarmning af boligerne", "9,8", "kg/m²"],
                      ["G", "Bestyrelsens kompetencer", "Kurser for bestyrelsen", 3, "kurser"],
                      ["S", "Udsættelser", "Udsættelser pr. år", None, "antal"])
    outcome = send_file(room, "Målepunkter.xlsx", data)
    assert measures_of_file(room) == EXPECTED
    assert "5 målepunkter er indlæst fra »Målepunkter.xlsx«" in room.replies(outcome)
    assert all(name in setup_updates(outcome)[0] for name in NAMES)


def test_the_english_command_word_works_and_an_english_workshop_answers_in_english() -> None:
    room = new_room("en")
    outcome = send_file(room, "measures.csv", GOOD, text="measures")
    assert measures_of_file(room) == EXPECTED
    assert "5 measurement points were imported from “measures.csv”" in room.replies(outcome)
    assert "Measurement points: 5 chosen" in setup_updates(outcome)[0]


def test_the_english_word_works_in_a_danish_workshop() -> None:
    room = new_room()
    send_file(room, "m.csv", GOOD, text="measures")
    assert measures_of_file(room) == EXPECTED


# -- 2. nothing half-imported -----------------------------------------------------------

BAD_FILES = {
    "unknown area": (
        "m.csv", csv_bytes(ROWS[0], "X;Tryghed;Oplevet tryghed;;%", *ROWS[1:]),
        ("Række 3", "»X« er ikke et ESG-område"),
        ("Row 3", "“X” is not an ESG area")),
    "empty name": (
        "m.csv", csv_bytes(*ROWS[:3], "S;;En beskrivelse uden navn;;", *ROWS[3:]),
        ("Række 5", "mangler et navn"),
        ("Row 5", "has no name")),
    "duplicate name": (
        "m.csv", csv_bytes(*ROWS, "E;energiforbrug i boligerne;Igen;1;kWh/m²"),
        ("Række 7", "»energiforbrug i boligerne« står allerede i række 2"),
        ("Row 7", "“energiforbrug i boligerne” is already in row 2")),
    "not a number": (
        "m.csv", csv_bytes(ROWS[0], "S;Beboertilfredshed;Tilfredse;ca. ti;%", *ROWS[2:]),
        ("Række 3", "»ca. ti« er ikke et tal"),
        ("Row 3", "“ca. ti” is not a number")),
    "ten measures": (
        "m.csv", csv_bytes(*ROWS, *(f"G;Målepunkt {n};;;" for n in range(6, 11))),
        ("10 målepunkter", "højst være 9"),
        ("10 measurement points", "at most 9")),
    "a pdf": (
        "målepunkter.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        ("»målepunkter.pdf« kan ikke læses", "CSV"),
        ("“målepunkter.pdf” cannot be read", "CSV")),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
@pytest.mark.parametrize("language", ["da", "en"])
def test_a_file_with_one_problem_changes_nothing_and_says_where_and_why(case: str, language: str) -> None:
    filename, data, danish, english = BAD_FILES[case]
    room = new_room(language)
    room.press(FACILITATOR, "plenum", "setup_measures")
    room.fill(FACILITATOR, {"measures": "E-energi,S-tilfredshed"})
    before = room.ws
    before_measures = dict(room.ws.measures)

    answer = refusal_only(send_file(room, filename, data), FACILITATOR)

    assert room.ws is before and room.ws.version == before.version
    assert dict(room.ws.measures) == before_measures
    assert filename in answer
    for expected in (danish if language == "da" else english):
        assert expected in answer, answer
    if language == "da":
        assert "intet er ændret" in answer
    else:
        assert "nothing has changed" in answer and "Række" not in answer and "målepunkter er" not in answer


def test_every_problem_in_a_file_is_listed_at_once() -> None:
    room = new_room()
    before = room.ws
    data = csv_bytes("X;Tryghed;;;", "S;;Uden navn;;", "G;Ledelse;;mange;")
    answer = refusal_only(send_file(room, "m.csv", data), FACILITATOR)
    assert room.ws is before and not room.ws.measures
    for expected in ("Række 2: »X« er ikke et ESG-område", "Række 3: Målepunktet mangler et navn",
                     "Række 4: »mange« er ikke et tal"):
        assert expected in answer


def test_a_file_without_the_name_column_is_refused_with_the_columns_it_needs() -> None:
    room = new_room()
    before = room.ws
    answer = refusal_only(send_file(room, "m.csv", csv_bytes("E;Noget", header="Område;Titel")),
                          FACILITATOR)
    assert room.ws is before
    assert "mangler kolonnen" in answer and "Målepunkt" in answer


# -- 3. no file -------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "word", "expected"), [
    ("da", "målepunkter", ("CSV", "»målepunkter«", "Vedhæft")),
    ("en", "measures", ("CSV", "“measures”", "Attach")),
])
def test_the_command_without_a_file_explains_how(language: str, word: str,
                                                 expected: tuple[str, ...]) -> None:
    room = new_room(language)
    room.press(FACILITATOR, "plenum", "setup_measures")
    room.fill(FACILITATOR, {"measures": "E-energi"})
    before = room.ws
    answer = refusal_only(room.say(FACILITATOR, "plenum", word), FACILITATOR)
    assert room.ws is before and list(room.ws.measures) == ["E-energi"]
    for text in expected:
        assert text in answer, answer


# -- 4. only the facilitator, only before the start ---------------------------------------

def test_a_participant_cannot_import() -> None:
    room = new_room()
    before = room.ws
    answer = refusal_only(send_file(room, "m.csv", GOOD, who="Anders"), "Anders")
    assert "kun tovholderen" in answer.lower()
    assert room.ws is before and not room.ws.measures


def test_after_the_start_even_the_facilitator_cannot_import() -> None:
    room = Room()
    room.set_up()
    room.press(FACILITATOR, "plenum", "start")
    assert room.ws.phase == Phase.INTRO
    before = room.ws
    measures = dict(room.ws.measures)
    answer = refusal_only(send_file(room, "m.csv", GOOD), FACILITATOR)
    assert "ikke nu" in answer and "Introduktion" in answer
    assert room.ws is before and dict(room.ws.measures) == measures
    participant = refusal_only(send_file(room, "m.csv", GOOD, who="Anders"), "Anders")
    assert "kun tovholderen" in participant.lower()
    assert room.ws is before


def test_the_setup_card_mentions_the_import_before_the_start_only() -> None:
    room = new_room()
    first = texts(next(e.message for e in room.effects if isinstance(e, Post) and e.key == "setup"))
    assert "CSV- eller Excel-fil med beskeden »målepunkter«" in first
    send_file(room, "m.csv", GOOD)
    for group in ("E", "S", "G"):
        room.say(FACILITATOR, group, f"group {group}")
    room.press(FACILITATOR, "plenum", "start")
    last = [texts(e.message) for e in room.effects
            if isinstance(e, (Post, Update)) and e.key == "setup"][-1]
    assert "Energiforbrug i boligerne" in last and "CSV" not in last


# -- 5. a corrected file keeps the reasons ------------------------------------------------

def write_why(room: Room, whys: dict[str, str]) -> None:
    room.press(FACILITATOR, "plenum", "setup_why")
    ids = {m.name: m.id for m in room.ws.measures.values()}
    room.fill(FACILITATOR, {f"why_{ids[name]}": why for name, why in whys.items()})


def test_reimporting_a_corrected_file_keeps_the_reasons_written_for_the_same_names() -> None:
    room = new_room()
    send_file(room, "m.csv", GOOD)
    write_why(room, {"Energiforbrug i boligerne": "Den største post i budgettet",
                     "Beboertilfredshed": "Beboerne bad om det"})
    assert by_name(room)["Energiforbrug i boligerne"].why == "Den største post i budgettet"
    # the corrected file: a new description and value, a row dropped, one added, order changed
    corrected = csv_bytes(
        "S;Beboertilfredshed;Andel af beboerne, der er meget tilfredse;81;%",
        "E;Energiforbrug i boligerne;Varme og el pr. m²;140;kWh/m²",
        "G;Bestyrelsens kompetencer;Kurser for bestyrelsen;3;kurser",
        "G;Indkøb;Bæredygtige indkøb;;%")
    outcome = send_file(room, "m-rettet.csv", corrected)
    measures = by_name(room)
    assert sorted(measures) == ["Beboertilfredshed", "Bestyrelsens kompetencer",
                                "Energiforbrug i boligerne", "Indkøb"]
    assert measures["Energiforbrug i boligerne"].why == "Den største post i budgettet"
    assert measures["Beboertilfredshed"].why == "Beboerne bad om det"
    assert measures["Beboertilfredshed"].description == "Andel af beboerne, der er meget tilfredse"
    assert measures["Beboertilfredshed"].current_value == "81"
    assert measures["Beboertilfredshed"].position == 1
    assert measures["Indkøb"].why == "" and measures["Bestyrelsens kompetencer"].why == ""
    card = setup_updates(outcome)[0]
    assert card.count("✓ begrundet") == 2
    assert "Målepunkter: 4 valgt" in card


def test_correcting_the_area_of_a_measure_keeps_its_reason() -> None:
    room = new_room()
    send_file(room, "m.csv", GOOD)
    write_why(room, {"Udsættelser": "Et krav fra kommunen"})
    corrected = csv_bytes(*ROWS[:4], "G;Udsættelser;Udsættelser pr. år;;antal")  # S -> G
    send_file(room, "m.csv", corrected)
    measure = by_name(room)["Udsættelser"]
    assert measure.area == Area.G and measure.group == "G"
    assert measure.why == "Et krav fra kommunen"


LONG_A = "Andel af boliger med energimærke A eller B i afdeling Nord"
LONG_B = "Andel af boliger med energimærke A eller B i afdeling Syd"


def test_reordering_long_names_with_the_same_start_keeps_each_reason_with_its_measure() -> None:
    room = new_room()
    send_file(room, "m.csv", csv_bytes(f"E;{LONG_A};;;", f"E;{LONG_B};;;", "S;Tryghed;;;"))
    assert len(room.ws.measures) == 3
    write_why(room, {LONG_A: "Nord er ældst", LONG_B: "Syd er nyest"})
    send_file(room, "m.csv", csv_bytes("S;Tryghed;;;", f"E;{LONG_B};;;", f"E;{LONG_A};;;"))
    measures = by_name(room)
    assert measures[LONG_B].why != "Nord er ældst"  # today: Syd shows Nord's reason
    assert (measures[LONG_A].why, measures[LONG_B].why) == ("Nord er ældst", "Syd er nyest")


def test_names_that_read_alike_still_become_separate_measures() -> None:
    room = new_room()
    send_file(room, "m.csv", csv_bytes(f"E;{LONG_A};;;", f"E;{LONG_B};;;", "E;CO2 udledning;;;",
                                       "E;CO2-udledning i alt;;;", "S;Tryghed;;;"))
    assert sorted(by_name(room)) == sorted([LONG_A, LONG_B, "CO2 udledning",
                                            "CO2-udledning i alt", "Tryghed"])
    assert len(room.ws.measures) == 5


# -- 6. a whole workshop on imported målepunkter -------------------------------------------

def test_a_workshop_runs_on_the_imported_measures() -> None:
    room = new_room()
    send_file(room, "m.csv", GOOD)
    for group in ("E", "S", "G"):
        room.say(FACILITATOR, group, f"group {group}")
    room.press(FACILITATOR, "plenum", "start")
    assert room.ws.phase == Phase.INTRO, room.replies()
    for name, area in PEOPLE.items():
        room.press(name, "plenum", "interest", area=area)
    room.press(FACILITATOR, "plenum", "propose_split")
    room.press(FACILITATOR, "plenum", "approve_split")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.AMBITIONS, room.replies()

    expected = {"E": ["Energiforbrug i boligerne", "CO2-udledning"],
                "S": ["Beboertilfredshed", "Udsættelser"],
                "G": ["Bestyrelsens kompetencer"]}
    for group, names in expected.items():
        cards = [e.message for e in room.effects
                 if isinstance(e, Post) and e.conversation == group and e.key.startswith("vote:")]
        headings = [texts(card).splitlines()[0] for card in cards]
        assert headings == [f"{name} ({group})" for name in names], headings
        shown = "\n".join(room.posted_in(group))
        for other in set(NAMES) - set(names):
            assert other not in shown
    energy = next(e.message for e in room.effects if isinstance(e, Post) and e.conversation == "E"
                  and e.key.startswith("vote:") and "CO2-udledning" in texts(e.message))
    assert "9,8 kg/m²" in texts(energy)  # the current value as typed, with its unit
    assert "Fra opvarmning af boligerne" in texts(energy)

    # and a participant can write an ambition for an imported målepunkt
    co2 = by_name(room)["CO2-udledning"]
    room.write_ambition("Anders", "E", co2.id, "Vi halverer udledningen inden 2030")
    assert room.ws.ambitions[co2.id].sentence == "Vi halverer udledningen inden 2030"
