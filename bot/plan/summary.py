"""The action plan (handlingsplan) as a readable message: area → målepunkt → goals."""

from __future__ import annotations

from bot.domain.groups import AREAS
from bot.domain.model import AmbitionStatus, Workshop
from bot.i18n import Translator
from bot.ui import Block, Fields, Heading, Message, Note, Text


def plan_message(ws: Workshop, t: Translator) -> Message:
    blocks: list[Block] = [Heading(t("plan.heading", title=ws.title)),
                           Note(t("plan.dated", date=t.date(ws.date)))]
    measures = sorted(ws.measures.values(), key=lambda m: m.position)
    for area in AREAS:
        mine = [m for m in measures if m.area == area]
        if not mine:
            continue
        blocks.append(Heading(t("plan.area", area=area, name=t(f"area.{area}"))))
        for measure in mine:
            blocks.extend(_measure(ws, t, measure.id))
    goals = list(ws.goals.values())
    owned = sum(1 for g in goals if g.owner)
    blocks.append(Note(t("plan.totals", measures=len(measures), goals=len(goals), owned=owned)))
    return Message(tuple(blocks), summary=t("plan.heading", title=ws.title))


def _measure(ws: Workshop, t: Translator, measure_id: str) -> list[Block]:
    measure = ws.measures[measure_id]
    ambition = ws.ambitions.get(measure_id)
    if ambition:
        agreed = t("plan.agreed") if ambition.status == AmbitionStatus.AGREED else t("plan.not_agreed")
        line = t("plan.ambition", level=t(f"level.{ambition.level}.name"), sentence=ambition.sentence,
                 agreed=agreed)
    else:
        line = t("ambition.missing")
    blocks: list[Block] = [Text(t("plan.measure", name=measure.name)), Text(line)]
    goals = sorted((g for g in ws.goals.values() if g.measure_id == measure_id), key=lambda g: g.number)
    none = t("common.none")
    for goal in goals:
        blocks.append(Fields((
            (t("plan.goal", number=goal.number), goal.text),
            (t("goal.indicator"), goal.indicator or none),
            (t("plan.from_to"), t("plan.from_to_value", baseline=goal.baseline or none,
                                   target=goal.target or none)),
            (t("goal.deadline"), t.date(goal.deadline) if goal.deadline else none),
            (t("owner.owner"), goal.owner or t("owner.missing")),
            (t("owner.next_step"), goal.next_step or none),
        )))
    if not goals:
        blocks.append(Note(t("goal.none_yet")))
    return blocks
