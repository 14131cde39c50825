"""Groups: the balanced split by interest, subgroups, and who works where."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from bot.domain.model import PLENUM, Area, Group, Measure, Member, Workshop

MAX_GROUP_SIZE = 6  # the guide: more than six in a group → it may split in two
AREAS = tuple(Area)


def by_name(members: Iterable[Member]) -> list[Member]:
    return sorted(members, key=lambda m: (m.name.casefold(), m.id))


def member_named(ws: Workshop, name: str) -> Member | None:
    """The member a form's person field names: by id, or by name in any case."""
    return ws.members.get(name) or next(
        (m for m in ws.members.values() if m.name.casefold() == name.casefold()), None)


def participants(ws: Workshop) -> list[Member]:
    return by_name(m for m in ws.members.values() if m.participant)


def members_of(ws: Workshop, code: str) -> list[Member]:
    return by_name(m for m in ws.members.values() if m.participant and m.group == code)


def working_groups(ws: Workshop) -> list[Group]:
    """The groups that do the work: those not split into subgroups, in E, S, G order."""
    parents = {g.parent for g in ws.groups.values() if g.parent}
    groups = (g for g in ws.groups.values() if g.code not in parents)
    return sorted(groups, key=lambda g: (AREAS.index(g.area), g.code))


def measures_of(ws: Workshop, code: str) -> list[Measure]:
    return sorted((m for m in ws.measures.values() if m.group == code), key=lambda m: m.position)


def conversation_of(ws: Workshop, code: str) -> str | None:
    return next((c.id for c in ws.conversations.values() if c.group == code), None)


def plenum_of(ws: Workshop) -> str:
    return next(c.id for c in ws.conversations.values() if c.group == PLENUM)


def propose_split(people: Sequence[Member]) -> Mapping[str, str]:
    """Place people in E, S and G as evenly as possible, honouring stated interests first.

    Sizes differ by at most one; the bigger groups go to the areas most people asked for.
    """
    demand = {a: sum(1 for p in people if p.interest == a) for a in AREAS}
    base, extra = divmod(len(people), len(AREAS))
    favourites = sorted(AREAS, key=lambda a: (-demand[a], AREAS.index(a)))[:extra]
    room = {a: base + (a in favourites) for a in AREAS}
    placed: dict[str, str] = {}
    for person in people:
        if person.interest in room and room[Area(person.interest)] > 0:
            placed[person.id] = person.interest
            room[Area(person.interest)] -= 1
    for person in people:
        if person.id not in placed:
            area = max(AREAS, key=lambda a: (room[a], -AREAS.index(a)))
            placed[person.id] = area.value
            room[area] -= 1
    return placed


def split_in_two(ws: Workshop, code: str) -> tuple[list[Group], list[Member], list[Measure]]:
    """Two subgroups that divide the group's people and målepunkter between them."""
    parent = ws.groups[code]
    halves = [Group(code=f"{code}1", area=parent.area, parent=code),
              Group(code=f"{code}2", area=parent.area, parent=code)]
    members = [replace(m, group=halves[i % 2].code) for i, m in enumerate(members_of(ws, code))]
    measures = [replace(m, group=halves[i % 2].code) for i, m in enumerate(measures_of(ws, code))]
    return halves, members, measures


def group_for_newcomer(ws: Workshop, interest: str) -> str:
    """Where someone who arrives after the split goes: their area's smallest group."""
    groups = working_groups(ws)
    wanted = [g for g in groups if g.area == interest] or groups
    return min(wanted, key=lambda g: (len(members_of(ws, g.code)), groups.index(g))).code
