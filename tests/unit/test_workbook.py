"""The action plan as an Excel workbook: what someone opening the file in Excel notices."""

from __future__ import annotations

import re
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain import followup
from bot.domain.model import FollowUp, GoalStatus, SmartGoal, Workshop
from bot.i18n import Translator
from bot.plan.workbook import (
    AMBITION_COLUMNS,
    FOLLOWUP_COLUMNS,
    PLAN_COLUMNS,
    build_workbook,
    plan_filename,
)
from tests.harness import FACILITATOR, GOAL, Room

SHEETS = {"da": ["Handlingsplan", "Ambitioner", "Opfølgning", "Workshop"],
          "en": ["Action plan", "Ambitions", "Follow-up", "Workshop"]}
DA_STATUSES = ["ikke startet", "i gang", "forsinket", "gennemført"]
DA_LEVELS = ["Minimum", "Mellem", "Ambitiøst"]
PAYLOADS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


# -- helpers ------------------------------------------------------------------------------
def goals_room(language: str = "da") -> Room:
    room = Room(language=language)
    room.to_smart_goals()
    return room


def one_goal(language: str = "da") -> tuple[Workshop, SmartGoal]:
    room = goals_room(language)
    room.add_goal("Anders", "E", "E-energi")
    return room.ws, next(iter(room.ws.goals.values()))


def build(ws: Workshop) -> bytes:
    return build_workbook(ws, Translator(ws.language), datetime(2026, 11, 27, 15, 0, tzinfo=UTC))


def book(ws: Workshop) -> Any:
    return load_workbook(BytesIO(build(ws)))


def rows(sheet: Worksheet) -> list[tuple]:
    return list(sheet.iter_rows(min_row=2, values_only=True))


def column(columns: tuple, key: str) -> int:
    """0-based index of a column in a table's rows."""
    return [c.key for c in columns].index(key)


def col_letter(columns: tuple, key: str) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[column(columns, key)]


def report(ws: Workshop, goal: SmartGoal, n: int, status: GoalStatus, at: datetime, by: str = "test:anders",
           progress: float | None = None, comment: str = "") -> Workshop:
    entry = FollowUp(id=f"f{n}", goal_id=goal.id, status=status, progress=progress, comment=comment,
                     version=1, updated_by=by, updated_at=at)
    return replace(ws, followups={**ws.followups, entry.id: entry})


def with_goal(ws: Workshop, goal: SmartGoal, **changes: Any) -> Workshop:
    return replace(ws, goals={**ws.goals, goal.id: replace(goal, **changes)})


def validations(sheet: Worksheet) -> dict[str, Any]:
    return {str(v.sqref): v for v in sheet.data_validations.dataValidation}


# -- 1. sheets and headers ---------------------------------------------------------------
@pytest.mark.parametrize("language", ["da", "en"])
def test_sheets_come_in_order_with_translated_names_and_plan_headers(language: str) -> None:
    ws, _ = one_goal(language)
    wb = book(ws)
    t = Translator(language)
    assert wb.sheetnames == SHEETS[language]
    header = next(wb.worksheets[0].iter_rows(max_row=1, values_only=True))
    assert list(header) == [t(f"excel.col.{c.key}") for c in PLAN_COLUMNS]
    if language == "da":
        assert header[:3] == ("ESG-område", "Målepunkt", "Ambitionsniveau")
    else:
        assert header[:3] == ("ESG area", "Measurement point", "Ambition level")


# -- 2. the plan sheet ---------------------------------------------------------------------
def test_plan_has_one_row_per_goal_ordered_by_area_measure_and_number() -> None:
    room = goals_room()
    for name, group, measure in (("Maja", "G", "G-indkoeb"), ("Hanne", "S", "S-tilfredshed"),
                                 ("Anders", "E", "E-co2"), ("Anders", "E", "E-energi"),
                                 ("Birgitte", "E", "E-energi")):
        room.add_goal(name, group, measure, {**GOAL, "text": f"Mål for {measure} med nok ord i sig"})
    ws = room.ws
    plan = rows(book(ws)["Handlingsplan"])
    ids = [r[column(PLAN_COLUMNS, "goal_id")] for r in plan]
    expected = sorted(ws.goals.values(), key=lambda g: ({"E": 0, "S": 1, "G": 2}[g.measure_id[0]],
                                                         ws.measures[g.measure_id].position, g.number))
    assert ids == [g.id for g in expected]
    assert [ws.goals[i].measure_id for i in ids] == ["E-energi", "E-energi", "E-co2", "S-tilfredshed",
                                                     "G-indkoeb"]
    assert [ws.goals[i].number for i in ids[:2]] == [1, 2]


