"""After the workshop: what each SMART goal's follow-up history says about it now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.model import Area, FollowUp, GoalStatus, SmartGoal, Workshop

# Who a report read back from a returned Excel plan is attributed to (no person sent it).
FROM_EXCEL = "import:excel"


def history(ws: Workshop, goal_id: str | None = None) -> list[FollowUp]:
    """Reports oldest first: of one goal, or of all goals."""
    entries = (f for f in ws.followups.values() if goal_id is None or f.goal_id == goal_id)
    return sorted(entries, key=lambda f: (f.updated_at or datetime.min, f.version))


def latest(ws: Workshop, goal_id: str) -> FollowUp | None:
    entries = history(ws, goal_id)
    return entries[-1] if entries else None


def status_of(ws: Workshop, goal_id: str) -> GoalStatus:
    entry = latest(ws, goal_id)
    return entry.status if entry else GoalStatus.NOT_STARTED


def last_updated(ws: Workshop, goal: SmartGoal) -> datetime | None:
    entry = latest(ws, goal.id)
    moments = [m for m in (goal.updated_at, entry.updated_at if entry else None) if m]
    return max(moments) if moments else None


@dataclass(frozen=True)
class Standing:
    """How an ESG area's goals stand: done, on track, or late (reported late, or past their
    deadline and not done)."""

    done: int = 0
    on_track: int = 0
    late: int = 0


def standing_by_area(ws: Workshop, today: date) -> dict[Area, Standing]:
    """Each area that has goals, in E, S, G order."""
    counts: dict[Area, list[int]] = {}
    for goal in ws.goals.values():
        measure = ws.measures.get(goal.measure_id)
        if measure is None:
            continue
        status = status_of(ws, goal.id)
        late = status == GoalStatus.DELAYED or (status != GoalStatus.DONE and goal.deadline is not None
                                                and goal.deadline < today)
        row = counts.setdefault(measure.area, [0, 0, 0])
        row[0 if status == GoalStatus.DONE else 2 if late else 1] += 1
    return {area: Standing(*counts[area]) for area in Area if area in counts}
