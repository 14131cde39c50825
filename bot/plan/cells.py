"""Writing cells the way a careful person would: text stays text, dates stay dates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
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
LINE_HEIGHT = 15  # points per line of 11 pt text


@dataclass(frozen=True)
class Column:
    key: str  # names the header in the catalogs: excel.col.<key>
    width: float
    kind: Kind = "text"


@dataclass(frozen=True)
class Formats:
    """How each kind of value looks, as named cell styles of the workbook (setting a named
    style is several times faster than setting font, border and alignment cell by cell)."""

    styles: Mapping[str, str]  # Kind, or "header" -> the style's name
    zone: ZoneInfo  # moments are shown in the workshop's local time (Excel has no zones)


def add_styles(book: Workbook, names: Mapping[str, str], date_format: str, datetime_format: str,
               zone: ZoneInfo) -> Formats:
    """Register the workbook's cell styles; `names` gives each kind's name in the gallery."""
    number_formats = {"text": "@", "date": date_format, "datetime": datetime_format,
                      "number": "General", "integer": "0"}
    for kind, number_format in number_formats.items():
        book.add_named_style(NamedStyle(name=names[kind], number_format=number_format,
                                        alignment=WRAP, border=BORDER))
    book.add_named_style(NamedStyle(name=names["header"], font=HEADER_FONT, fill=HEADER_FILL,
                                    alignment=HEADER_ALIGN, border=BORDER))
    return Formats(names, zone)


def put(cell: Cell, value: Value, kind: Kind, formats: Formats) -> None:
    cell.style = formats.styles[kind]
    if value is None or value == "":
        cell.value = None
    elif isinstance(value, str):  # whatever the column holds, typed text stays text
        put_text(cell, value)
    elif kind == "datetime" and isinstance(value, datetime):
        local = value.astimezone(formats.zone) if value.tzinfo else value
        cell.value = local.replace(tzinfo=None, second=0, microsecond=0)
    else:
        cell.value = value


def put_text(cell: Cell, text: str) -> None:
    """User text, literally: never a formula, never a character Excel would refuse."""
    value = ILLEGAL_CHARACTERS_RE.sub("", text)
    cell.value = value
    cell.data_type = "s"
    if value.startswith(FORMULA_START):
        cell.quotePrefix = True


def header_row(sheet: Worksheet, row: int, labels: Sequence[str], formats: Formats,
               widths: Sequence[float] = ()) -> None:
    for number, label in enumerate(labels, start=1):
        cell = sheet.cell(row=row, column=number)
        cell.style = formats.styles["header"]
        put_text(cell, label)
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width


def fit_height(sheet: Worksheet, row: int, widths: Sequence[float], minimum: int = 1) -> None:
    """Make the row tall enough for its wrapped text. Spreadsheet programs do not grow rows by
    themselves when they open a file, so without this long text is cut off or overlaps."""
    lines = minimum
    for number, width in enumerate(widths, start=1):
        value = sheet.cell(row=row, column=number).value
        if isinstance(value, str):
            per_line = max(1, int(width * 1.15) - 1)  # a column width unit is about one digit
            lines = max(lines, sum(-(-len(part) // per_line) or 1 for part in value.split("\n")))
    sheet.row_dimensions[row].height = LINE_HEIGHT * lines + 3


def letter(columns: Sequence[Column], key: str) -> str:
    return get_column_letter([c.key for c in columns].index(key) + 1)