def test_a_plan_row_shows_the_goal_as_written_and_not_started() -> None:
    ws, goal = one_goal()
    ws = with_goal(ws, goal, owner="Anders", next_step="Bestil energimærker")
    sheet = book(ws)["Handlingsplan"]
    [row] = rows(sheet)
    value = dict(zip([c.key for c in PLAN_COLUMNS], row, strict=True))
    assert value["area"] == "E – Miljø"
    assert value["measure"] == ws.measures["E-energi"].name
    assert value["level"] == "Mellem"
    assert value["sentence"] == "Ambition for E-energi"
    assert (value["goal"], value["indicator"], value["baseline"], value["target"]) == (
        GOAL["text"], GOAL["indicator"], GOAL["baseline"], GOAL["target"])
    assert (value["owner"], value["next_step"]) == ("Anders", "Bestil energimærker")
    assert value["status"] == "ikke startet"
    assert value["progress"] is None and value["comment"] is None
    assert value["goal_id"] == goal.id
    deadline = sheet[f"{col_letter(PLAN_COLUMNS, 'deadline')}2"]
    assert deadline.is_date and deadline.value.date() == goal.deadline == date(2028, 12, 31)
    assert deadline.number_format == "DD.MM.YYYY"
    updated = sheet[f"{col_letter(PLAN_COLUMNS, 'updated')}2"]
    assert updated.is_date and updated.number_format == "DD.MM.YYYY HH:MM"
    # the goal was saved at 08:00 UTC: 09:00 in Copenhagen, shown without a zone
    assert goal.updated_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert updated.value == datetime(2026, 11, 27, 9, 0)


def test_english_dates_use_the_english_format() -> None:
    ws, _ = one_goal("en")
    sheet = book(ws)["Action plan"]
    assert sheet[f"{col_letter(PLAN_COLUMNS, 'deadline')}2"].number_format == "YYYY-MM-DD"
    assert sheet[f"{col_letter(PLAN_COLUMNS, 'status')}2"].value == "not started"
    assert sheet[f"{col_letter(PLAN_COLUMNS, 'level')}2"].value == "Medium"


# -- 3. follow-up --------------------------------------------------------------------------
def test_the_plan_row_shows_the_newest_report_and_the_history_lists_all_oldest_first() -> None:
    ws, goal = one_goal()
    ws = report(ws, goal, 1, GoalStatus.DELAYED, datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
                by=followup.FROM_EXCEL, progress=10.0, comment="Udbud forsinket")
    ws = report(ws, goal, 2, GoalStatus.IN_PROGRESS, datetime(2027, 6, 1, 12, 0, tzinfo=UTC),
                by="test:anders", progress=130.0, comment="Afdeling 1 er færdig")
    ws = report(ws, goal, 0, GoalStatus.NOT_STARTED, datetime(2027, 1, 1, 12, 0, tzinfo=UTC),
                by="test:hanne")  # stored last, reported first
    wb = book(ws)
    [row] = rows(wb["Handlingsplan"])
    value = dict(zip([c.key for c in PLAN_COLUMNS], row, strict=True))
    assert (value["status"], value["progress"], value["comment"]) == ("i gang", 130, "Afdeling 1 er færdig")
    assert value["updated"] == datetime(2027, 6, 1, 14, 0)  # summer time in Copenhagen
    history = rows(wb["Opfølgning"])
    by = column(FOLLOWUP_COLUMNS, "reported_by")
    assert [r[column(FOLLOWUP_COLUMNS, "reported")] for r in history] == [
        datetime(2027, 1, 1, 13, 0), datetime(2027, 3, 1, 13, 0), datetime(2027, 6, 1, 14, 0)]
    assert [r[by] for r in history] == ["Hanne", "importeret fra Excel", "Anders"]
    assert [r[column(FOLLOWUP_COLUMNS, "status")] for r in history] == ["ikke startet", "forsinket", "i gang"]
    assert [r[column(FOLLOWUP_COLUMNS, "comment")] for r in history] == [None, "Udbud forsinket",
                                                                         "Afdeling 1 er færdig"]
    assert {r[column(FOLLOWUP_COLUMNS, "goal_id")] for r in history} == {goal.id}
    assert history[0][column(FOLLOWUP_COLUMNS, "area")] == "E – Miljø"


