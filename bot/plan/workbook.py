"""The action plan (handlingsplan) as an Excel workbook the organisation keeps working in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain import agenda, followup
from bot.domain.groups import AREAS, members_of, working_groups
from bot.domain.model import AmbitionStatus, GoalStatus, Level, Measure, SmartGoal, Workshop
from bot.domain.numbers import parse_number
from bot.i18n import Translator
from bot.plan.cells import (SECTION_FONT, Column, Formats, Value, header_row, letter, put,
                            put_text)

PLAN_COLUMNS = (
    Column("area", 16), Column("measure", 28), Column("level", 12), Column("sentence", 40),
    Column("goal", 45), Column("indicator", 26), Column("baseline", 14), Column("target", 14),
    Column("deadline", 12, "date"), Column("owner", 20), Column("next_step", 34),
    Column("status", 14), Column("progress", 11, "number"), Column("updated", 17, "datetime"),
    Column("comment", 34), Column("goal_id", 13),
)
AMBITION_COLUMNS = (
    Column("area", 16), Column("measure", 30), Column("current_value", 13, "number"),
    Column("unit", 14), Column("level", 12), Column("dots_minimum", 11, "integer"),
    Column("dots_medium", 11, "integer"), Column("dots_ambitious", 11, "integer"),
    Column("sentence", 50), Column("agreed", 12),
)
FOLLOWUP_COLUMNS = (
    Column("reported", 17, "datetime"), Column("area", 16), Column("measure", 28),
    Column("goal", 45), Column("status", 14), Column("progress", 11, "number"),
    Column("comment", 40), Column("reported_by", 22), Column("goal_id", 13),
)
AGENDA_COLUMNS = (
    Column("phase", 44), Column("planned_minutes", 14, "integer"),
    Column("planned_start", 17, "datetime"), Column("started", 17, "datetime"),
    Column("ended", 17, "datetime"), Column("actual_minutes", 14, "integer"),
)
OVERDUE_FILL = PatternFill("solid", fgColor="FFC7CE")  # Excel's own "light red fill"
OVERDUE_FONT = Font(bold=True, color="9C0006")
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def build_workbook(ws: Workshop, t: Translator, now: datetime) -> bytes:
    formats = Formats(t("excel.date_format"), t("excel.datetime_format"), ZoneInfo(ws.timezone))
    book = Workbook()
    _plan_sheet(book.active, ws, t, formats)
    _ambitions_sheet(book.create_sheet(), ws, t, formats)
    _followup_sheet(book.create_sheet(), ws, t, formats)
    _workshop_sheet(book.create_sheet(), ws, t, formats)
    book.properties.title = t("excel.document_title", title=ws.title)
    book.properties.creator = book.properties.lastModifiedBy = ws.title
    book.properties.subject = t("excel.document_subject")
    book.properties.language = t("excel.document_language")
    book.properties.created = book.properties.modified = now.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def plan_filename(ws: Workshop, t: Translator) -> str:
    """handlingsplan-boligselskabet-fjordly-2026-11-27.xlsx: safe on every file system."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in ws.title.casefold())
    slug = "-".join(part for part in slug.split("-") if part)[:40].strip("-")
    return f"{t('excel.filename')}-{slug or ws.id}-{ws.date.isoformat()}.xlsx"


def ordered_goals(ws: Workshop) -> list[SmartGoal]:
    return sorted(ws.goals.values(), key=lambda g: (_measure_order(ws.measures[g.measure_id]), g.number))


def _measure_order(measure: Measure) -> tuple[int, int]:
    return (AREAS.index(measure.area), measure.position)


def _area(t: Translator, measure: Measure) -> str:
    return t("excel.area", area=measure.area, name=t(f"area.{measure.area}"))


def _table(sheet: Worksheet, t: Translator, title: str, columns: Sequence[Column],
           rows: Iterable[Sequence[Value]], formats: Formats) -> int:
    """A sheet that is one table: styled frozen header, filter, wrapped cells, print set-up."""
    sheet.title = title
    header_row(sheet, 1, [t(f"excel.col.{c.key}") for c in columns], [c.width for c in columns])
    count = 0
    for count, values in enumerate(rows, start=1):
        for number, (column, value) in enumerate(zip(columns, values, strict=True), start=1):
            put(sheet.cell(row=count + 1, column=number), value, column.kind, formats)
    last = get_column_letter(len(columns))
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    _print_setup(sheet, t, title, repeat_header=True)
    return count


