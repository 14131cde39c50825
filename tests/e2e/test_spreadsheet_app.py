"""The demo's action plan in a real spreadsheet application (LibreOffice, headless).

LibreOffice refuses or "repairs" a file that breaks the format; converting it to PDF and CSV
shows what a person would see: every sheet printable, dates as local dates, and user text
that looks like a formula shown as text instead of being evaluated.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.console.demo_content import DA
from tests.e2e.test_demo import play

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) is not installed; .ci/run installs libreoffice-calc-nogui")


@pytest.fixture(scope="module")
def demo_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    plan = folder / "handlingsplan.xlsx"
    play(f"sqlite:///{folder / 'demo.sqlite3'}", "da", plan)
    return plan


def convert(plan: Path, target: str, folder: Path) -> Path:
    profile = (folder / "profile").as_uri()  # its own profile: parallel runs never share one
    done = subprocess.run(
        [str(SOFFICE), f"-env:UserInstallation={profile}", "--headless", "--norestore",
         "--convert-to", target, "--outdir", str(folder), str(plan)],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    out = folder / (plan.stem + "." + target.split(":")[0])
    assert out.exists(), done.stdout + done.stderr
    return out


def test_every_sheet_prints_on_a4_landscape(demo_plan: Path, tmp_path: Path) -> None:
    pdf = convert(demo_plan, "pdf", tmp_path).read_bytes()

    assert pdf.startswith(b"%PDF")
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf)
    assert len(pages) >= 4  # one sheet fits one page across, so four sheets give four pages
    assert re.search(rb"/MediaBox\s*\[\s*0 0 841\.\d+ 595\.\d+", pdf)  # A4, landscape


def test_the_plan_reads_as_text_and_dates_in_a_spreadsheet(demo_plan: Path, tmp_path: Path) -> None:
    # 44 = comma separated, 34 = quoted, 76 = UTF-8, 1 = from the first line: the plan sheet
    exported = convert(demo_plan, 'csv:Text - txt - csv (StarCalc):44,34,76,1', tmp_path)
    rows = list(csv.reader(exported.read_text("utf-8").splitlines()))
    header, body = rows[0], rows[1:]

    assert header[:5] == ["ESG-område", "Målepunkt", "Ambitionsniveau", "Ambitionssætning", "SMART-mål"]
    assert len(body) == 8  # the demo's eight SMART goals
    column = {name: header.index(name) for name in ("Næste skridt", "Deadline", "Status")}
    steps = [row[column["Næste skridt"]] for row in body]
    assert DA.injected_step in steps  # shown as typed, never run as a formula
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4}", row[column["Deadline"]]) for row in body)
    assert {row[column["Status"]] for row in body} == {"ikke startet"}