def test_right_after_the_workshop_the_follow_up_sheet_has_only_its_header() -> None:
    ws, _ = one_goal()
    sheet = book(ws)["Opfølgning"]
    assert sheet.max_row == 1
    assert next(sheet.iter_rows(values_only=True))[0] == "Tidspunkt"


# -- 4. ambitions --------------------------------------------------------------------------
def test_ambitions_sheet_has_dots_per_level_the_current_value_as_a_number_and_agreed() -> None:
    room = Room()
    room.to_ambitions()
    for name, level in (("Anders", "ambitious"), ("Birgitte", "ambitious"), ("Carsten", "medium"),
                        ("Dorthe", "minimum")):
        room.press(name, "E", "vote", m="E-energi", level=level)
    room.press("Hanne", "S", "vote", m="S-tilfredshed", level="minimum")
    room.write_ambition("Anders", "E", "E-energi", "Vi vil være blandt de bedste", "ambitious")
    ws = replace(room.ws, measures={**room.ws.measures,
                                    "E-energi": replace(room.ws.measures["E-energi"], current_value="9,8")})
    sheet = book(ws)["Ambitioner"]
    table = {r[column(AMBITION_COLUMNS, "measure")]: r for r in rows(sheet)}
    assert len(table) == len(ws.measures)
    energy = table[ws.measures["E-energi"].name]
    dots = slice(column(AMBITION_COLUMNS, "dots_minimum"), column(AMBITION_COLUMNS, "dots_ambitious") + 1)
    assert energy[dots] == (1, 1, 2)
    assert table[ws.measures["S-tilfredshed"].name][dots] == (1, 0, 0)
    assert table[ws.measures["G-indkoeb"].name][dots] == (0, 0, 0)
    assert energy[column(AMBITION_COLUMNS, "current_value")] == 9.8
    assert sheet[f"{col_letter(AMBITION_COLUMNS, 'current_value')}2"].data_type == "n"
    assert energy[column(AMBITION_COLUMNS, "level")] == "Ambitiøst"
    assert energy[column(AMBITION_COLUMNS, "sentence")] == "Vi vil være blandt de bedste"
    assert energy[column(AMBITION_COLUMNS, "agreed")] == "Nej"  # a draft, not yet agreed in plenum
    assert energy[column(AMBITION_COLUMNS, "unit")] == ws.measures["E-energi"].unit


def test_ambitions_agreed_in_plenum_say_ja() -> None:
    ws, _ = one_goal()
    agreed = [r[column(AMBITION_COLUMNS, "agreed")] for r in rows(book(ws)["Ambitioner"])]
    assert agreed == ["Ja"] * len(ws.measures)


# -- 5. workshop sheet ---------------------------------------------------------------------
def test_workshop_sheet_names_organisation_date_facilitator_groups_and_agenda() -> None:
    ws, _ = one_goal()
    sheet = book(ws)["Workshop"]
    facts = {r[0]: r[1] for r in sheet.iter_rows(values_only=True) if r[0]}
    assert facts["Organisation"] == ws.title == "Boligselskabet Fjordly"
    assert facts["Dato"].date() == ws.date and sheet["B2"].is_date
    assert facts["Tovholder"] == FACILITATOR
    assert facts["E – Miljø"] == "Anders, Birgitte, Carsten, Dorthe, Erik, Frida og Gustav"
    assert facts["S – Sociale forhold"].startswith("Hanne, Ib")
    assert facts["G – Governance"].startswith("Maja, Niels")
    t = Translator("da")
    for phase, minutes in ws.durations.items():
        assert facts[t(f"phase.{phase}.name")] == minutes
    assert facts["Pause"] == 10


