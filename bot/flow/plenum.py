"""Phases 3 and 5 in the plenum: groups present, others comment, the facilitator decides."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace

from bot.domain.groups import conversation_of, measures_of, plenum_of, working_groups
from bot.domain.model import AmbitionStatus, Comment, Measure, Member, Phase
from bot.flow import views
from bot.flow.access import measure_in
from bot.flow.inputs import FormReader
from bot.flow.turn import Refusal, Turn
from bot.ui import Buttons, FieldKind, Form, FormField, Heading, Message, Text

MAX_REASON = 500
MAX_COMMENT = 1000
PRESENTING = (Phase.AMBITIONS_PLENUM, Phase.GOALS_PLENUM)


def _present_all(turn: Turn, card: Callable[[Turn, Measure], Message], prefix: str) -> None:
    plenum = plenum_of(turn.ws)
    for group in working_groups(turn.ws):
        measures = measures_of(turn.ws, group.code)
        if not measures:
            continue
        turn.post(plenum, views.message(Heading(turn.t(
            "plenum.presents", group=views.group_label(turn, group.code)))))
        for measure in measures:
            turn.post(plenum, card(turn, measure), key=f"{prefix}:{measure.id}")


def open_ambitions_plenum(turn: Turn) -> None:
    _present_all(turn, views.agree_card, "agree")


def open_goals_plenum(turn: Turn) -> None:
    _present_all(turn, views.present_card, "present")


def _refresh(turn: Turn, measure: Measure) -> None:
    if turn.ws.phase == Phase.AMBITIONS_PLENUM:
        turn.update(plenum_of(turn.ws), f"agree:{measure.id}", views.agree_card(turn, measure))
    else:
        turn.update(plenum_of(turn.ws), f"present:{measure.id}", views.present_card(turn, measure))


def _decide(turn: Turn, args: Mapping[str, str]) -> Measure:
    turn.require_facilitator("decide")
    turn.require_fresh(args)
    turn.require_phase(Phase.AMBITIONS_PLENUM)
    return measure_in(turn, args)


def agree(turn: Turn, args: Mapping[str, str]) -> None:
    measure = _decide(turn, args)
    ambition = turn.ws.ambitions.get(measure.id)
    if ambition is None:
        raise Refusal("refuse.no_ambition", name=measure.name)
    if ambition.status != AmbitionStatus.AGREED:
        turn.save(replace(ambition, status=AmbitionStatus.AGREED, note=""))
    _refresh(turn, measure)


def send_back(turn: Turn, args: Mapping[str, str]) -> None:
    measure = _decide(turn, args)
    turn.open_form(Form(
        form="send_back", title=turn.t("form.send_back.title"), submit=turn.t("plenum.send_back"),
        intro=turn.t("plenum.send_back_intro", name=measure.name),
        args={"workshop": turn.ws.id, "seq": str(turn.ws.phase_seq), "m": measure.id},
        fields=(FormField("reason", turn.t("plenum.reason"), FieldKind.LONG_TEXT,
                          max_length=MAX_REASON),)))


def save_send_back(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    measure = _decide(turn, args)
    form = FormReader(turn.t, values)
    reason = form.text("reason", MAX_REASON, multiline=True)
    form.done()
    ambition = turn.ws.ambitions.get(measure.id)
    if ambition is not None:
        turn.save(replace(ambition, status=AmbitionStatus.SENT_BACK, note=reason))
    _refresh(turn, measure)
    group_chat = conversation_of(turn.ws, measure.group)
    if group_chat:
        turn.post(group_chat, views.message(
            Heading(turn.t("plenum.sent_back_heading", name=measure.name)),
            Text(reason or turn.t("plenum.no_reason")),
            Buttons((views.button(turn, turn.t("ambition.edit"), "edit_ambition", "primary",
                                  m=measure.id),))))


def comment(turn: Turn, args: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    turn.require_phase(*PRESENTING)
    measure = measure_in(turn, args)
    turn.open_form(Form(
        form="comment", title=turn.t("form.comment.title"), submit=turn.t("comment.send"),
        intro=measure.name,
        args={"workshop": turn.ws.id, "seq": str(turn.ws.phase_seq), "m": measure.id},
        fields=(FormField("text", turn.t("comment.text"), FieldKind.LONG_TEXT, required=True,
                          max_length=MAX_COMMENT),)))


def save_comment(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    turn.require_phase(*PRESENTING)
    measure = measure_in(turn, args)
    form = FormReader(turn.t, values)
    text = form.text("text", MAX_COMMENT, required=True, multiline=True)
    form.done()
    actor = turn.event.actor
    if actor.id not in turn.ws.members:
        turn.save(Member(id=actor.id, name=actor.name))
    comment_id = "c" + hashlib.sha256(turn.event.event_id.encode()).hexdigest()[:10]
    turn.save(Comment(id=comment_id, measure_id=measure.id, author=actor.id, text=text,
                      phase=turn.ws.phase))
    _refresh(turn, measure)
