"""What must hold in the database whatever anyone sent: a checker the hostile-input tests run
after each attack. `violations(store)` lists every broken rule, in words; [] means all hold.

The rules are what a board would notice: every workshop loads; nothing points at a målepunkt,
goal or member that is not there; no målepunkt has more SMART goals than the guide allows; what
people typed was kept within the limits the forms state, without control characters; and
every message waiting in the outbox can be read and belongs to a workshop that exists.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterator

from sqlalchemy import select

from adapters.app import Store
from bot.codec import loads
from bot.domain.model import Workshop
from bot.flow import ambitions, goals, plenum, specialists
from bot.flow.views import MAX_GOALS
from bot.store.repository import SqlWorkshops
from bot.store.tables import OutboxRow, WorkshopRow


def violations(store: Store) -> list[str]:
    found: list[str] = []
    with store.sessions() as session:
        ids = list(session.scalars(select(WorkshopRow.id)))
        for workshop_id in ids:
            try:
                ws = SqlWorkshops(session).get(workshop_id)
            except Exception as error:  # noqa: BLE001 - a workshop that cannot load is the finding
                found.append(f"workshop {workshop_id} does not load: {error!r}")
                continue
            if ws is not None:
                found.extend(f"workshop {workshop_id}: {problem}" for problem in _in_workshop(ws))
        found.extend(_in_outbox(session.execute(select(OutboxRow.id, OutboxRow.workshop_id,
                                                       OutboxRow.payload)), set(ids)))
    return found


def _in_workshop(ws: Workshop) -> Iterator[str]:
    measures = ws.measures
    dangling = [*(("vote", v.measure_id) for v in ws.votes.values()),
                *(("ambition", a.measure_id) for a in ws.ambitions.values()),
                *(("comment", c.measure_id) for c in ws.comments.values()),
                *(("goal", g.measure_id) for g in ws.goals.values()),
                *(("specialist input", s.measure_id) for s in ws.specialists.values())]
    yield from (f"a {kind} on målepunkt {m!r}, which is not in the workshop"
                for kind, m in dangling if m not in measures)
    yield from (f"a vote by {v.member_id!r}, who is not a member"
                for v in ws.votes.values() if v.member_id not in ws.members)
    yield from (f"a follow-up entry on goal {f.goal_id!r}, which is not in the workshop"
                for f in ws.followups.values() if f.goal_id not in ws.goals)
    per_measure = Counter(g.measure_id for g in ws.goals.values())
    yield from (f"{count} SMART goals on {m!r} (at most {MAX_GOALS})"
                for m, count in per_measure.items() if count > MAX_GOALS)
    yield from _typed(ws)


def _typed(ws: Workshop) -> Iterator[str]:
    """Text people typed: within the form's limit, and clean (bot/flow/inputs.clean)."""
    texts = [*((f"ambition sentence on {a.measure_id}", a.sentence, ambitions.MAX_SENTENCE)
               for a in ws.ambitions.values()),
             *((f"comment {c.id}", c.text, max(plenum.MAX_COMMENT, plenum.MAX_REASON))
               for c in ws.comments.values()),
             *((f"goal {g.id}", g.text, goals.MAX_GOAL) for g in ws.goals.values()),
             *((f"specialist input {s.id}", value, specialists.MAX_ANSWER)
               for s in ws.specialists.values() for value in (s.situation, s.realistic, s.pitfalls))]
    for what, text, limit in texts:
        if len(text) > limit:
            yield f"{what} is {len(text)} characters (the form allows {limit})"
        if any(unicodedata.category(c) in ("Cc", "Cf") and c != "\n" for c in text):
            yield f"{what} keeps a control character: {text[:60]!r}"


def _in_outbox(rows: Iterator[tuple[int, str, str]], workshops: set[str]) -> Iterator[str]:
    for item_id, workshop_id, payload in rows:
        try:
            loads(payload)
        except Exception as error:  # noqa: BLE001 - an item that cannot be read is the finding
            yield f"outbox item {item_id} cannot be read: {error!r}"
        if workshop_id and workshop_id not in workshops:
            yield f"outbox item {item_id} belongs to workshop {workshop_id!r}, which does not exist"
