"""Handing a SMART goal over to a new owner after the workshop.

An owner asks someone else, who takes the goal over only by saying yes; until then the owner
keeps it. A facilitator reassigns at once. Either way the reminders follow the goal to its
new owner (they go to whoever owns it when they fire), the new owner gets the goal's card in
their own chat, and the old card says where the goal went.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.domain.groups import member_named, plenum_of
from bot.domain.model import Member, SmartGoal
from bot.flow import followup, views
from bot.flow.inputs import FormReader
from bot.flow.turn import Refusal, Turn
from bot.ui import Buttons, FieldKind, Form, FormField, Heading, Message, Text

MAX_NAME = 200


def open_form(turn: Turn, args: Mapping[str, str]) -> None:
    goal = followup.answerable(turn, args)
    t = turn.t
    intro = "followup.reassign_intro" if _reassigns(turn, goal) else "followup.handover_intro"
    turn.open_form(Form(
        form="handover", title=t("followup.handover_title"), submit=t("followup.handover_send"),
        intro=t(intro, text=goal.text), args={"workshop": turn.ws.id, "goal": goal.id},
        fields=(FormField("to", t("followup.handover_to"), FieldKind.USER, required=True,
                          max_length=MAX_NAME),)))


def save_form(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    goal = followup.answerable(turn, args)
    form = FormReader(turn.t, values)
    name = form.text("to", MAX_NAME, required=True)
    member = member_named(turn.ws, name) if name else None
    if name and member is None:
        form.errors["to"] = turn.t("followup.handover_unknown", name=name)
    elif member is not None and member.id == goal.owner_id:
        form.errors["to"] = turn.t("followup.handover_same", name=member.name)
    form.done()
    assert member is not None
    if _reassigns(turn, goal):
        _hand_over(turn, goal, member, "followup.reassigned_new", "followup.reassigned_old")
        turn.reply(turn.t("followup.reassigned", name=member.name))
        return
    turn.direct(plenum_of(turn.ws), member.id, _request(turn, goal, member), key=_request_key(goal, member))
    turn.reply(turn.t("followup.handover_asked", name=member.name))


def accept(turn: Turn, args: Mapping[str, str]) -> None:
    goal, member = _addressed(turn, args)
    _hand_over(turn, goal, member, "followup.handover_accepted", "followup.handover_done_old")
    turn.update(plenum_of(turn.ws), _request_key(goal, member), views.message(
        Text(turn.t("followup.handover_you_accepted", text=goal.text))))


def decline(turn: Turn, args: Mapping[str, str]) -> None:
    goal, member = _addressed(turn, args)
    plenum = plenum_of(turn.ws)
    turn.update(plenum, _request_key(goal, member), views.message(
        Text(turn.t("followup.handover_you_declined", text=goal.text))))
    turn.direct(plenum, goal.owner_id, views.message(
        Text(turn.t("followup.handover_declined", name=member.name, text=goal.text))))


def _hand_over(turn: Turn, goal: SmartGoal, member: Member, to_new: str, to_old: str) -> None:
    plenum = plenum_of(turn.ws)
    old_owner = goal.owner_id
    # The old card first: the card's key then moves to the new owner's chat (same lane, in order).
    turn.update(plenum, followup.card_key(goal), views.message(
        Heading(goal.text), Text(turn.t("followup.handed_over_card", name=member.name))))
    goal = turn.save(replace(goal, owner=member.name, owner_id=member.id, unanswered=0))
    turn.direct(plenum, member.id, followup.goal_card(turn, goal, turn.t(to_new)), key=followup.card_key(goal))
    if old_owner and old_owner != turn.actor:
        turn.direct(plenum, old_owner, views.message(
            Text(turn.t(to_old, name=member.name, text=goal.text))))


def _addressed(turn: Turn, args: Mapping[str, str]) -> tuple[SmartGoal, Member]:
    """The goal of a request to take it over, if the request is still good and for this person."""
    goal = followup.answerable(turn, args, anyone=True)
    member = turn.ws.members.get(args.get("to", ""))
    if member is None or turn.actor != member.id:
        raise Refusal("refuse.handover_not_yours", name=member.name if member else "?")
    if goal.owner_id != args.get("from") or goal.owner_id == member.id:
        raise Refusal("refuse.handover_stale")
    return goal, member


def _request(turn: Turn, goal: SmartGoal, member: Member) -> Message:
    asked_by = turn.ws.members.get(turn.actor)
    card = followup.goal_card(turn, goal, turn.t("followup.handover_request",
                                                 name=asked_by.name if asked_by else goal.owner))
    args = {"goal": goal.id, "to": member.id, "from": goal.owner_id}
    buttons = Buttons((views.button(turn, turn.t("followup.handover_accept"), "followup_accept", "primary", **args),
                       views.button(turn, turn.t("followup.handover_decline"), "followup_decline", **args)))
    return replace(card, blocks=(*(b for b in card.blocks if not isinstance(b, Buttons)), buttons))


def _request_key(goal: SmartGoal, member: Member) -> str:
    return f"handover:{goal.id}:{member.id}"


def _reassigns(turn: Turn, goal: SmartGoal) -> bool:
    """A facilitator who does not own the goal gives it away at once; an owner asks first."""
    return turn.is_facilitator and turn.actor != goal.owner_id
