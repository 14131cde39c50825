"""Phase 1 in the plenum: why these målepunkter, the mandate, the day, and the group split."""

from __future__ import annotations

from bot.domain import agenda
from bot.domain.groups import plenum_of
from bot.flow import views
from bot.flow.grouping import interest_card
from bot.flow.turn import Turn
from bot.ui import Buttons, Fields, Heading, Message, Text


def open_intro(turn: Turn) -> None:
    plenum = plenum_of(turn.ws)
    turn.post(plenum, _welcome(turn))
    turn.post(plenum, _measures(turn))
    turn.post(plenum, interest_card(turn), key="interest")
    turn.reply(Message((
        Text(turn.t("intro.facilitator_hint")),
        Buttons((views.button(turn, turn.t("split.propose"), "propose_split", "primary"),)),
    ), summary=turn.t("intro.facilitator_hint")))


def _welcome(turn: Turn) -> Message:
    ws, t = turn.ws, turn.t
    day = agenda.schedule(ws.durations, ws.phase_started_at or turn.now)
    rows = tuple((views.phase_title(turn, phase),
                  t("intro.agenda_row", time=turn.clock(at), minutes=ws.durations[phase]))
                 for phase, at in day)
    return views.message(
        Heading(t("intro.heading", title=ws.title)),
        Text(t("intro.purpose")),
        Fields(((t("setup.mandate"), ws.mandate),)) if ws.mandate else None,
        Text(t("intro.process")),
        Fields(rows),
    )


def _measures(turn: Turn) -> Message:
    t = turn.t
    rows: list[tuple[str, str]] = []
    for m in sorted(turn.ws.measures.values(), key=lambda m: m.position):
        rows.append((t("measure.heading", name=m.name, area=m.area), m.why or t("intro.no_why")))
        if m.current_value:
            rows.append((t("measure.current"), views.value_with_unit(m)))
    return views.message(Heading(t("intro.measures_heading")), Text(t("intro.where_are_we")),
                         Fields(tuple(rows)))
