"""The action plan from the command line: `demo --out`, `export`, `import-plan`, `demo --measures`.

Every command runs the installed `ambition-bot` script in a subprocess, the way a person runs
it: in a temporary directory, with every setting removed from the environment except a
DATABASE_URL naming a SQLite file there. The demo is played once per module; tests that
write to its database work on a copy of it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, inspect, text

from adapters.app import open_store
from adapters.config import Settings
from bot.domain.model import GoalStatus, Workshop
from bot.i18n import Translator
from bot.plan.workbook import PLAN_COLUMNS
from bot.store.uow import SqlUnitOfWork

DA = Translator("da")
SETTING_VARIABLES = tuple(name.upper() for name in Settings.model_fields)
COLUMN = {c.key: number for number, c in enumerate(PLAN_COLUMNS, start=1)}

OWN_MEASURES = (
    ("E", "Vandforbrug pr. bolig", "Liter pr. bolig pr. døgn", "120", "liter"),
    ("E", "Affaldssortering", "Andel af affaldet, der sorteres", "35", "%"),
    ("S", "Tryghed i afdelingerne", "Andel beboere, der føler sig trygge", "78", "%"),
    ("G", "Whistleblowerordning", "Antal henvendelser pr. år", "0", "antal"),
)
CSV_HEADER = "ESG-område;Målepunkt;Beskrivelse;Nuværende værdi;Enhed"


def ambition_bot() -> str:
    found = shutil.which("ambition-bot", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("the ambition-bot script is not installed next to this Python")
    return found


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`ambition-bot ARGS` in `folder`, on the SQLite database there and no other setting."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_VARIABLES}
    env["DATABASE_URL"] = url_of(folder)
    env["COLUMNS"] = "200"
    return subprocess.run([ambition_bot(), *args], check=False, cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def url_of(folder: Path) -> str:
    return f"sqlite:///{folder / 'bot.sqlite3'}"


def said(done: subprocess.CompletedProcess[str]) -> str:
    """Everything printed, with the terminal's line wrapping undone."""
    return " ".join((done.stdout + done.stderr).split())


def workshop_id_in(printed: str) -> str:
    found = re.search(r"Workshoppen har id (w[0-9a-f]+)", printed)
    assert found, printed[-2000:]
    return found.group(1)


def load(folder: Path, workshop_id: str) -> Workshop:
    store = open_store(url_of(folder))
    try:
        with SqlUnitOfWork(store.sessions) as uow:
            ws = uow.workshops.get(workshop_id)
    finally:
        store.close()
    assert ws is not None
    return ws


def sheet_values(data: bytes, title: str) -> list[tuple[Any, ...]]:
    sheet = load_workbook(io.BytesIO(data))[title]
    return [row for row in sheet.iter_rows(values_only=True) if any(v is not None for v in row)]


def plan_table(data: bytes) -> list[dict[str, Any]]:
    header, *rows = sheet_values(data, "Handlingsplan")
    assert list(header) == [DA(f"excel.col.{c.key}") for c in PLAN_COLUMNS]
    return [dict(zip(COLUMN, row, strict=True)) for row in rows]


def edited(source: Path, target: Path, cells: dict[int, dict[str, Any]]) -> Path:
    book = load_workbook(source)
    sheet = book["Handlingsplan"]
    for row, values in cells.items():
        for key, value in values.items():
            sheet.cell(row=row, column=COLUMN[key]).value = value
    book.save(target)
    return target


# -- the demo, played once -----------------------------------------------------------------------
@dataclass(frozen=True)
class Played:
    folder: Path
    plan: Path
    workshop_id: str
    printed: str


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Played:
    folder = tmp_path_factory.mktemp("cli-demo")
    done = run(folder, "demo", "--out", "plans/handlingsplan.xlsx")
    assert done.returncode == 0, done.stderr[-3000:]
    return Played(folder, folder / "plans" / "handlingsplan.xlsx", workshop_id_in(said(done)),
                  said(done))


@pytest.fixture
def workdir(played: Played, tmp_path: Path) -> Path:
    """A folder of its own with a copy of the demo's database and plan, to write to."""
    shutil.copy(played.folder / "bot.sqlite3", tmp_path / "bot.sqlite3")
    shutil.copy(played.plan, tmp_path / "handlingsplan.xlsx")
    return tmp_path