def _print_setup(sheet: Worksheet, t: Translator, title: str, repeat_header: bool) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages tall as it takes
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    if repeat_header:
        sheet.print_title_rows = "1:1"
    sheet.oddHeader.left.text = title.replace("&", "&&")
    sheet.oddFooter.right.text = t("excel.page")


def _choices(sheet: Worksheet, column: str, rows: int, options: Sequence[str], t: Translator) -> None:
    """A dropdown on the column that refuses anything else, with a translated explanation."""
    listed = ",".join(option.replace('"', "") for option in options)
    rule = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True,
                          showErrorMessage=True, errorTitle=t("excel.choice_title"),
                          error=t("excel.choice_error", options=", ".join(options)))
    sheet.add_data_validation(rule)
    rule.add(f"{column}2:{column}{max(rows, 1) + 1}")


def _levels(t: Translator) -> list[str]:
    return [t(f"level.{level}.name") for level in Level]


def _plan_sheet(sheet: Worksheet, ws: Workshop, t: Translator, formats: Formats) -> None:
    goals = ordered_goals(ws)
    count = _table(sheet, t, t("excel.sheet.plan"), PLAN_COLUMNS,
                   (_plan_row(ws, t, goal) for goal in goals), formats)
    statuses = [t(f"goal_status.{s}") for s in GoalStatus]
    _choices(sheet, letter(PLAN_COLUMNS, "status"), count, statuses, t)
    _choices(sheet, letter(PLAN_COLUMNS, "level"), count, _levels(t), t)
    deadline, status = letter(PLAN_COLUMNS, "deadline"), letter(PLAN_COLUMNS, "status")
    done = t(f"goal_status.{GoalStatus.DONE}").replace('"', '""')
    overdue = f'AND(ISNUMBER(${deadline}2),${deadline}2<TODAY(),${status}2<>"{done}")'
    last = get_column_letter(len(PLAN_COLUMNS))
    sheet.conditional_formatting.add(f"A2:{last}{max(count, 1) + 1}",
                                     FormulaRule(formula=[overdue], fill=OVERDUE_FILL,
                                                 font=OVERDUE_FONT, stopIfTrue=False))


def _plan_row(ws: Workshop, t: Translator, goal: SmartGoal) -> list[Value]:
    measure = ws.measures[goal.measure_id]
    ambition = ws.ambitions.get(goal.measure_id)
    entry = followup.latest(ws, goal.id)
    return [
        _area(t, measure), measure.name,
        t(f"level.{ambition.level}.name") if ambition else "", ambition.sentence if ambition else "",
        goal.text, goal.indicator, goal.baseline, goal.target, goal.deadline, goal.owner,
        goal.next_step, t(f"goal_status.{followup.status_of(ws, goal.id)}"),
        entry.progress if entry else None, followup.last_updated(ws, goal),
        entry.comment if entry else "", goal.id,
    ]


def _ambitions_sheet(sheet: Worksheet, ws: Workshop, t: Translator, formats: Formats) -> None:
    measures = sorted(ws.measures.values(), key=_measure_order)
    count = _table(sheet, t, t("excel.sheet.ambitions"), AMBITION_COLUMNS,
                   (_ambition_row(ws, t, m) for m in measures), formats)
    _choices(sheet, letter(AMBITION_COLUMNS, "level"), count, _levels(t), t)
    _choices(sheet, letter(AMBITION_COLUMNS, "agreed"), count, [t("common.answer.yes"), t("common.answer.no")], t)


def _ambition_row(ws: Workshop, t: Translator, measure: Measure) -> list[Value]:
    ambition = ws.ambitions.get(measure.id)
    dots = [sum(1 for v in ws.votes.values() if v.measure_id == measure.id and v.level == level)
            for level in Level]
    current = parse_number(measure.current_value)
    agreed = ambition is not None and ambition.status == AmbitionStatus.AGREED
    return [
        _area(t, measure), measure.name,
        current if current is not None else measure.current_value or None, measure.unit,
        t(f"level.{ambition.level}.name") if ambition else "", *dots,
        ambition.sentence if ambition else "", t("common.answer.yes") if agreed else t("common.answer.no"),
    ]


