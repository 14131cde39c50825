"""Splitting the participants into the E, S and G groups (and subgroups)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.domain.groups import (AREAS, MAX_GROUP_SIZE, by_name, conversation_of, group_for_newcomer,
                               members_of, participants, plenum_of, propose_split, split_in_two,
                               working_groups)
from bot.domain.model import PLENUM, Member, Phase
from bot.flow import views
from bot.flow.setup import refresh_setup
from bot.flow.turn import Refusal, Turn
from bot.ui import Buttons, Fields, Heading, Message, Note, Text

BEFORE_GROUP_WORK = (Phase.SETUP, Phase.INTRO)
NO_PREFERENCE = "none"


def interest_card(turn: Turn) -> Message:
    counts = Counter(m.interest or NO_PREFERENCE for m in participants(turn.ws))
    choices = [*AREAS, NO_PREFERENCE]
    tally = " · ".join(f"{turn.t(f'interest.{c}')}: {counts[c]}" for c in choices)
    return views.message(
        Heading(turn.t("interest.heading")),
        Text(turn.t("interest.text")),
        Note(turn.t("interest.tally", tally=tally, count=sum(counts.values()))),
        Buttons(tuple(views.button(turn, turn.t(f"interest.{c}"), "interest", area=c)
                      for c in choices)),
    )


def split_card(turn: Turn) -> Message:
    ws, t = turn.ws, turn.t
    groups = working_groups(ws)
    rows = tuple((t("split.group_line", group=views.group_label(turn, g.code),
                    count=len(members_of(ws, g.code))),
                  t.join([m.name for m in members_of(ws, g.code)]) or t("common.nobody"))
                 for g in groups)
    big = [Note(t("split.too_big", code=g.code, count=len(members_of(ws, g.code))))
           for g in groups if len(members_of(ws, g.code)) > MAX_GROUP_SIZE]
    unplaced = [m.name for m in participants(ws) if not m.group]
    if ws.split_approved:
        tail = (Note(t("split.approved")),)
    else:
        tail = (*big, *([Note(t("split.unplaced", names=t.join(unplaced)))] if unplaced else []),
                Note(t("split.move_hint")), Buttons((
            views.button(turn, t("split.approve"), "approve_split", "primary"),
            views.button(turn, t("split.again"), "propose_split"))))
    return views.message(Heading(t("split.heading")), Fields(rows), *tail)


def _member(turn: Turn) -> Member:
    actor = turn.event.actor
    return turn.ws.members.get(actor.id) or Member(id=actor.id, name=actor.name)


def _place(turn: Turn, member: Member, interest: str) -> Member:
    interest = "" if interest == NO_PREFERENCE else interest
    group = member.group
    if turn.ws.split_approved and not group:
        group = group_for_newcomer(turn.ws, interest)
    placed = turn.save(replace(member, participant=True, interest=interest, group=group))
    if group and turn.ws.split_approved:
        turn.update(conversation_of(turn.ws, group), f"welcome:{group}", views.welcome_card(turn, group))
    if turn.ws.phase == Phase.INTRO:
        turn.update(plenum_of(turn.ws), "interest", interest_card(turn))
    if any(m.group for m in participants(turn.ws)):
        turn.update(plenum_of(turn.ws), "split", split_card(turn))
    return placed


def choose_interest(turn: Turn, args: Mapping[str, str]) -> None:
    turn.require_fresh(args)
    area = args.get("area", "")
    if area not in (*AREAS, NO_PREFERENCE):
        raise Refusal("refuse.unknown_group", code=area, codes=turn.t.join(list(AREAS)))
    placed = _place(turn, _member(turn), area)
    _confirm(turn, placed)


def join(turn: Turn, args: Sequence[str]) -> None:
    """`join` or `join S`: take part, optionally naming the group one would prefer."""
    if turn.ws.phase == Phase.FOLLOW_UP:
        raise Refusal("refuse.workshop_over")
    area = args[0].upper() if args else NO_PREFERENCE
    if area not in (*AREAS, NO_PREFERENCE):
        raise Refusal("refuse.unknown_group", code=args[0], codes=turn.t.join(list(AREAS)))
    _confirm(turn, _place(turn, _member(turn), area))


def _confirm(turn: Turn, member: Member) -> None:
    if member.group and turn.ws.split_approved:
        turn.reply(turn.t("interest.placed", group=views.group_label(turn, member.group)))
    else:
        turn.reply(turn.t("interest.thanks",
                          choice=turn.t(f"interest.{member.interest or NO_PREFERENCE}")))


def member_joined(turn: Turn) -> None:
    """Someone joined a group's channel after the split: they work with that group."""
    bound = turn.ws.conversations.get(turn.event.conversation)
    if bound is None or bound.group == PLENUM or not turn.ws.split_approved:
        return
    member = _member(turn)
    if not member.group:
        turn.save(replace(member, participant=True, group=bound.group))
        turn.update(bound.id, f"welcome:{bound.group}", views.welcome_card(turn, bound.group))