# -- 1. demo --out ----------------------------------------------------------------------------------
def test_the_demo_writes_its_plan_where_it_was_told_and_says_so(played: Played) -> None:
    assert played.plan.is_file()
    assert f"Handlingsplanen er gemt her: {played.plan.resolve()}" in played.printed
    assert "Demoen er færdig" in played.printed
    assert "Traceback" not in played.printed

    ws = load(played.folder, played.workshop_id)
    data = played.plan.read_bytes()
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Handlingsplan", "Ambitioner", "Opfølgning", "Workshop"]
    rows = plan_table(data)
    assert len(rows) == len(ws.goals) == 8  # a row per SMART goal
    assert sorted(r["goal_id"] for r in rows) == sorted(ws.goals)
    for row in rows:
        goal = ws.goals[row["goal_id"]]
        assert (row["goal"], row["owner"], row["indicator"]) == (goal.text, goal.owner, goal.indicator)
        assert row["status"] == "ikke startet"
    assert not list(played.folder.glob("**/*.part"))  # no half-written file is left behind


# -- 2. export -----------------------------------------------------------------------------------------
def test_export_writes_the_stored_workshops_plan(played: Played, tmp_path: Path) -> None:
    shutil.copy(played.folder / "bot.sqlite3", tmp_path / "bot.sqlite3")

    done = run(tmp_path, "export", played.workshop_id, "--out", "eksport.xlsx")

    assert done.returncode == 0, done.stderr[-3000:]
    written = tmp_path / "eksport.xlsx"
    assert f"Handlingsplanen er gemt her: {written.resolve()}" in said(done)
    exported, demo = written.read_bytes(), played.plan.read_bytes()
    for title in ("Handlingsplan", "Ambitioner", "Opfølgning", "Workshop"):
        assert sheet_values(exported, title) == sheet_values(demo, title), title


def test_export_of_an_unknown_workshop_is_a_clear_message(played: Played, tmp_path: Path) -> None:
    shutil.copy(played.folder / "bot.sqlite3", tmp_path / "bot.sqlite3")

    done = run(tmp_path, "export", "wnosuchid", "--out", "plan.xlsx")

    assert done.returncode == 2
    assert "Der findes ingen workshop med id wnosuchid." in said(done)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3
    assert not (tmp_path / "plan.xlsx").exists()


# -- 3. import-plan ---------------------------------------------------------------------------------
def test_import_plan_saves_the_edits_and_says_how_many(played: Played, workdir: Path) -> None:
    plan = plan_table(played.plan.read_bytes())
    returned = edited(workdir / "handlingsplan.xlsx", workdir / "tilbage.xlsx",
                      {2: {"status": "i gang"}, 3: {"comment": "Tilbud er indhentet"}})

    done = run(workdir, "import-plan", played.workshop_id, str(returned))

    assert done.returncode == 0, said(done)
    assert "2 ændringer er gemt som opfølgning (importeret fra Excel)." in said(done)
    assert "6 rækker var uændrede." in said(done)
    followups = load(workdir, played.workshop_id).followups.values()
    assert {(f.goal_id, f.status, f.comment) for f in followups} == {
        (plan[0]["goal_id"], GoalStatus.IN_PROGRESS, ""),
        (plan[1]["goal_id"], GoalStatus.NOT_STARTED, "Tilbud er indhentet")}

    # the same file once more: nothing new
    again = run(workdir, "import-plan", played.workshop_id, str(returned))
    assert again.returncode == 0, said(again)
    assert "0 ændringer er gemt" in said(again) and "8 rækker var uændrede." in said(again)
    assert len(load(workdir, played.workshop_id).followups) == 2

    # and the next export shows them
    assert run(workdir, "export", played.workshop_id, "--out", "ny.xlsx").returncode == 0
    shown = {r["goal_id"]: (r["status"], r["comment"]) for r in plan_table((workdir / "ny.xlsx").read_bytes())}
    assert shown[plan[0]["goal_id"]] == ("i gang", None)
    assert shown[plan[1]["goal_id"]] == ("ikke startet", "Tilbud er indhentet")


def test_import_plan_with_a_bad_row_names_it_and_exits_1(played: Played, workdir: Path) -> None:
    plan = plan_table(played.plan.read_bytes())
    returned = edited(workdir / "handlingsplan.xlsx", workdir / "tilbage.xlsx",
                      {4: {"status": "halvvejs"}, 5: {"progress": 25}})

    done = run(workdir, "import-plan", played.workshop_id, str(returned))

    assert done.returncode == 1, said(done)
    assert "1 ændringer er gemt som opfølgning" in said(done)
    assert "1 rækker blev ikke læst:" in said(done)
    assert "Række 4: status »halvvejs« kendes ikke." in said(done)
    assert "Traceback" not in done.stderr
    [entry] = load(workdir, played.workshop_id).followups.values()  # the good row went in
    assert (entry.goal_id, entry.progress) == (plan[3]["goal_id"], 25)


