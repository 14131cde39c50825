"""Målepunkter from the prioritisation workshop, sent as a CSV or Excel file with `measures`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.domain.model import Measure, Phase
from bot.domain.names import slug
from bot.events import Command
from bot.flow import setup
from bot.flow.turn import Refusal, Turn
from bot.i18n import Translator
from bot.plan.measures_file import ImportedMeasure, read_measures
from bot.plan.problems import Problem

MAX_SHOWN = 12  # problems listed in the answer; a file of 500 bad rows needs no 500 lines


def import_measures(turn: Turn, args: Sequence[str]) -> None:
    turn.require_facilitator("setup")
    turn.require_phase(Phase.SETUP)
    files = turn.event.files if isinstance(turn.event, Command) else ()
    if not files:
        raise Refusal("measures_file.how", word=turn.t("command.measures"))
    file = files[0]
    result = read_measures(file.name, file.data)
    if not result.ok:
        raise Refusal("measures_file.refused", name=file.name, problems=describe(turn.t, result.problems))
    # What the facilitator wrote about why a målepunkt was chosen follows its name.
    kept = {m.name.casefold(): m.why for m in turn.ws.measures.values()}
    for measure in list(turn.ws.measures.values()):
        turn.delete(measure)
    for measure in to_measures(result.measures):
        turn.save(replace(measure, why=kept.get(measure.name.casefold(), "")))
    turn.reply(turn.t("measures_file.imported", count=len(result.measures), name=file.name))
    setup.refresh_setup(turn)


def to_measures(rows: Sequence[ImportedMeasure]) -> list[Measure]:
    """Målepunkter with readable ids made from their names (unique within the file)."""
    measures: list[Measure] = []
    for position, row in enumerate(rows, start=1):
        base = measure_id = f"{row.area}-{slug(row.name) or position}"
        while any(m.id == measure_id for m in measures):
            measure_id = f"{base}-{position}"
        measures.append(Measure(id=measure_id, area=row.area, name=row.name,
                                description=row.description, unit=row.unit,
                                current_value=row.current_value, group=row.area.value,
                                position=position))
    return measures


def describe(t: Translator, problems: Sequence[Problem]) -> str:
    lines = []
    for problem in problems[:MAX_SHOWN]:
        params = dict(problem.params)
        if "column" in params and t.has(f"measures_file.column.{params['column']}"):
            params["column"] = t(f"measures_file.column.{params['column']}")
        text = t(problem.key, **params)
        lines.append(f"• {t('measures_file.row', row=problem.row, problem=text) if problem.row else text}")
    if len(problems) > MAX_SHOWN:
        lines.append(t("measures_file.more", count=len(problems) - MAX_SHOWN))
    return "\n".join(lines)
