"""Phase 2 in each group: dots per målepunkt, then one level and ambition sentence each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.domain.groups import conversation_of, measures_of, plenum_of, working_groups
from bot.domain.model import Ambition, AmbitionStatus, Level, Phase, Vote
from bot.flow import specialists, views
from bot.flow.access import measure_in, require_member_of, require_unchanged
from bot.flow.inputs import FormReader
from bot.flow.turn import Refusal, Turn
from bot.ui import FieldKind, Form, FormField

MAX_SENTENCE = 280


def open_ambitions(turn: Turn) -> None:
    for group in working_groups(turn.ws):
        conversation = conversation_of(turn.ws, group.code)
        for measure in measures_of(turn.ws, group.code):
            if conversation:
                turn.post(conversation, views.vote_card(turn, measure), key=f"vote:{measure.id}")
                specialists.show_to_group(turn, measure, specialists.answered(turn.ws, measure.id))


def vote(turn: Turn, args: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    turn.require_phase(Phase.AMBITIONS)
    measure = measure_in(turn, args)
    member = require_member_of(turn, measure.group)
    level = args.get("level", "")
    if level not in tuple(Level):
        raise Refusal("refuse.unknown_item")
    current = turn.ws.votes.get((measure.id, member.id))
    if current and current.level == level:
        turn.delete(current)  # a second press on one's own dot takes it back
    else:
        fresh = Vote(measure_id=measure.id, member_id=member.id, level=Level(level))
        turn.save(replace(current, level=Level(level)) if current else fresh)
    turn.update(conversation_of(turn.ws, measure.group), f"vote:{measure.id}",
                views.vote_card(turn, measure))


def _may_write(turn: Turn, measure_id: str) -> None:
    ambition = turn.ws.ambitions.get(measure_id)
    sent_back = ambition is not None and ambition.status == AmbitionStatus.SENT_BACK
    if turn.ws.phase == Phase.AMBITIONS_PLENUM and sent_back:
        return
    turn.require_phase(Phase.AMBITIONS)


def edit(turn: Turn, args: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    measure = measure_in(turn, args)
    _may_write(turn, measure.id)
    require_member_of(turn, measure.group)
    ambition = turn.ws.ambitions.get(measure.id)
    t = turn.t
    level = ambition.level if ambition else views.leading_level(turn.ws, measure.id)
    turn.open_form(Form(
        form="ambition", title=t("form.ambition.title"), submit=t("form.save"),
        intro=t("ambition.form_intro", name=measure.name, tally=views.tally_text(turn, measure.id)),
        args={"workshop": turn.ws.id, "seq": str(turn.ws.phase_seq), "m": measure.id,
              "version": str(ambition.version if ambition else 0)},
        fields=(
            FormField("level", t("ambition.level"), FieldKind.CHOICE, required=True, value=level,
                      options=tuple((lv.value, t(f"level.{lv}.long")) for lv in Level)),
            FormField("sentence", t("ambition.sentence"), FieldKind.LONG_TEXT, required=True,
                      value=ambition.sentence if ambition else "", max_length=MAX_SENTENCE,
                      hint=t("ambition.sentence_hint")),
        )))


def save(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    measure = measure_in(turn, args)
    _may_write(turn, measure.id)
    require_member_of(turn, measure.group)
    form = FormReader(turn.t, values)
    level = form.choice("level", [lv.value for lv in Level])
    sentence = form.text("sentence", MAX_SENTENCE, required=True, multiline=True)
    form.done()
    old = turn.ws.ambitions.get(measure.id)
    require_unchanged(turn, args, old.version if old else 0, old.updated_by if old else "")
    fresh = Ambition(measure_id=measure.id, level=Level(level), sentence=sentence)
    turn.save(replace(old, level=Level(level), sentence=sentence, status=AmbitionStatus.DRAFT,
                      note="") if old else fresh)
    if turn.ws.phase == Phase.AMBITIONS:
        turn.update(conversation_of(turn.ws, measure.group), f"vote:{measure.id}",
                    views.vote_card(turn, measure))
    else:
        turn.update(plenum_of(turn.ws), f"agree:{measure.id}", views.agree_card(turn, measure))
        turn.reply(turn.t("ambition.revised"))