def _followup_sheet(sheet: Worksheet, ws: Workshop, t: Translator, formats: Formats) -> None:
    rows = []
    for entry in followup.history(ws):
        goal = ws.goals.get(entry.goal_id)
        measure = ws.measures.get(goal.measure_id) if goal else None
        rows.append([entry.updated_at, _area(t, measure) if measure else "",
                     measure.name if measure else "", goal.text if goal else "",
                     t(f"goal_status.{entry.status}"), entry.progress, entry.comment,
                     _reporter(ws, t, entry.updated_by), entry.goal_id])
    _table(sheet, t, t("excel.sheet.followup"), FOLLOWUP_COLUMNS, rows, formats)


def _reporter(ws: Workshop, t: Translator, who: str) -> str:
    if who == followup.FROM_EXCEL:
        return t("excel.from_excel")
    member = ws.members.get(who)
    return member.name if member else who


def _workshop_sheet(sheet: Worksheet, ws: Workshop, t: Translator, formats: Formats) -> None:
    sheet.title = t("excel.sheet.workshop")
    _print_setup(sheet, t, sheet.title, repeat_header=False)
    names = [ws.members[f].name if f in ws.members else f for f in ws.facilitators]
    facts: list[tuple[str, Value, str]] = [
        (t("excel.organisation"), ws.title, "text"), (t("excel.date"), ws.date, "date"),
        (t("excel.facilitator"), t.join(names), "text"), (t("setup.mandate"), ws.mandate, "text"),
        (t("setup.language"), t(f"language.{ws.language}"), "text"),
        (t("excel.timezone"), ws.timezone, "text"),
    ]
    row = 1
    for label, value, kind in facts:
        put_text(sheet.cell(row=row, column=1), label)
        sheet.cell(row=row, column=1).font = Font(bold=True)
        put(sheet.cell(row=row, column=2), value, kind, formats)  # type: ignore[arg-type]
        row += 1
    row = _groups_block(sheet, ws, t, row + 1, formats)
    _agenda_block(sheet, ws, t, row + 1, formats)
    for number, column in enumerate(AGENDA_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = max(column.width, 18 if number > 1 else 30)
    sheet.column_dimensions["B"].width = 60


def _section(sheet: Worksheet, row: int, title: str) -> int:
    put_text(sheet.cell(row=row, column=1), title)
    sheet.cell(row=row, column=1).font = SECTION_FONT
    return row + 1


def _groups_block(sheet: Worksheet, ws: Workshop, t: Translator, row: int, formats: Formats) -> int:
    row = _section(sheet, row, t("excel.groups"))
    header_row(sheet, row, [t("excel.col.group"), t("excel.col.members")])
    for group in working_groups(ws):
        row += 1
        put(sheet.cell(row=row, column=1), t("excel.group", code=group.code,
                                              name=t(f"area.{group.area}")), "text", formats)
        put(sheet.cell(row=row, column=2), t.join([m.name for m in members_of(ws, group.code)]),
            "text", formats)
    return row + 1


def _agenda_block(sheet: Worksheet, ws: Workshop, t: Translator, row: int, formats: Formats) -> int:
    row = _section(sheet, row, t("excel.agenda"))
    header_row(sheet, row, [t(f"excel.col.{c.key}") for c in AGENDA_COLUMNS])
    runs = {run.phase: run for run in ws.phase_log}
    planned = dict(agenda.schedule(ws.durations, ws.phase_log[0].started_at)) if ws.phase_log else {}
    for phase in agenda.planned(ws.durations):
        row += 1
        run = runs.get(phase)
        actual = None
        if run and run.ended_at:
            actual = round((run.ended_at - run.started_at).total_seconds() / 60)
        values: list[Value] = [t(f"phase.{phase}.name"), ws.durations[phase], planned.get(phase),
                               run.started_at if run else None, run.ended_at if run else None, actual]
        for number, (column, value) in enumerate(zip(AGENDA_COLUMNS, values, strict=True), start=1):
            put(sheet.cell(row=row, column=number), value, column.kind, formats)
    return row + 1
