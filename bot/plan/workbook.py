"""The action plan (handlingsplan) as an Excel workbook the organisation keeps working in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain import agenda, followup
from bot.domain.groups import AREAS, members_of, working_groups
from bot.domain.model import (
    AmbitionStatus,
    GoalStatus,
    Level,
    Measure,
    SmartGoal,
    Workshop,
)
from bot.domain.names import slug
from bot.domain.numbers import parse_number
from bot.i18n import Translator
from bot.plan.cells import (
    SECTION_FONT,
    Column,
    Formats,
    Kind,
    Value,
    add_styles,
    fit_height,
    header_row,
    letter,
    put,
    put_text,
)

# Widths add up to what still prints readably on one A4 page across (about half size).
PLAN_COLUMNS = (
    Column("area", 12), Column("measure", 20), Column("level", 11), Column("sentence", 28),
    Column("goal", 32), Column("indicator", 17), Column("baseline", 12), Column("target", 12),
    Column("deadline", 11, "date"), Column("owner", 14), Column("next_step", 24),
    Column("status", 12), Column("progress", 10, "number"), Column("updated", 15, "datetime"),
    Column("comment", 22), Column("goal_id", 12),
)
AMBITION_COLUMNS = (
    Column("area", 14), Column("measure", 28), Column("current_value", 11, "number"),
    Column("unit", 14), Column("level", 12), Column("dots_minimum", 10, "integer"),
    Column("dots_medium", 10, "integer"), Column("dots_ambitious", 10, "integer"),
    Column("sentence", 44), Column("agreed", 11),
)
FOLLOWUP_COLUMNS = (
    Column("reported", 15, "datetime"), Column("area", 14), Column("measure", 24),
    Column("goal", 36), Column("status", 12), Column("progress", 10, "number"),
    Column("comment", 36), Column("reported_by", 18), Column("goal_id", 12),
)
SPECIALIST_COLUMNS = (
    Column("area", 14), Column("measure", 24), Column("specialist", 18), Column("situation", 34),
    Column("realistic", 34), Column("pitfalls", 34), Column("answered", 15, "datetime"),
)
AGENDA_COLUMNS = (
    Column("phase", 46), Column("planned_minutes", 13, "integer"),
    Column("planned_start", 16, "datetime"), Column("started", 16, "datetime"),
    Column("ended", 16, "datetime"), Column("actual_minutes", 13, "integer"),
)
OVERDUE_FILL = PatternFill("solid", fgColor="FFC7CE")  # Excel's own "light red fill"
OVERDUE_FONT = Font(bold=True, color="9C0006")
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def build_workbook(ws: Workshop, t: Translator, now: datetime) -> bytes:
    book = Workbook()
    names = {kind: t(f"excel.style.{kind}") for kind in ("text", "date", "datetime", "number",
                                                          "integer", "header")}
    formats = add_styles(book, names, t("excel.date_format"), t("excel.datetime_format"),
                         ZoneInfo(ws.timezone))
    _plan_sheet(book.active, ws, t, formats)
    _ambitions_sheet(book.create_sheet(), ws, t, formats)
    _followup_sheet(book.create_sheet(), ws, t, formats)
    if ws.specialists:
        _specialists_sheet(book.create_sheet(), ws, t, formats)
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
    """handlingsplan-boligselskabet-fjordly-2026-11-27.xlsx: plain ASCII, safe everywhere."""
    return f"{t('excel.filename')}-{slug(ws.title) or ws.id}-{ws.date.isoformat()}.xlsx"


def ordered_goals(ws: Workshop) -> list[SmartGoal]:
    return sorted(ws.goals.values(), key=lambda g: (_measure_order(ws.measures[g.measure_id]), g.number))


def _measure_order(measure: Measure) -> tuple[int, int]:
    return (AREAS.index(measure.area), measure.position)


def _area(t: Translator, measure: Measure) -> str:
    return t("excel.area", area=measure.area, name=t(f"area.{measure.area}"))


def _table(sheet: Worksheet, ws: Workshop, t: Translator, title: str, columns: Sequence[Column],
           rows: Iterable[Sequence[Value]], formats: Formats) -> int:
    """A sheet that is one table: styled frozen header, filter, wrapped cells, print set-up."""
    sheet.title = title
    widths = [c.width for c in columns]
    header_row(sheet, 1, [t(f"excel.col.{c.key}") for c in columns], formats, widths)
    fit_height(sheet, 1, widths)
    count = 0
    for count, values in enumerate(rows, start=1):
        for number, (column, value) in enumerate(zip(columns, values, strict=True), start=1):
            put(sheet.cell(row=count + 1, column=number), value, column.kind, formats)
        fit_height(sheet, count + 1, widths)
    last = get_column_letter(len(columns))
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    _print_setup(sheet, t, ws, repeat_header=True)
    return count


def _print_setup(sheet: Worksheet, t: Translator, ws: Workshop, repeat_header: bool) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages tall as it takes
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    if repeat_header:
        sheet.print_title_rows = "1:1"
    heading = t("excel.print_heading", title=ws.title, sheet=sheet.title)
    sheet.oddHeader.left.text = heading.replace("&", "&&")  # & starts a printing code
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
    count = _table(sheet, ws, t, t("excel.sheet.plan"), PLAN_COLUMNS,
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
    count = _table(sheet, ws, t, t("excel.sheet.ambitions"), AMBITION_COLUMNS,
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
    _table(sheet, ws, t, t("excel.sheet.followup"), FOLLOWUP_COLUMNS, rows, formats)


def _specialists_sheet(sheet: Worksheet, ws: Workshop, t: Translator, formats: Formats) -> None:
    """What the specialists who could not come said before the workshop (empty: not yet)."""
    asked = sorted((s for s in ws.specialists.values() if s.measure_id in ws.measures),
                   key=lambda s: (_measure_order(ws.measures[s.measure_id]), s.name))
    rows = ([_area(t, ws.measures[s.measure_id]), ws.measures[s.measure_id].name, s.name,
             s.situation, s.realistic, s.pitfalls, s.answered_at] for s in asked)
    _table(sheet, ws, t, t("excel.sheet.specialists"), SPECIALIST_COLUMNS, rows, formats)


def _reporter(ws: Workshop, t: Translator, who: str) -> str:
    if who == followup.FROM_EXCEL:
        return t("excel.from_excel")
    member = ws.members.get(who)
    return member.name if member else who


def _workshop_sheet(sheet: Worksheet, ws: Workshop, t: Translator, formats: Formats) -> None:
    """Facts, groups and the agenda, one block under the other; long text spans columns B–F."""
    sheet.title = t("excel.sheet.workshop")
    _print_setup(sheet, t, ws, repeat_header=False)
    widths = [c.width for c in AGENDA_COLUMNS]
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    names = [ws.members[f].name if f in ws.members else f for f in ws.facilitators]
    facts: list[tuple[str, Value, Kind]] = [
        (t("excel.organisation"), ws.title, "text"), (t("excel.date"), ws.date, "date"),
        (t("excel.facilitator"), t.join(names), "text"), (t("setup.mandate"), ws.mandate, "text"),
        (t("setup.language"), t(f"language.{ws.language}"), "text"),
        (t("excel.timezone"), ws.timezone, "text"),
    ]
    row = 1
    for label, value, kind in facts:
        _spanning(sheet, row, label, value, kind, formats, bold=True)
        row += 1
    row = _section(sheet, row + 1, t("excel.groups"))
    header_row(sheet, row, [t("excel.col.group"), t("excel.col.members")], formats)
    sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=len(AGENDA_COLUMNS))
    for group in working_groups(ws):
        row += 1
        label = t("excel.group", code=group.code, name=t(f"area.{group.area}"))
        _spanning(sheet, row, label, t.join([m.name for m in members_of(ws, group.code)]), "text", formats)
    _agenda_block(sheet, ws, t, _section(sheet, row + 2, t("excel.agenda")), formats)


def _spanning(sheet: Worksheet, row: int, label: str, value: Value, kind: Kind, formats: Formats,
              bold: bool = False) -> None:
    """A label in A and its value across B–F, as tall as the value needs."""
    put(sheet.cell(row=row, column=1), label, "text", formats)
    if bold:
        sheet.cell(row=row, column=1).font = Font(bold=True)
    put(sheet.cell(row=row, column=2), value, kind, formats)
    if kind != "text":
        sheet.cell(row=row, column=2).alignment = Alignment(horizontal="left", vertical="top")
    last = len(AGENDA_COLUMNS)
    sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=last)
    span = sum(c.width for c in AGENDA_COLUMNS[1:])
    fit_height(sheet, row, [AGENDA_COLUMNS[0].width, span])


def _section(sheet: Worksheet, row: int, title: str) -> int:
    put_text(sheet.cell(row=row, column=1), title)
    sheet.cell(row=row, column=1).font = SECTION_FONT
    return row + 1


def _agenda_block(sheet: Worksheet, ws: Workshop, t: Translator, row: int, formats: Formats) -> None:
    widths = [c.width for c in AGENDA_COLUMNS]
    header_row(sheet, row, [t(f"excel.col.{c.key}") for c in AGENDA_COLUMNS], formats)
    fit_height(sheet, row, widths)
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
        fit_height(sheet, row, widths)