def test_import_plan_of_a_file_that_is_not_a_workbook_exits_2(played: Played, workdir: Path) -> None:
    fake = workdir / "handlingsplan-retur.xlsx"
    fake.write_text("Mål-id;Status\nga8565f4725;i gang\n", encoding="utf-8")

    done = run(workdir, "import-plan", played.workshop_id, str(fake))

    assert done.returncode == 2
    assert "Filen er ikke en Excel-projektmappe (.xlsx)." in said(done)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3
    assert load(workdir, played.workshop_id).followups == {}


def test_import_plan_for_an_unknown_workshop_exits_2(played: Played, workdir: Path) -> None:
    done = run(workdir, "import-plan", "wnosuchid", str(workdir / "handlingsplan.xlsx"))

    assert done.returncode == 2
    assert "Der findes ingen workshop med id wnosuchid." in said(done)
    assert "Traceback" not in done.stderr


# -- 4. demo --measures ----------------------------------------------------------------------------
def test_the_demo_runs_on_the_målepunkter_of_a_danish_csv(tmp_path: Path) -> None:
    lines = [CSV_HEADER, *(";".join(row) for row in OWN_MEASURES)]
    # as Danish Excel saves »CSV (semikolonsepareret)«: Windows-1252, CRLF
    (tmp_path / "målepunkter.csv").write_bytes("\r\n".join(lines).encode("cp1252") + b"\r\n")

    done = run(tmp_path, "demo", "--measures", "målepunkter.csv", "--out", "plan.xlsx")

    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Handlingsplanen er gemt her: {(tmp_path / 'plan.xlsx').resolve()}" in said(done)
    data = (tmp_path / "plan.xlsx").read_bytes()
    header, *ambitions = sheet_values(data, "Ambitioner")
    assert header[1] == "Målepunkt"
    assert [(row[0][0], row[1], row[3]) for row in ambitions] == [
        (area, name, unit) for area, name, _, _, unit in OWN_MEASURES]
    assert all(row[-1] == "Ja" for row in ambitions)  # each agreed in plenum
    names = {name for _, name, *_ in OWN_MEASURES}
    goals = plan_table(data)
    assert goals and {row["measure"] for row in goals} == names
    ws = load(tmp_path, workshop_id_in(said(done)))
    assert sorted(m.name for m in ws.measures.values()) == sorted(names)


def test_the_demo_refuses_a_csv_with_an_unknown_area_and_runs_nothing(tmp_path: Path) -> None:
    rows = [CSV_HEADER, ";".join(OWN_MEASURES[0]), "X;Trivsel;Noget;1;antal", ";".join(OWN_MEASURES[2])]
    (tmp_path / "målepunkter.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    done = run(tmp_path, "demo", "--measures", "målepunkter.csv", "--out", "plan.xlsx")

    assert done.returncode == 2
    assert "Række 3: »X« er ikke et ESG-område. Skriv E, S eller G." in said(done)
    assert "Målepunkterne i »målepunkter.csv« er ikke indlæst" in said(done)
    assert "Traceback" not in done.stderr
    assert "Demoen er færdig" not in said(done)
    assert not (tmp_path / "plan.xlsx").exists()
    assert no_workshop_in(tmp_path)


def no_workshop_in(folder: Path) -> bool:
    if not (folder / "bot.sqlite3").exists():
        return True
    engine = create_engine(url_of(folder))
    try:
        if "workshops" not in inspect(engine).get_table_names():
            return True
        with engine.connect() as connection:
            return connection.execute(text("SELECT COUNT(*) FROM workshops")).scalar_one() == 0
    finally:
        engine.dispose()


def test_export_into_a_folder_that_does_not_exist_yet(played: Played, tmp_path: Path) -> None:
    shutil.copy(played.folder / "bot.sqlite3", tmp_path / "bot.sqlite3")

    done = run(tmp_path, "export", played.workshop_id, "--out", "planer/plan.xlsx")

    assert "Traceback" not in said(done) and "FileNotFoundError" not in said(done)
    assert done.returncode == 0 and (tmp_path / "planer" / "plan.xlsx").is_file()
