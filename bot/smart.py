"""The SMART checker: which of the five criteria a goal meets, and what to do about the rest.

The checks are the ones a facilitator makes at the poster. Each failed criterion names a
catalog key with concrete advice, so the group learns what is missing, not just that
something is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bot.domain.model import SmartGoal

MIN_WORDS = 6
MAX_YEARS_AHEAD = 10
VAGUE = frozenset(
    "bedre mere mindre forbedre øge styrke arbejde fokus fokusere generelt "
    "better more less improve increase strengthen work focus general".split()
)
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


class Criterion(StrEnum):
    SPECIFIC = "specific"
    MEASURABLE = "measurable"
    ACCEPTED = "accepted"
    REALISTIC = "realistic"
    TIME_BOUND = "time_bound"


@dataclass(frozen=True)
class Check:
    criterion: Criterion
    ok: bool
    advice: str = ""  # a catalog key under smart.advice
    params: Mapping[str, str] = field(default_factory=dict)


def number_in(text: str) -> float | None:
    found = _NUMBER.search(text)
    return float(found.group().replace(",", ".")) if found else None


def check(goal: SmartGoal, today: date) -> tuple[Check, ...]:
    return (
        _specific(goal.text),
        _measurable(goal),
        _accepted(goal),
        _realistic(goal, today),
        _time_bound(goal.deadline, today),
    )


def passed(checks: tuple[Check, ...]) -> int:
    return sum(c.ok for c in checks)


def _specific(text: str) -> Check:
    words = re.findall(r"\w+", text.casefold())
    if len(words) < MIN_WORDS:
        return Check(Criterion.SPECIFIC, False, "too_short", {"count": str(len(words))})
    if sum(w not in VAGUE for w in words) < MIN_WORDS - 1:
        return Check(Criterion.SPECIFIC, False, "too_vague")
    return Check(Criterion.SPECIFIC, True)


def _measurable(goal: SmartGoal) -> Check:
    if not goal.indicator.strip():
        return Check(Criterion.MEASURABLE, False, "no_indicator")
    if number_in(goal.target) is None and number_in(goal.text) is None:
        return Check(Criterion.MEASURABLE, False, "no_number")
    return Check(Criterion.MEASURABLE, True)


def _accepted(goal: SmartGoal) -> Check:
    if not any(s != goal.author for s in goal.supporters):
        return Check(Criterion.ACCEPTED, False, "no_support")
    return Check(Criterion.ACCEPTED, True)


def _realistic(goal: SmartGoal, today: date) -> Check:
    if not goal.baseline.strip():
        return Check(Criterion.REALISTIC, False, "no_baseline")
    start, end = number_in(goal.baseline), number_in(goal.target)
    if start is not None and end is not None and start == end:
        return Check(Criterion.REALISTIC, False, "no_change")
    if goal.deadline and goal.deadline.year - today.year > MAX_YEARS_AHEAD:
        return Check(Criterion.REALISTIC, False, "too_far", {"years": str(MAX_YEARS_AHEAD)})
    return Check(Criterion.REALISTIC, True)


def _time_bound(deadline: date | None, today: date) -> Check:
    if deadline is None:
        return Check(Criterion.TIME_BOUND, False, "no_deadline")
    if deadline <= today:
        return Check(Criterion.TIME_BOUND, False, "deadline_passed")
    return Check(Criterion.TIME_BOUND, True)
