"""`status` and `help`: where we are, and what one can type. Both answer privately."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.domain.groups import measures_of, participants, working_groups
from bot.domain.model import AmbitionStatus, Phase
from bot.flow import followup, views
from bot.flow.turn import Turn
from bot.i18n import Translator
from bot.ui import Block, Fields, Heading, Message, Note, Progress

FACILITATOR_COMMANDS = ("new", "group", "measures", "start", "next", "extend", "pause", "resume",
                        "groups", "move", "split", "setup", "plan", "board", "close")
EVERYONE_COMMANDS = ("join", "status", "mine", "help")


def status(turn: Turn, args: Sequence[str] = ()) -> None:
    ws, t = turn.ws, turn.t
    if ws.phase == Phase.FOLLOW_UP and turn.is_facilitator:
        turn.reply(followup.overview(turn))
        return
    blocks: list[Block] = [
        Heading(t("status.heading", title=ws.title)),
        Fields(((t("status.phase"), views.phase_title(turn, ws.phase)), (t("status.time"), _time(turn)))),
        *_progress(turn),
    ]
    if turn.is_facilitator and ws.phase not in (Phase.SETUP, Phase.FOLLOW_UP):
        blocks.append(Note(t("status.facilitator_hint")))
    turn.reply(Message(tuple(blocks), summary=t("status.heading", title=ws.title)))


def _time(turn: Turn) -> str:
    ws, t = turn.ws, turn.t
    if ws.paused_at:
        return t("status.paused")
    if not ws.phase_ends_at:
        return t("common.none")
    left = max(0, math.ceil((ws.phase_ends_at - turn.now).total_seconds() / 60))
    return t("status.ends", time=turn.clock(ws.phase_ends_at), left=left)


def _progress(turn: Turn) -> list[Block]:
    ws, t = turn.ws, turn.t
    if ws.phase in (Phase.SETUP, Phase.INTRO):
        asked = [s for s in ws.specialists.values() if s.measure_id in ws.measures]
        answered = sum(1 for s in asked if s.answered_at)
        return [Fields(((t("status.measures"), str(len(ws.measures))),
                        (t("status.participants"), str(len(participants(ws)))))
                       + (((t("status.specialists"), t("status.specialists_answered", answered=answered,
                                                     asked=len(asked))),) if asked else ()))]
    rows: list[Block] = []
    for group in working_groups(ws):
        measures = measures_of(ws, group.code)
        if not measures:
            continue
        label = views.group_label(turn, group.code)
        if ws.phase in (Phase.AMBITIONS, Phase.AMBITIONS_PLENUM, Phase.BREAK):
            done = sum(1 for m in measures if m.id in ws.ambitions and (
                ws.phase == Phase.AMBITIONS or ws.ambitions[m.id].status == AmbitionStatus.AGREED))
            key = "status.ambitions" if ws.phase == Phase.AMBITIONS else "status.agreed"
        elif ws.phase in (Phase.SMART_GOALS, Phase.GOALS_PLENUM):
            done = sum(1 for m in measures if views.goals_of(ws, m.id))
            key = "status.goals"
        else:
            goals = [g for m in measures for g in views.goals_of(ws, m.id)]
            rows.append(Progress(t("status.owners", group=label), sum(1 for g in goals if g.owner),
                                 len(goals)))
            continue
        rows.append(Progress(t(key, group=label), done, len(measures)))
    return rows


def command_word(t: Translator, name: str) -> str:
    return t(f"command.{name}")


def help_(turn: Turn, args: Sequence[str] = ()) -> None:
    t = turn.t
    names = EVERYONE_COMMANDS + (FACILITATOR_COMMANDS if turn.is_facilitator or not turn.has_workshop
                                 else ())
    rows = tuple((t(f"help.usage.{n}", word=command_word(t, n)), t(f"help.about.{n}")) for n in names)
    turn.reply(Message((Heading(t("help.heading")), Fields(rows), Note(t("help.buttons"))),
                       summary=t("help.heading")))
