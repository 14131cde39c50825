"""The action plan's round trip: exported from the store, edited in Excel by the goals' owners,
and read back as follow-up entries, on SQLite and (with TEST_DATABASE_URL set) PostgreSQL.

The workshops are the demo's, played once per module through the console chat and the real
service. Each test then saves that stored aggregate into its own fresh database (the
`database_url` fixture), so every test starts from the same, complete workshop: agreed
ambitions and eight SMART goals with owners and next steps, but no follow-up yet.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from rich.console import Console

from adapters.app import Store, open_store, units
from adapters.config import Settings
from adapters.console.chat import console_chat
from adapters.console.demo import Demo
from bot.clock import ManualClock
from bot.domain import followup
from bot.domain.model import GoalStatus, Workshop
from bot.i18n import Translator
from bot.plan.files import PlanFiles
from bot.plan.returned import NotAPlan, Returned, describe, import_plan
from bot.plan.workbook import FOLLOWUP_COLUMNS, PLAN_COLUMNS
from bot.store.uow import SqlUnitOfWork

DA = Translator("da")
COMMENT = "Første møde er holdt; budgettet er godkendt."


# -- the demo's workshops, played once --------------------------------------------------------
def play_demo(url: str, language: str, plan: Path) -> Workshop:
    """The whole scripted demo through the console chat; the workshop as the store holds it."""
    console = Console(file=io.StringIO(), width=120, soft_wrap=True, highlight=False)
    store = open_store(url)
    try:
        chat = console_chat(Settings(bot_language=language, database_url=url), store, console,
                            org=f"roundtrip-{language}", plan_out=plan)
        workshop_id = asyncio.run(Demo(chat, console, language).run())
        with SqlUnitOfWork(store.sessions) as uow:
            ws = uow.workshops.get(workshop_id)
    finally:
        store.close()
    assert ws is not None
    return ws


@pytest.fixture(scope="module")
def danish_demo(tmp_path_factory: pytest.TempPathFactory) -> Workshop:
    folder = tmp_path_factory.mktemp("demo-da")
    ws = play_demo(f"sqlite:///{folder / 'demo.sqlite3'}", "da", folder / "plan.xlsx")
    assert len(ws.goals) == 8 and all(g.owner for g in ws.goals.values())
    assert ws.followups == {}
    return ws


@pytest.fixture(scope="module")
def english_demo(tmp_path_factory: pytest.TempPathFactory) -> Workshop:
    folder = tmp_path_factory.mktemp("demo-en")
    ws = play_demo(f"sqlite:///{folder / 'demo.sqlite3'}", "en", folder / "plan.xlsx")
    assert ws.language == "en" and ws.goals and ws.followups == {}
    return ws


# -- a fresh database holding one workshop ------------------------------------------------------
class Stored:
    """One workshop in one store, and what a person does with its plan."""

    def __init__(self, store: Store, ws: Workshop) -> None:
        self.store = store
        self.id = ws.id
        self.language = ws.language
        self.zone = ZoneInfo(ws.timezone)
        # the day after the workshop: a moment later than anything the demo stamped
        self.now = (max(g.updated_at for g in ws.goals.values() if g.updated_at)
                    + timedelta(days=1)).replace(microsecond=0)

    def load(self) -> Workshop:
        with SqlUnitOfWork(self.store.sessions) as uow:
            found = uow.workshops.get(self.id)
        assert found is not None
        return found

    def export(self) -> bytes:
        return PlanFiles(units(self.store), ManualClock(self.now)).build(self.id).data

    def bring_back(self, data: bytes, after: timedelta = timedelta(hours=1)) -> Returned:
        """Import a returned plan; each import happens a bit later than the one before."""
        self.now += after
        return import_plan(units(self.store), self.id, data, self.now)


def keep(store: Store, ws: Workshop) -> Stored:
    with SqlUnitOfWork(store.sessions) as uow:
        uow.workshops.save(None, ws, "test:setup", ws.updated_at or datetime.now(ZoneInfo("UTC")))
        uow.commit()
    return Stored(store, ws)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


@pytest.fixture
def danish(store: Store, danish_demo: Workshop) -> Stored:
    return keep(store, danish_demo)


@pytest.fixture
def english(store: Store, english_demo: Workshop) -> Stored:
    return keep(store, english_demo)


# -- the workbook, as a person sees and edits it ---------------------------------------------------
def headers(t: Translator, columns: Any) -> list[str]:
    return [t(f"excel.col.{c.key}") for c in columns]


def sheet_rows(data: bytes, title: str, columns: Any, t: Translator = DA) -> list[dict[str, Any]]:
    """The table on a sheet, a dict per row keyed by column key; the header must be the plan's."""
    sheet = load_workbook(io.BytesIO(data))[title]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0][:len(columns)]) == headers(t, columns)
    keys = [c.key for c in columns]
    return [dict(zip(keys, row, strict=False)) for row in values[1:] if any(v is not None for v in row)]


