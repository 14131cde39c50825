"""How long building the action plan workbook takes.

    python bench/plan.py

Two plans: right after a workshop with 9 målepunkter × 3 SMART goals, and the same plan
months later with 1 000 follow-up entries. Prints the median and the slowest of the runs.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import catalog  # noqa: E402
from bot.domain import agenda  # noqa: E402
from bot.domain.model import (Ambition, AmbitionStatus, FollowUp, GoalStatus, Level, Member,  # noqa: E402
                              SmartGoal, Vote, Workshop)
from bot.i18n import Translator  # noqa: E402
from bot.plan.workbook import build_workbook  # noqa: E402

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
RUNS = 20


def workshop(followups: int) -> Workshop:
    measures = [m.to_measure("da", n) for n, m in enumerate(catalog.load()[:9], start=1)]
    people = [Member(id=f"u{n}", name=f"Deltager {n}", participant=True) for n in range(18)]
    goals = [SmartGoal(id=f"g{m.id}{k}", measure_id=m.id, number=k,
                       text=f"Et konkret SMART-mål nummer {k} for {m.name}, med en klar handling",
                       indicator=m.name, baseline="100", target="80", deadline=date(2028, 12, 31),
                       owner="Anna Jensen", next_step="Første møde i januar", updated_at=NOW)
             for m in measures for k in (1, 2, 3)]
    statuses = list(GoalStatus)
    entries = [FollowUp(id=f"f{n}", goal_id=goals[n % len(goals)].id, status=statuses[n % 4],
                        progress=float(n % 100), comment=f"Status nr. {n}: vi er i gang med det",
                        updated_by="u1", updated_at=NOW + timedelta(hours=n))
               for n in range(followups)]
    return Workshop(
        id="wbench", org="bench", title="Boligselskabet Bench", date=date(2026, 11, 27),
        language="da", timezone="Europe/Copenhagen", created_at=NOW, facilitators=("u0",),
        durations=dict(agenda.DEFAULT_MINUTES), members={p.id: p for p in people}, measures={m.id: m for m in measures},
        votes={(m.id, p.id): Vote(measure_id=m.id, member_id=p.id, level=Level.MEDIUM)
               for m in measures for p in people[:6]},
        ambitions={m.id: Ambition(measure_id=m.id, level=Level.AMBITIOUS, status=AmbitionStatus.AGREED,
                                  sentence=f"Vi vil være blandt de bedste på {m.name}.")
                   for m in measures},
        goals={g.id: g for g in goals}, followups={f.id: f for f in entries})


def measure(label: str, ws: Workshop) -> None:
    t = Translator("da")
    build_workbook(ws, t, NOW)  # warm-up: imports and caches
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        data = build_workbook(ws, t, NOW)
        times.append(time.perf_counter() - start)
    print(f"{label:<44} median {statistics.median(times):.3f} s · slowest {max(times):.3f} s "
          f"· {len(data) // 1024} KB · {RUNS} runs")


if __name__ == "__main__":
    measure("9 målepunkter × 3 SMART-mål", workshop(0))
    measure("the same with 1 000 follow-up entries", workshop(1000))
