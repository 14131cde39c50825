"""Reminders as a phase's time runs out: how long is left, and what each group still lacks."""

from __future__ import annotations

import math

from bot import smart
from bot.domain import agenda
from bot.domain.groups import conversation_of, measures_of, plenum_of, working_groups
from bot.domain.model import Phase
from bot.effects import PostPrivate
from bot.flow import views
from bot.flow.turn import Turn
from bot.ui import Note, Progress, Text

MAX_LISTED = 8  # a group with more gaps than this hears the first ones and a count


def minutes_left(turn: Turn) -> int:
    ends = turn.ws.phase_ends_at
    return math.ceil((ends - turn.now).total_seconds() / 60) if ends else 0


def remind(turn: Turn, mark: str, late: bool) -> None:
    """Minutes left, in every conversation at work. Five minutes before the end each group also
    hears what it still lacks (or that it is done), and the facilitator how many are done."""
    left = minutes_left(turn)
    if left <= 0 or (mark == "10" and left <= 5):  # late: the end or the 5-minute one says it
        return
    ws = turn.ws
    late_note = Note(turn.t("nudge.late")) if late else None
    assert ws.phase_ends_at is not None  # minutes are left, so there is an end
    end = turn.moment(ws.phase_ends_at)
    time_left = Text(turn.t("nudge.left_one" if left == 1 else "nudge.left", minutes=left, time=end.shown),
                     (end,))
    turn.post(plenum_of(ws), views.message(time_left, late_note))
    if not agenda.in_groups(ws.phase):
        return
    groups = [(g.code, c) for g in working_groups(ws)
              if measures_of(ws, g.code) and (c := conversation_of(ws, g.code))]
    if mark != "5":
        for _, conversation in groups:
            turn.post(conversation, views.message(time_left, late_note))
        return
    done = 0
    for code, conversation in groups:
        gaps = missing(turn, code)
        done += not gaps
        turn.post(conversation, views.message(time_left, _gaps(turn, gaps), late_note))
    summary = views.message(Progress(turn.t("nudge.groups_done"), done, len(groups)), late_note)
    for facilitator in ws.facilitators:
        turn.effects.append(PostPrivate(plenum_of(ws), facilitator, summary))


def _gaps(turn: Turn, gaps: list[str]) -> Text:
    if not gaps:
        return Text(turn.t("nudge.done_early"))
    shown = gaps[:MAX_LISTED]
    more = [turn.t("nudge.more", count=len(gaps) - len(shown))] if len(gaps) > len(shown) else []
    return Text(turn.t("nudge.missing", items="\n".join(f"• {g}" for g in shown + more)))


def missing(turn: Turn, group: str) -> list[str]:
    """What a group has not done yet in the current phase, one line per thing."""
    ws, t = turn.ws, turn.t
    gaps: list[str] = []
    for measure in measures_of(ws, group):
        if ws.phase == Phase.AMBITIONS and measure.id not in ws.ambitions:
            gaps.append(t("nudge.no_ambition", name=measure.name))
        if ws.phase != Phase.SMART_GOALS:
            continue
        goals = views.goals_of(ws, measure.id)
        if not goals:
            gaps.append(t("nudge.no_goal", name=measure.name))
        for goal in goals:
            failing = [t(f"smart.{c.criterion}") for c in smart.check(goal, turn.today()) if not c.ok]
            if failing:
                gaps.append(t("nudge.not_smart", name=measure.name, number=goal.number,
                              criteria=t.join(failing)))
    return gaps
