"""Phase 6: an owner and a next step per goal, then the compiled action plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.domain.groups import member_named, plenum_of
from bot.domain.model import Phase, SmartGoal
from bot.flow import followup, views
from bot.flow.access import goal_in, require_member_of, require_unchanged
from bot.flow.inputs import FormReader
from bot.flow.turn import Turn
from bot.plan.summary import plan_message
from bot.ui import FieldKind, Form, FormField, Heading, Message, Progress, Text

MAX_OWNER = 100
MAX_NEXT_STEP = 500


def _ordered_goals(turn: Turn) -> list[SmartGoal]:
    ws = turn.ws
    return sorted(ws.goals.values(), key=lambda g: (ws.measures[g.measure_id].position, g.number))


def _progress(turn: Turn) -> Message:
    goals = _ordered_goals(turn)
    return views.message(Progress(turn.t("owner.progress"), sum(1 for g in goals if g.owner),
                                  len(goals)))


def open_wrap_up(turn: Turn) -> None:
    plenum = plenum_of(turn.ws)
    turn.post(plenum, views.message(Heading(turn.t("wrapup.heading")),
                                    Text(turn.t("wrapup.questions"))))
    for goal in _ordered_goals(turn):
        turn.post(plenum, views.owner_card(turn, goal), key=f"owner:{goal.id}")
    turn.post(plenum, _progress(turn), key="owners")


def _may_assign(turn: Turn, goal: SmartGoal) -> None:
    turn.require_phase(Phase.WRAP_UP)
    if not turn.is_facilitator:
        require_member_of(turn, turn.ws.measures[goal.measure_id].group)


def set_owner(turn: Turn, args: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    goal = goal_in(turn, args)
    _may_assign(turn, goal)
    t = turn.t
    turn.open_form(Form(
        form="owner", title=t("form.owner.title"), submit=t("form.save"),
        intro=t("owner.form_intro", text=goal.text),
        args={"workshop": turn.ws.id, "seq": str(turn.ws.phase_seq), "goal": goal.id,
              "version": str(goal.version)},
        fields=(FormField("owner", t("owner.owner"), FieldKind.USER, required=True,
                          value=goal.owner, max_length=MAX_OWNER,
                          hint=t("owner.owner_hint")),
                FormField("next_step", t("owner.next_step"), FieldKind.LONG_TEXT,
                          value=goal.next_step, max_length=MAX_NEXT_STEP,
                          hint=t("owner.next_step_hint")))))


def save_owner(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    goal = goal_in(turn, args)
    _may_assign(turn, goal)
    form = FormReader(turn.t, values)
    owner = form.text("owner", MAX_OWNER, required=True)
    next_step = form.text("next_step", MAX_NEXT_STEP, multiline=True)
    form.done()
    require_unchanged(turn, args, goal.version, goal.updated_by)
    known = member_named(turn.ws, owner)
    goal = turn.save(replace(goal, owner=known.name if known else owner,
                             owner_id=known.id if known else "", next_step=next_step))
    plenum = plenum_of(turn.ws)
    turn.update(plenum, f"owner:{goal.id}", views.owner_card(turn, goal))
    turn.update(plenum, "owners", _progress(turn))


def finish(turn: Turn) -> None:
    plenum = plenum_of(turn.ws)
    turn.post(plenum, plan_message(turn.ws, turn.t), key="plan")
    turn.send_plan(plenum)
    turn.post(plenum, views.message(Text(turn.t("finish.thanks"))))
    followup.begin(turn)


def show_plan(turn: Turn, args: Sequence[str] = ()) -> None:
    turn.require_facilitator("plan")
    turn.post(turn.event.conversation, plan_message(turn.ws, turn.t))
    turn.send_plan(turn.event.conversation)