# -- 6. look and behaviour -----------------------------------------------------------------
def test_table_sheets_have_a_styled_frozen_filtered_header_and_wrapped_cells() -> None:
    room = goals_room()
    room.add_goal("Anders", "E", "E-energi")
    room.add_goal("Hanne", "S", "S-tilfredshed")
    wb = book(room.ws)
    expected_rows = {"Handlingsplan": (PLAN_COLUMNS, 3), "Ambitioner": (AMBITION_COLUMNS, 7),
                     "Opfølgning": (FOLLOWUP_COLUMNS, 1)}
    for name, (columns, last_row) in expected_rows.items():
        sheet = wb[name]
        last = col_letter(columns, columns[-1].key)
        assert sheet.freeze_panes == "A2", name
        assert sheet.auto_filter.ref == f"A1:{last}{last_row}", name
        for number, col in enumerate(columns):
            header = sheet.cell(row=1, column=number + 1)
            assert header.font.b and header.fill.fill_type == "solid", (name, col.key)
            assert sheet.column_dimensions[col_letter(columns, col.key)].width == col.width > 8.43
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.print_title_rows == "$1:$1"
    plan = wb["Handlingsplan"]
    assert all(plan.cell(row=2, column=n).alignment.wrap_text for n in range(1, len(PLAN_COLUMNS) + 1))


def test_status_and_level_columns_offer_dropdowns_over_the_data_rows() -> None:
    room = goals_room()
    room.add_goal("Anders", "E", "E-energi")
    room.add_goal("Hanne", "S", "S-tilfredshed")
    found = validations(book(room.ws)["Handlingsplan"])
    status, level = col_letter(PLAN_COLUMNS, "status"), col_letter(PLAN_COLUMNS, "level")
    assert set(found) == {f"{status}2:{status}3", f"{level}2:{level}3"}
    status_rule, level_rule = found[f"{status}2:{status}3"], found[f"{level}2:{level}3"]
    assert status_rule.type == level_rule.type == "list"
    assert status_rule.formula1.strip('"').split(",") == DA_STATUSES
    assert level_rule.formula1.strip('"').split(",") == DA_LEVELS
    assert status_rule.showErrorMessage and status_rule.errorTitle == "Vælg fra listen"
    amb = validations(book(room.ws)["Ambitioner"])
    assert amb[f"{col_letter(AMBITION_COLUMNS, 'level')}2:{col_letter(AMBITION_COLUMNS, 'level')}7"
               ].formula1.strip('"').split(",") == DA_LEVELS
    agreed = col_letter(AMBITION_COLUMNS, "agreed")
    assert amb[f"{agreed}2:{agreed}7"].formula1 == '"Ja,Nej"'


def test_overdue_goals_are_highlighted_by_a_rule_on_today_deadline_and_status() -> None:
    ws, _ = one_goal()
    sheet = book(ws)["Handlingsplan"]
    [(cells, rules)] = [(str(cf.sqref), cf.rules) for cf in sheet.conditional_formatting]
    assert cells == f"A2:{col_letter(PLAN_COLUMNS, 'goal_id')}2"
    [formula] = rules[0].formula
    deadline, status = col_letter(PLAN_COLUMNS, "deadline"), col_letter(PLAN_COLUMNS, "status")
    assert "TODAY()" in formula and f"${deadline}2" in formula and f"${status}2" in formula
    assert '"gennemført"' in formula


def test_document_properties_name_the_workshop() -> None:
    ws, _ = one_goal()
    props = book(ws).properties
    assert ws.title in props.title and props.title.startswith("Handlingsplan")
    assert props.creator == ws.title


# -- 7. formula injection and characters Excel refuses ------------------------------------
def hostile(text: str) -> Workshop:
    ws, goal = one_goal()
    ws = with_goal(ws, goal, text=text, indicator=text, baseline=text, target=text, owner=text, next_step=text)
    ws = report(ws, goal, 1, GoalStatus.IN_PROGRESS, datetime(2027, 1, 1, tzinfo=UTC), comment=text)
    measure = replace(ws.measures["E-energi"], name=text)
    ambition = replace(ws.ambitions["E-energi"], sentence=text)
    return replace(ws, measures={**ws.measures, measure.id: measure},
                   ambitions={**ws.ambitions, measure.id: ambition})


