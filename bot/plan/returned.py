"""A plan that owners edited in Excel, read back: status, progress and comment per goal id.

Only those three columns are read. Every changed row becomes one follow-up entry; nothing
already recorded is changed or removed, so importing the same file twice records nothing new.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from io import BytesIO
from typing import Any

from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain import followup
from bot.domain.model import FollowUp, GoalStatus, Workshop
from bot.domain.numbers import parse_number, show_number
from bot.i18n import LANGUAGES, Translator
from bot.plan.problems import Problem
from bot.plan.workbook import PLAN_COLUMNS
from bot.ports import ConcurrencyConflict, UnitOfWork

READ = ("status", "progress", "comment")
MAX_COMMENT = 2000
ATTEMPTS = 3


@dataclass(frozen=True)
class Returned:
    recorded: tuple[FollowUp, ...]
    unchanged: int
    problems: tuple[Problem, ...]


class NotAPlan(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.key)
        self.problem = problem


def import_plan(units: Callable[[], UnitOfWork], workshop_id: str, data: bytes,
                now: datetime) -> Returned:
    """Read `data` back into the stored workshop in one transaction (retried on a race)."""
    for attempt in range(ATTEMPTS):
        try:
            with units() as uow:
                ws = uow.workshops.get(workshop_id)
                if ws is None:
                    raise LookupError(workshop_id)
                result = read_back(ws, data, now)
                if result.recorded:
                    after = replace(ws, followups={**ws.followups,
                                                   **{e.id: e for e in result.recorded}})
                    uow.workshops.save(ws, after, followup.FROM_EXCEL, now)
                    uow.commit()
                return result
        except ConcurrencyConflict:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def read_back(ws: Workshop, data: bytes, now: datetime) -> Returned:
    """What the returned file changes; raises NotAPlan when it is not this bot's plan at all."""
    sheet, columns = _plan_sheet(data)
    recorded: list[FollowUp] = []
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    unchanged = 0
    for number, cells in _rows(sheet, columns):
        try:
            entry = _row(ws, number, cells, first_row, now)
        except _RowRefused as refused:
            problems.append(refused.problem)
            continue
        if entry is None:
            unchanged += 1
        else:
            recorded.append(entry)
    return Returned(tuple(recorded), unchanged, tuple(problems))


class _RowRefused(Exception):
    def __init__(self, row: int, key: str, **params: str) -> None:
        super().__init__(key)
        self.problem = Problem(row, f"plan_import.{key}", params)


@cache
def _headers() -> dict[str, str]:
    """Header text (either language, any case) → column key."""
    names: dict[str, str] = {}
    for language in LANGUAGES:
        t = Translator(language)
        for column in PLAN_COLUMNS:
            names[t(f"excel.col.{column.key}").casefold()] = column.key
    return names


def _plan_sheet(data: bytes) -> tuple[Worksheet, dict[str, int]]:
    try:
        book = load_workbook(BytesIO(data), data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a file that is not a workbook
        raise NotAPlan(Problem(0, "plan_import.not_xlsx")) from error
    known = _headers()
    candidates = []
    for sheet in book.worksheets:
        header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
        columns = {known[str(v).strip().casefold()]: i for i, v in enumerate(header)
                   if v is not None and str(v).strip().casefold() in known}
        if "goal_id" in columns:
            candidates.append((len(columns), sheet, columns))
    if not candidates:
        raise NotAPlan(Problem(0, "plan_import.no_plan_sheet"))
    # The plan sheet has the most of its own columns, wherever it was moved to (the
    # follow-up history has a goal id, status and comment too).
    _, sheet, columns = max(candidates, key=lambda c: c[0])
    if not any(key in columns for key in READ):
        raise NotAPlan(Problem(0, "plan_import.nothing_to_read"))
    return sheet, columns


def _rows(sheet: Worksheet, columns: Mapping[str, int]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, row in enumerate(sheet.iter_rows(min_row=2), start=2):
        cells = {key: _value(row[index]) if index < len(row) else None for key, index in columns.items()}
        if any(_text(v) for v in cells.values()):
            yield number, cells


def _value(cell: Cell) -> Any:
    """What the person sees: "40 %" typed in Excel is stored as 0.4 in a percent format."""
    if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool) \
            and "%" in (cell.number_format or ""):
        return round(cell.value * 100, 10)
    return cell.value


def _row(ws: Workshop, number: int, cells: Mapping[str, Any], first_row: dict[str, int],
         now: datetime) -> FollowUp | None:
    goal_id = _text(cells.get("goal_id"))
    if not goal_id:
        raise _RowRefused(number, "no_goal_id")
    if goal_id not in ws.goals:
        raise _RowRefused(number, "unknown_goal", goal=goal_id)
    if goal_id in first_row:
        raise _RowRefused(number, "duplicate_goal", goal=goal_id, first=str(first_row[goal_id]))
    first_row[goal_id] = number
    before = followup.latest(ws, goal_id)
    old = (followup.status_of(ws, goal_id), before.progress if before else None,
           before.comment if before else "")
    new = (_status(number, cells, old[0]), _progress(number, cells, old[1]),
           _comment(number, cells, old[2]))
    if new == old:
        return None
    return FollowUp(id="x" + uuid.uuid4().hex[:12], goal_id=goal_id, status=new[0],
                    progress=new[1], comment=new[2], version=1, updated_by=followup.FROM_EXCEL,
                    updated_at=now)


@cache
def _statuses() -> dict[str, GoalStatus]:
    names = {status.value: status for status in GoalStatus}
    for language in LANGUAGES:
        t = Translator(language)
        names.update({t(f"goal_status.{s}").casefold(): s for s in GoalStatus})
    return names


def _status(number: int, cells: Mapping[str, Any], old: GoalStatus) -> GoalStatus:
    value = _text(cells.get("status"))
    if not value:  # a cleared cell says nothing new about the goal
        return old
    found = _statuses().get(value.casefold())
    if found is None:
        raise _RowRefused(number, "bad_status", value=value)
    return found


def _progress(number: int, cells: Mapping[str, Any], old: float | None) -> float | None:
    if "progress" not in cells:
        return old
    value = cells["progress"]
    if isinstance(value, bool):
        raise _RowRefused(number, "bad_progress", value=str(value))
    if isinstance(value, (int, float)):
        return float(value)
    text = _text(value)
    if not text:
        return None
    parsed = parse_number(text)
    if parsed is None:
        raise _RowRefused(number, "bad_progress", value=text)
    return parsed


def _comment(number: int, cells: Mapping[str, Any], old: str) -> str:
    if "comment" not in cells:
        return old
    text = _text(cells["comment"])
    if len(text) > MAX_COMMENT:
        raise _RowRefused(number, "comment_too_long", length=str(len(text)), max=str(MAX_COMMENT))
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return show_number(value)
    return str(value).strip()


def describe(problems: Sequence[Problem], t: Translator) -> list[str]:
    """One line per problem, in the language of the person who imported."""
    return [t("plan_import.row", row=p.row, problem=t(p.key, **p.params)) if p.row
            else t(p.key, **p.params) for p in problems]