def plan_rows(data: bytes, t: Translator = DA) -> list[dict[str, Any]]:
    return sheet_rows(data, t("excel.sheet.plan"), PLAN_COLUMNS, t)


def followup_rows(data: bytes, t: Translator = DA) -> list[dict[str, Any]]:
    return sheet_rows(data, t("excel.sheet.followup"), FOLLOWUP_COLUMNS, t)


def edited(data: bytes, cells: Mapping[int, Mapping[str, Any]], t: Translator = DA) -> bytes:
    """The plan with some cells typed over: {spreadsheet row: {column key: new value}}."""
    book = load_workbook(io.BytesIO(data))
    sheet = book[t("excel.sheet.plan")]
    column = {c.key: number for number, c in enumerate(PLAN_COLUMNS, start=1)}
    for row, values in cells.items():
        for key, value in values.items():
            sheet.cell(row=row, column=column[key]).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def goal_in_row(data: bytes, row: int) -> str:
    """The goal id in a spreadsheet row of the plan (row 2 is the first goal)."""
    return plan_rows(data)[row - 2]["goal_id"]


def by_goal(entries: Any) -> dict[str, Any]:
    entries = list(entries)
    found = {e.goal_id: e for e in entries}
    assert len(found) == len(entries), "two entries for one goal"
    return found


def the_three_edits(data: bytes) -> bytes:
    """Goal row 2 is started, row 3 is 40 along, row 4 gets a comment; nothing else changes."""
    return edited(data, {2: {"status": "i gang"}, 3: {"progress": 40}, 4: {"comment": COMMENT}})


# -- 1. export, edit, import, export again ----------------------------------------------------------
def test_three_edited_cells_become_three_followup_entries_and_show_in_the_next_export(
        danish: Stored) -> None:
    before = danish.load()
    plan = danish.export()
    assert [r["status"] for r in plan_rows(plan)] == ["ikke startet"] * 8
    started, along, commented = (goal_in_row(plan, row) for row in (2, 3, 4))

    result = danish.bring_back(the_three_edits(plan))

    assert result.problems == () and result.unchanged == 5
    entries = by_goal(result.recorded)
    assert set(entries) == {started, along, commented}
    # each entry is the edited value plus the row's other two values, as they were
    assert (entries[started].status, entries[started].progress, entries[started].comment) == (
        GoalStatus.IN_PROGRESS, None, "")
    assert (entries[along].status, entries[along].progress, entries[along].comment) == (
        GoalStatus.NOT_STARTED, 40, "")
    assert (entries[commented].status, entries[commented].progress, entries[commented].comment) == (
        GoalStatus.NOT_STARTED, None, COMMENT)
    assert {(e.updated_by, e.updated_at) for e in result.recorded} == {
        (followup.FROM_EXCEL, danish.now)}
    assert len({e.id for e in result.recorded}) == 3

    # the store holds exactly those entries, and the rest of the workshop is as it was
    after = danish.load()
    assert after.followups == {e.id: e for e in result.recorded}
    assert after.version == before.version + 1
    assert (after.goals, after.ambitions, after.measures, after.phase) == (
        before.goals, before.ambitions, before.measures, before.phase)

    # exported again: the plan shows the new values, the follow-up sheet the three entries
    again = danish.export()
    rows = {r["goal_id"]: r for r in plan_rows(again)}
    assert len(rows) == 8
    shown = {goal: (r["status"], r["progress"], r["comment"]) for goal, r in rows.items()}
    assert shown.pop(started) == ("i gang", None, None)
    assert shown.pop(along) == ("ikke startet", 40, None)
    assert shown.pop(commented) == ("ikke startet", None, COMMENT)
    assert set(shown.values()) == {("ikke startet", None, None)}  # the five untouched goals
    for goal in (started, along, commented):
        assert rows[goal]["updated"] == danish.now.astimezone(danish.zone).replace(tzinfo=None, second=0)
    # everything a person did not type over is exported exactly as before
    read_only = [c.key for c in PLAN_COLUMNS if c.key not in ("status", "progress", "comment", "updated")]
    assert [[r[k] for k in read_only] for r in plan_rows(again)] == [
        [r[k] for k in read_only] for r in plan_rows(plan)]

    reported = by_goal(_Reported(r) for r in followup_rows(again))
    assert set(reported) == {started, along, commented}
    assert {r.row["reported_by"] for r in reported.values()} == {"importeret fra Excel"}
    assert (reported[started].row["status"], reported[along].row["progress"],
            reported[commented].row["comment"]) == ("i gang", 40, COMMENT)
    assert reported[along].row["status"] == "ikke startet"
    assert reported[started].row["goal"] == before.goals[started].text


