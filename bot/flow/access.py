"""Who may act on what: the items a button or form names, and the group they belong to."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.model import Measure, Member, SmartGoal
from bot.flow import views
from bot.flow.turn import Refusal, Turn


def measure_in(turn: Turn, args: Mapping[str, str]) -> Measure:
    measure = turn.ws.measures.get(args.get("m", ""))
    if measure is None:
        raise Refusal("refuse.unknown_item")
    return measure


def goal_in(turn: Turn, args: Mapping[str, str]) -> SmartGoal:
    goal = turn.ws.goals.get(args.get("goal", ""))
    if goal is None:
        raise Refusal("refuse.unknown_item")
    return goal


def require_member_of(turn: Turn, group: str) -> Member:
    """Only the group's own members vote and write for it."""
    member = turn.ws.members.get(turn.actor)
    if member is None or not member.participant or not member.group:
        raise Refusal("refuse.not_in_group", group=views.group_label(turn, group))
    if member.group != group:
        raise Refusal("refuse.other_group", mine=views.group_label(turn, member.group),
                      theirs=views.group_label(turn, group))
    return member


def require_unchanged(turn: Turn, args: Mapping[str, str], version: int, by: str) -> None:
    """A form opened on an older version must not overwrite what someone saved since."""
    if args.get("version", "0") != str(version):
        raise Refusal("refuse.conflict", name=views.name_of(turn.ws, by))
