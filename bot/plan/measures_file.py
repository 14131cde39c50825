"""Read the målepunkter chosen at the prioritisation workshop from an uploaded CSV or XLSX file."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath

from bot.domain.model import Area
from bot.domain.numbers import parse_number
from bot.plan.problems import Problem

MAX_MEASURES = 9
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 1000  # rows after the header; far more than any list of målepunkter
LIMITS = {"name": 120, "description": 1000, "current_value": 40, "unit": 40}

Row = tuple[int, list[str]]  # (the row number a person sees, the cells as text)


@dataclass(frozen=True)
class ImportedMeasure:
    area: Area
    name: str
    description: str = ""
    current_value: str = ""
    unit: str = ""


@dataclass(frozen=True)
class MeasuresFile:
    measures: tuple[ImportedMeasure, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.measures)


_HEADERS = {
    "area": ("esg område", "område", "esg", "area", "esg area"),
    "name": ("målepunkt", "navn", "name", "measure", "measurement point"),
    "description": ("beskrivelse", "description"),
    "current_value": ("nuværende værdi", "værdi", "nuværende", "current value", "value", "baseline"),
    "unit": ("enhed", "unit"),
}
_AREAS = {"e": Area.E, "environmental": Area.E, "environment": Area.E, "miljø": Area.E,
          "s": Area.S, "social": Area.S, "socialt": Area.S, "sociale forhold": Area.S,
          "g": Area.G, "governance": Area.G, "ledelse": Area.G}
_SHEETS = ("målepunkter", "målepunkt", "measures", "measure")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")


def read_measures(filename: str, data: bytes) -> MeasuresFile:
    if len(data) > MAX_BYTES:
        return _fail("measures_file.too_big", max_mb=str(MAX_BYTES // 2**20))
    rows = _read_rows(filename, data)
    if rows is None:
        return _fail("measures_file.not_csv_xlsx", name=filename)
    return _parse(rows) if rows else _fail("measures_file.empty")


def _fail(key: str, **params: str) -> MeasuresFile:
    return MeasuresFile((), (Problem(0, key, params),))


def _read_rows(filename: str, data: bytes) -> list[Row] | None:
    """The non-empty rows, or None when the file is not a readable CSV or workbook."""
    kind = PurePath(filename).suffix.lower()
    try:
        if kind == ".csv" and not data.startswith(b"PK"):
            text = _decode(data)
            return None if text is None else _non_empty(_csv_rows(text))
        if kind == ".xlsx" and data.startswith(b"PK"):
            return _xlsx_rows(data)
    except Exception:  # noqa: BLE001 - a broken upload is for the user to fix, never a crash
        return None
    return None


def _decode(data: bytes) -> str | None:
    # Danish Excel saves "CSV (semikolonsepareret)" as Windows-1252, "CSV UTF-8" with a BOM.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # A stray control character is a typo; many, or a NUL, mean binary data.
        odd = sum(1 for ch in text if ch < " " and ch not in "\t\r\n")
        return None if "\x00" in text or odd > 3 + len(text) // 50 else text
    return None


def _csv_rows(text: str) -> Iterable[Row]:
    first = next((line for line in text.splitlines() if line.strip(" ;,\t")), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=max(";\t,", key=first.count))
    start = 1
    for cells in reader:
        yield start, cells
        start = reader.line_num + 1  # a quoted cell may span several lines


def _xlsx_rows(data: bytes) -> list[Row]:
    # Imported here, so that CSV files can be read without openpyxl installed.
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = [s for s in book.worksheets if s.title.strip().casefold() in _SHEETS] or book.worksheets
        if not sheets:
            return []
        sheets[0].reset_dimensions()  # stale dimensions written by other tools would cut rows off
        rows = enumerate(sheets[0].iter_rows(values_only=True), start=1)
        return _non_empty((n, [_cell_text(v) for v in row]) for n, row in rows)
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if not isinstance(value, float):
        return "" if value is None else str(value)
    # Round as Excel shows numbers (15 digits); never write 142.0 or 1e+20.
    text = format(Decimal(f"{value:.15g}"), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _non_empty(rows: Iterable[Row]) -> list[Row]:
    kept: list[Row] = []
    for number, cells in rows:
        if any(_clean(c) for c in cells):
            kept.append((number, cells))
            if len(kept) > MAX_ROWS + 1:  # the header, MAX_ROWS rows, and one to know there are more
                break
    return kept


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub("", text).strip()


def _parse(rows: list[Row]) -> MeasuresFile:
    (_, header), body = rows[0], rows[1:]
    columns = _columns(header)
    missing = [c for c in ("area", "name") if c not in columns]
    if missing:
        return MeasuresFile((), tuple(Problem(0, "measures_file.missing_column", {"column": c}) for c in missing))
    measures: list[ImportedMeasure] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, cells in body[:MAX_ROWS]:
        values = {f: _text(f, _cell(cells, columns.get(f))) for f in _HEADERS}
        if any(values.values()):  # a row with text only in columns we ignore is no row for us
            measure, found = _row(number, values, seen)
            problems += found
            if measure:
                measures.append(measure)
    if len(body) > MAX_ROWS or len(measures) > MAX_MEASURES:
        count = f"{MAX_ROWS}+" if len(body) > MAX_ROWS else str(len(measures))
        problems.append(Problem(0, "measures_file.too_many", {"count": count, "max": str(MAX_MEASURES)}))
    if not measures and not problems:
        problems.append(Problem(0, "measures_file.empty"))
    return MeasuresFile(tuple(measures), tuple(problems))


def _columns(header: list[str]) -> dict[str, int]:
    """Which column holds which field; the first matching header wins."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        title = " ".join(_clean(cell).casefold().replace("-", " ").replace("_", " ").split()).rstrip(":* ")
        for name, titles in _HEADERS.items():
            if title in titles:
                columns.setdefault(name, index)
    return columns


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""  # rows may be short


def _text(column: str, cell: str) -> str:
    # A description may keep its line breaks; everything else is one line.
    return _clean(cell) if column == "description" else " ".join(_clean(cell).split())


def _row(number: int, values: dict[str, str], seen: dict[str, int]) -> tuple[ImportedMeasure | None, list[Problem]]:
    problems: list[Problem] = []

    def problem(key: str, **params: str) -> None:
        problems.append(Problem(number, key, params))

    area, name, value = _area(values["area"]), values["name"], values["current_value"]
    if not values["area"]:
        problem("measures_file.empty_area")
    elif area is None:
        problem("measures_file.unknown_area", value=values["area"][:40])
    if not name:
        problem("measures_file.empty_name")
    elif seen.setdefault(name.casefold(), number) != number:
        problem("measures_file.duplicate", name=name, first=str(seen[name.casefold()]))
    for column, limit in LIMITS.items():
        if len(values[column]) > limit:
            problem("measures_file.too_long", column=column, max=str(limit))
    if value and len(value) <= LIMITS["current_value"] and parse_number(value) is None:
        problem("measures_file.not_a_number", value=value)
    if problems or area is None:
        return None, problems
    return ImportedMeasure(area, name, values["description"], value, values["unit"]), []


def _area(text: str) -> Area | None:
    key = text.casefold()
    # Also take "E – Miljø" or "Miljø og klima": the first word names the area.
    return _AREAS.get(key) or _AREAS.get(re.split(r"[\s\-–:(/.]+", key, maxsplit=1)[0])