def hostile_cells(wb: Any) -> list[Any]:
    plan, amb, fol = wb["Handlingsplan"], wb["Ambitioner"], wb["Opfølgning"]
    keys = ("measure", "sentence", "goal", "indicator", "baseline", "target", "owner", "next_step", "comment")
    return ([plan[f"{col_letter(PLAN_COLUMNS, k)}2"] for k in keys]
            + [amb[f"{col_letter(AMBITION_COLUMNS, k)}2"] for k in ("measure", "sentence")]
            + [fol[f"{col_letter(FOLLOWUP_COLUMNS, k)}2"] for k in ("measure", "goal", "comment")])


@pytest.mark.parametrize("text", PAYLOADS)
def test_text_that_looks_like_a_formula_stays_literal_text(text: str) -> None:
    data = build(hostile(text))
    cells = hostile_cells(load_workbook(BytesIO(data)))
    assert len(cells) == 14
    for cell in cells:
        assert cell.data_type == "s", cell.coordinate
        # XML turns a bare carriage return into a line feed; the text is otherwise kept as is
        assert cell.value.replace("\r", "\n") == text.replace("\r", "\n"), cell.coordinate
        assert cell.quotePrefix, cell.coordinate  # Excel's leading ': not evaluated on editing
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name), name


@pytest.mark.parametrize("text", PAYLOADS[:5])
def test_text_that_looks_like_a_formula_reads_back_exactly(text: str) -> None:
    for cell in hostile_cells(load_workbook(BytesIO(build(hostile(text))))):
        assert cell.value == text, cell.coordinate


def test_characters_excel_refuses_are_dropped_instead_of_crashing() -> None:
    cells = hostile_cells(load_workbook(BytesIO(build(hostile("Før\x00 mål\x07 nu\x1b")))))
    assert [c.value for c in cells] == ["Før mål nu"] * len(cells)


def test_a_current_value_typed_as_a_formula_stays_text() -> None:
    room = Room()
    room.set_up()
    room.press(FACILITATOR, "plenum", "setup_why")
    room.fill(FACILITATOR, {"value_E-energi": '=HYPERLINK("http://evil","x")'})
    assert room.ws.measures["E-energi"].current_value == '=HYPERLINK("http://evil","x")'
    data = build(room.ws)
    cell = load_workbook(BytesIO(data))["Ambitioner"][f"{col_letter(AMBITION_COLUMNS, 'current_value')}2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://evil","x")'
    with zipfile.ZipFile(BytesIO(data)) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet2.xml")


# -- 8. file name --------------------------------------------------------------------------
def test_plan_filename_has_no_path_quote_or_bracket_characters_and_ends_with_the_date() -> None:
    ws, _ = one_goal()
    t = Translator("da")
    assert plan_filename(ws, t) == "handlingsplan-boligselskabet-fjordly-2026-11-27.xlsx"
    name = plan_filename(replace(ws, title='Bolig/Selskab "Ærø" <Nord>'), t)
    assert not set(name) & set('/\\"<>:|?* ')
    assert name.startswith("handlingsplan-bolig-selskab-") and name.endswith("-nord-2026-11-27.xlsx")
    assert plan_filename(replace(ws, title="///"), t) == f"handlingsplan-{ws.id}-2026-11-27.xlsx"
    assert plan_filename(ws, Translator("en")).startswith("action-plan-")


def test_plan_filename_is_plain_ascii() -> None:
    ws, _ = one_goal()
    name = plan_filename(replace(ws, title='Bolig/Selskab "Ærø" <Nord>'), Translator("da"))
    assert re.fullmatch(r"[a-z0-9.-]+", name), name
    assert name.endswith("-2026-11-27.xlsx")


# -- 9. before any goal --------------------------------------------------------------------
def test_a_workshop_without_goals_gives_a_valid_workbook_with_headers_only() -> None:
    room = Room()
    room.set_up()
    assert room.ws.goals == {}
    wb = book(room.ws)
    assert wb.sheetnames == SHEETS["da"]
    plan = wb["Handlingsplan"]
    assert plan.max_row == 1 and plan["A1"].value == "ESG-område"
    assert plan.auto_filter.ref == f"A1:{col_letter(PLAN_COLUMNS, 'goal_id')}1"
    assert wb["Opfølgning"].max_row == 1
    assert len(rows(wb["Ambitioner"])) == len(room.ws.measures)
