"""Writing cells the way a careful person would: text stays text, dates stay dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

# A spreadsheet evaluates text that starts like this when someone edits the cell, and a
# CSV export of it evaluates at once: such text is marked as literal (Excel's leading ').
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Kind = Literal["text", "date", "datetime", "number", "integer"]
Value = str | date | datetime | float | int | None

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E5F")
SECTION_FONT = Font(bold=True, size=13)
THIN = Side(style="thin", color="B7C4C8")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER_ALIGN = Alignment(wrap_text=True, vertical="center")


@dataclass(frozen=True)
class Column:
    key: str  # names the header in the catalogs: excel.col.<key>
    width: float
    kind: Kind = "text"


@dataclass(frozen=True)
class Formats:
    date: str  # an Excel number format, e.g. DD.MM.YYYY
    datetime: str
    zone: ZoneInfo  # moments are shown in the workshop's local time (Excel has no zones)


def put(cell: Cell, value: Value, kind: Kind, formats: Formats) -> None:
    if value is None or value == "":
        cell.value = None
    elif kind == "text":
        put_text(cell, str(value))
    elif kind == "datetime" and isinstance(value, datetime):
        local = value.astimezone(formats.zone) if value.tzinfo else value
        cell.value = local.replace(tzinfo=None, second=0, microsecond=0)
        cell.number_format = formats.datetime
    elif kind == "date" and isinstance(value, date):
        cell.value = value
        cell.number_format = formats.date
    else:
        cell.value = value
        cell.number_format = "0" if kind == "integer" else "General"
    cell.alignment = WRAP
    cell.border = BORDER


def put_text(cell: Cell, text: str) -> None:
    """User text, literally: never a formula, never a character Excel would refuse."""
    value = ILLEGAL_CHARACTERS_RE.sub("", text)
    cell.value = value
    cell.data_type = "s"
    if value.startswith(FORMULA_START):
        cell.quotePrefix = True


def header_row(sheet: Worksheet, row: int, labels: Sequence[str], widths: Sequence[float] = ()) -> None:
    for number, label in enumerate(labels, start=1):
        cell = sheet.cell(row=row, column=number)
        put_text(cell, label)
        cell.font, cell.fill, cell.alignment, cell.border = HEADER_FONT, HEADER_FILL, HEADER_ALIGN, BORDER
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width


def letter(columns: Sequence[Column], key: str) -> str:
    return get_column_letter([c.key for c in columns].index(key) + 1)