class _Reported:
    """A row of the follow-up sheet, with the goal id `by_goal` groups on."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.goal_id = row["goal_id"]


# -- 2. the same file twice ------------------------------------------------------------------------
def test_importing_the_same_edited_file_again_records_nothing(danish: Stored) -> None:
    returned = the_three_edits(danish.export())
    first = danish.bring_back(returned)
    assert len(first.recorded) == 3
    stored = danish.load()

    again = danish.bring_back(returned)

    assert again == Returned(recorded=(), unchanged=8, problems=())
    assert danish.load() == stored  # not even the workshop's version moved


def test_the_plan_exported_after_an_import_reads_back_as_unchanged(danish: Stored) -> None:
    danish.bring_back(the_three_edits(danish.export()))
    stored = danish.load()

    result = danish.bring_back(danish.export())

    assert result == Returned(recorded=(), unchanged=8, problems=())
    assert danish.load() == stored


# -- 3. rows the import refuses ------------------------------------------------------------------------
def test_bad_rows_are_reported_by_row_and_the_good_rows_are_still_recorded(danish: Stored) -> None:
    # an earlier import: goal row 3 is 40 along, goal row 6 has a comment
    plan = danish.export()
    earlier = danish.bring_back(edited(plan, {3: {"progress": 40}, 6: {"comment": "Godt i gang"}}))
    assert len(earlier.recorded) == 2
    first_goal = goal_in_row(plan, 2)

    returned = edited(danish.export(), {
        2: {"status": "gennemført"},            # good
        3: {"status": "halvvejs"},              # not a status
        4: {"progress": "meget"},               # not a number
        5: {"comment": "Tilbud er indhentet"},  # good
        10: {"goal_id": "gffffffffff", "status": "i gang"},  # no such goal
        11: {"comment": "Husk budgettet"},      # content, but no goal id
        12: {"goal_id": first_goal, "status": "forsinket"},  # the first goal again
    })
    result = danish.bring_back(returned)

    assert [(p.row, p.key) for p in result.problems] == [
        (3, "plan_import.bad_status"), (4, "plan_import.bad_progress"),
        (10, "plan_import.unknown_goal"), (11, "plan_import.no_goal_id"),
        (12, "plan_import.duplicate_goal")]
    assert describe(result.problems, DA) == [
        "Række 3: status »halvvejs« kendes ikke. Vælg ikke startet, i gang, forsinket eller gennemført.",
        "Række 4: fremdrift »meget« er ikke et tal.",
        "Række 10: mål-id gffffffffff findes ikke i denne workshop.",
        "Række 11: rækken har intet mål-id, så den kan ikke kobles til et SMART-mål.",
        f"Række 12: mål-id {first_goal} står også i række 2; kun den første er læst.",
    ]
    # the good rows went in; the first of the duplicated rows is the one that counts
    recorded = by_goal(result.recorded)
    assert set(recorded) == {first_goal, goal_in_row(plan, 5)}
    assert recorded[first_goal].status == GoalStatus.DONE
    assert recorded[goal_in_row(plan, 5)].comment == "Tilbud er indhentet"
    assert result.unchanged == 8 - 2 - 2  # rows 3 and 4 were refused, not unchanged

    # nothing recorded earlier was changed or removed; the refused rows still read as before
    stored = danish.load()
    assert stored.followups == {**{e.id: e for e in earlier.recorded},
                                **{e.id: e for e in result.recorded}}
    along = goal_in_row(plan, 3)
    latest = followup.latest(stored, along)
    assert latest is not None and latest.progress == 40
    assert followup.status_of(stored, along) == GoalStatus.NOT_STARTED
    assert followup.latest(stored, goal_in_row(plan, 4)) is None


def test_a_file_with_only_bad_rows_changes_nothing(danish: Stored) -> None:
    before = danish.load()

    result = danish.bring_back(edited(danish.export(), {2: {"status": "halvvejs"},
                                                        3: {"progress": "meget"}}))

    assert [(p.row, p.key) for p in result.problems] == [(2, "plan_import.bad_status"),
                                                         (3, "plan_import.bad_progress")]
    assert result.recorded == ()
    assert danish.load() == before


def test_edits_to_the_read_only_columns_change_nothing(danish: Stored) -> None:
    before = danish.load()
    plan = danish.export()
    goal = goal_in_row(plan, 2)

    result = danish.bring_back(edited(plan, {
        2: {"goal": "Et helt andet mål", "owner": "Rasmus", "deadline": "31.12.2040",
            "next_step": "Noget andet", "target": "200 kWh/m²"},
        3: {"owner": None, "measure": "Omdøbt målepunkt", "level": "Minimum"}}))

    assert result == Returned(recorded=(), unchanged=8, problems=())
    after = danish.load()
    assert after == before
    assert (after.goals[goal].text, after.goals[goal].owner) == (
        before.goals[goal].text, before.goals[goal].owner)
    assert plan_rows(danish.export()) == plan_rows(plan)


# -- 4. files that are not a plan ------------------------------------------------------------------------
def a_workbook(*rows: tuple[Any, ...]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


NOT_PLANS = {
    "a budget with a Status column": (
        a_workbook(("Post", "Beløb", "Status"), ("Maling", 12000, "i gang")),
        "plan_import.no_plan_sheet"),
    "an empty workbook": (a_workbook(), "plan_import.no_plan_sheet"),
    "goal ids and nothing to read": (
        a_workbook(("Mål-id", "SMART-mål"), ("g0000000000", "Et mål")), "plan_import.nothing_to_read"),
    "a text file": ("Mål-id;Status\ng0000000000;i gang\n".encode(), "plan_import.not_xlsx"),
    "random bytes": (bytes(range(256)) * 4, "plan_import.not_xlsx"),
    "a zip that is no workbook": (b"PK\x03\x04" + b"\x00" * 200, "plan_import.not_xlsx"),
}


@pytest.mark.parametrize(("data", "key"), NOT_PLANS.values(), ids=NOT_PLANS.keys())
def test_a_file_that_is_not_a_plan_is_refused_as_a_whole_and_changes_nothing(
        danish: Stored, data: bytes, key: str) -> None:
    danish.bring_back(the_three_edits(danish.export()))  # something to keep
    before = danish.load()

    with pytest.raises(NotAPlan) as refused:
        danish.bring_back(data)

    assert (refused.value.problem.row, refused.value.problem.key) == (0, key)
    [message] = describe([refused.value.problem], DA)
    assert not message.startswith("Række") and message == DA(key)
    assert danish.load() == before


# -- 5. English ---------------------------------------------------------------------------------------------
def test_the_plan_of_an_english_workshop_reads_back(english: Stored) -> None:
    en = Translator("en")
    plan = english.export()
    rows = plan_rows(plan, en)  # checks the header is the English one
    assert {r["status"] for r in rows} == {"not started"}
    done, late = rows[0]["goal_id"], rows[1]["goal_id"]

    result = english.bring_back(edited(plan, {2: {"status": "done", "progress": "1,234.5"},
                                              3: {"status": "Delayed", "comment": "Waiting for quotes"}},
                                       en))

    assert result.problems == () and result.unchanged == len(rows) - 2
    entries = by_goal(result.recorded)
    assert (entries[done].status, entries[done].progress) == (GoalStatus.DONE, 1234.5)
    assert (entries[late].status, entries[late].comment) == (GoalStatus.DELAYED, "Waiting for quotes")
    again = {r["goal_id"]: r for r in plan_rows(english.export(), en)}
    assert (again[done]["status"], again[late]["status"]) == ("done", "delayed")
    assert {r["reported_by"] for r in followup_rows(english.export(), en)} == {"imported from Excel"}


def test_statuses_typed_in_english_are_understood_in_a_danish_plan(danish: Stored) -> None:
    plan = danish.export()

    result = danish.bring_back(edited(plan, {2: {"status": "done"}, 3: {"status": "In Progress"},
                                             4: {"status": "  GENNEMFØRT "}, 5: {"progress": "12,5"}}))

    assert result.problems == ()
    statuses = {goal: e.status for goal, e in by_goal(result.recorded).items()}
    assert statuses == {goal_in_row(plan, 2): GoalStatus.DONE,
                        goal_in_row(plan, 3): GoalStatus.IN_PROGRESS,
                        goal_in_row(plan, 4): GoalStatus.DONE,
                        goal_in_row(plan, 5): GoalStatus.NOT_STARTED}
    assert by_goal(result.recorded)[goal_in_row(plan, 5)].progress == 12.5
    shown = {r["goal_id"]: r["status"] for r in plan_rows(danish.export())}
    assert [shown[goal_in_row(plan, n)] for n in (2, 3, 4)] == ["gennemført", "i gang", "gennemført"]


def test_a_danish_plan_with_its_headers_translated_to_english_reads_back(danish: Stored) -> None:
    """Someone replaced the header row with the English one (e.g. a colleague's template)."""
    en = Translator("en")
    book = load_workbook(io.BytesIO(danish.export()))
    sheet = book["Handlingsplan"]
    for number, title in enumerate(headers(en, PLAN_COLUMNS), start=1):
        sheet.cell(row=1, column=number).value = title.upper()
    sheet.cell(row=2, column=12).value = "delayed"
    out = io.BytesIO()
    book.save(out)

    result = danish.bring_back(out.getvalue())

    assert result.problems == () and [e.status for e in result.recorded] == [GoalStatus.DELAYED]


# -- what a person types into Excel ---------------------------------------------------------------------------
def test_a_progress_typed_with_a_percent_sign_in_excel_reads_as_that_number(danish: Stored) -> None:
    book = load_workbook(io.BytesIO(danish.export()))
    sheet = book["Handlingsplan"]
    text_cell, percent_cell = sheet.cell(row=2, column=13), sheet.cell(row=3, column=13)
    text_cell.value = "40 %"                                     # a cell formatted as text
    percent_cell.value, percent_cell.number_format = 0.4, "0%"   # what Excel keeps for 40 %
    out = io.BytesIO()
    book.save(out)

    result = danish.bring_back(out.getvalue())

    assert [e.progress for e in result.recorded] == [40, 40]


def test_a_plan_whose_followup_sheet_was_moved_to_the_front_still_reads_its_plan_sheet(
        danish: Stored) -> None:
    goal = goal_in_row(danish.export(), 2)
    danish.bring_back(edited(danish.export(), {2: {"status": "i gang"}}))
    danish.bring_back(edited(danish.export(), {2: {"status": "gennemført"}}))
    before = danish.load()
    book = load_workbook(io.BytesIO(danish.export()))
    book.move_sheet("Opfølgning", offset=-2)
    assert book.sheetnames[:2] == ["Opfølgning", "Handlingsplan"]
    out = io.BytesIO()
    book.save(out)

    result = danish.bring_back(out.getvalue())

    assert followup.status_of(danish.load(), goal) == GoalStatus.DONE
    assert result == Returned(recorded=(), unchanged=8, problems=())
    assert danish.load() == before


def test_a_cleared_status_cell_keeps_the_status_the_goal_had(danish: Stored) -> None:
    plan = danish.export()
    danish.bring_back(edited(plan, {2: {"status": "gennemført"}}))
    done = goal_in_row(plan, 2)

    result = danish.bring_back(edited(danish.export(), {2: {"status": None}}))

    assert result.recorded == () and result.problems == ()
    assert plan_rows(danish.export())[0]["status"] == "gennemført"
    assert [e.status for e in danish.load().followups.values() if e.goal_id == done] == [GoalStatus.DONE]
