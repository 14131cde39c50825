"""The database checker the hostile-input tests rely on (tests/invariants.py) finds what it
must find: a realistic workshop breaks no rule, and each kind of damage is named."""

from __future__ import annotations

import dataclasses

from adapters.app import Store
from bot.domain.model import Level, SmartGoal, Vote
from bot.store.tables import OutboxRow
from tests.integration.test_store import realistic_room, state, stored
from tests.invariants import violations


def test_a_workshop_as_the_bot_leaves_it_breaks_no_rule(store: Store) -> None:
    stored(store, state(realistic_room()))
    assert violations(store) == []


def test_damage_a_stranger_could_do_is_named(store: Store) -> None:
    ws = state(realistic_room())
    goal = next(iter(ws.goals.values()))
    damaged = dataclasses.replace(
        ws,
        votes={**ws.votes, ("X-gone", "test:anders"): Vote(measure_id="X-gone", member_id="test:anders",
                                                          level=Level.MINIMUM)},
        goals={**ws.goals, **{f"g{n}": SmartGoal(id=f"g{n}", measure_id=goal.measure_id, number=n + 2,
                                                 text="=HYPERLINK(\"x\")\u202e" if n == 0 else "x" * 501)
                              for n in range(3)}})
    stored(store, damaged)
    with store.sessions.begin() as session:
        session.add(OutboxRow(workshop_id="no-such-workshop", lane="plenum", payload="{not json",
                              created_at=ws.created_at, attempts=0, next_attempt_at=ws.created_at,
                              last_error=""))

    found = "\n".join(violations(store))

    assert "a vote on målepunkt 'X-gone', which is not in the workshop" in found
    assert f"4 SMART goals on {goal.measure_id!r} (at most 3)" in found
    assert "keeps a control character" in found and "501 characters (the form allows 500)" in found
    assert "cannot be read" in found and "which does not exist" in found