def propose(turn: Turn, args: Mapping[str, str] | Sequence[str] = ()) -> None:
    turn.require_facilitator("split")
    turn.require_phase(*BEFORE_GROUP_WORK)
    if turn.ws.split_approved:
        raise Refusal("refuse.split_approved")
    people = participants(turn.ws)
    if not people:
        raise Refusal("refuse.no_participants")
    shown = any(m.group for m in people)
    _undo_subgroups(turn)
    for member_id, area in propose_split(people).items():
        turn.save(replace(turn.ws.members[member_id], group=area))
    if shown:
        turn.update(plenum_of(turn.ws), "split", split_card(turn))
    else:
        turn.post(plenum_of(turn.ws), split_card(turn), key="split")


def _undo_subgroups(turn: Turn) -> None:
    for group in [g for g in turn.ws.groups.values() if g.parent]:
        binding = conversation_of(turn.ws, group.code)
        if binding and group.code.endswith("1"):
            turn.save(replace(turn.ws.conversations[binding], group=group.parent))
        elif binding:
            turn.delete(turn.ws.conversations[binding])
        for measure in [m for m in turn.ws.measures.values() if m.group == group.code]:
            turn.save(replace(measure, group=group.parent))
        turn.delete(group)


def approve(turn: Turn, args: Mapping[str, str]) -> None:
    turn.require_facilitator("split")
    turn.require_fresh(args)
    if turn.ws.split_approved:
        raise Refusal("refuse.split_approved")
    if not any(m.group for m in participants(turn.ws)):
        raise Refusal("refuse.no_proposal")
    for late in [m for m in participants(turn.ws) if not m.group]:  # joined after the proposal
        turn.save(replace(late, group=group_for_newcomer(turn.ws, late.interest)))
    turn.change(split_approved=True)
    turn.update(plenum_of(turn.ws), "split", split_card(turn))
    unbound = []
    for group in working_groups(turn.ws):
        conversation = conversation_of(turn.ws, group.code)
        if conversation:
            views.welcome(turn, group.code, conversation)
        else:
            unbound.append(group.code)
    if unbound:
        turn.reply(turn.t("split.bind_hint", codes=turn.t.join(unbound)))


def move(turn: Turn, args: Sequence[str]) -> None:
    """`move <name> <group>`: the facilitator places one person."""
    turn.require_facilitator("split")
    if len(args) < 2:
        raise Refusal("refuse.move_usage")
    code, name = args[-1].upper(), " ".join(args[:-1])
    codes = [g.code for g in working_groups(turn.ws)]
    if code not in codes:
        raise Refusal("refuse.unknown_group", code=code, codes=turn.t.join(codes))
    member = _find(turn, name)
    old = member.group
    turn.save(replace(member, participant=True, group=code))
    if turn.ws.split_approved:
        for group in {old, code} - {""}:
            turn.update(conversation_of(turn.ws, group), f"welcome:{group}",
                        views.welcome_card(turn, group))
    else:
        turn.update(plenum_of(turn.ws), "split", split_card(turn))
    turn.reply(turn.t("split.moved", name=member.name, group=views.group_label(turn, code)))


def _find(turn: Turn, name: str) -> Member:
    wanted = name.strip().casefold()
    people = by_name(turn.ws.members.values())
    exact = [m for m in people if m.name.casefold() == wanted]
    found = (exact or [m for m in people if m.name.casefold().startswith(wanted)]) if wanted else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise Refusal("refuse.no_such_person", name=name)
    raise Refusal("refuse.ambiguous_person", name=name, names=turn.t.join([m.name for m in found]))


def subgroups(turn: Turn, args: Sequence[str]) -> None:
    """`split E`: a group of more than six becomes two subgroups sharing its målepunkter."""
    turn.require_facilitator("split")
    turn.require_phase(*BEFORE_GROUP_WORK)
    code = args[0].upper() if args else ""
    group = turn.ws.groups.get(code)
    if group is None or group not in working_groups(turn.ws) or group.parent:
        raise Refusal("refuse.cannot_split", code=code or "?")
    size = len(members_of(turn.ws, code))
    if size <= MAX_GROUP_SIZE:
        raise Refusal("refuse.group_small", code=code, count=size, max=MAX_GROUP_SIZE)
    if len([m for m in turn.ws.measures.values() if m.group == code]) < 2:
        raise Refusal("refuse.one_measure", code=code)
    halves, members, measures = split_in_two(turn.ws, code)
    for record in (*halves, *members, *measures):
        turn.save(record)
    binding = conversation_of(turn.ws, code)
    if binding:
        turn.save(replace(turn.ws.conversations[binding], group=halves[0].code))
    turn.update(plenum_of(turn.ws), "split", split_card(turn))
    turn.reply(turn.t("split.subgroups", code=code, first=halves[0].code, second=halves[1].code))
    refresh_setup(turn)
