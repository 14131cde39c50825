"""The SMART checker's verdicts, criterion by criterion."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.model import SmartGoal
from bot.smart import Criterion, check, passed

TODAY = date(2026, 11, 27)
GOOD = SmartGoal(id="g", measure_id="m", number=1, author="a", supporters=("a", "b"),
                 text="Energirenovere 120 boliger i afdeling Fjordparken inden udgangen af 2028",
                 indicator="kWh/m²", baseline="142 kWh/m²", target="110 kWh/m²",
                 deadline=date(2028, 12, 31))


def verdict(goal: SmartGoal) -> dict[Criterion, str]:
    return {c.criterion: c.advice for c in check(goal, TODAY) if not c.ok}


def test_a_good_goal_meets_all_five() -> None:
    assert passed(check(GOOD, TODAY)) == 5


@pytest.mark.parametrize(("change", "criterion", "advice"), [
    ({"text": "Spare energi"}, Criterion.SPECIFIC, "too_short"),
    ({"text": "Mere fokus på bedre arbejde og mere fokus generelt"}, Criterion.SPECIFIC, "too_vague"),
    ({"indicator": ""}, Criterion.MEASURABLE, "no_indicator"),
    ({"target": "meget lavere", "text": "Energirenovere boliger i afdeling Fjordparken hurtigst muligt"},
     Criterion.MEASURABLE, "no_number"),
    ({"supporters": ("a",)}, Criterion.ACCEPTED, "no_support"),
    ({"baseline": ""}, Criterion.REALISTIC, "no_baseline"),
    ({"baseline": "110 kWh/m²"}, Criterion.REALISTIC, "no_change"),
    ({"deadline": date(2045, 1, 1)}, Criterion.REALISTIC, "too_far"),
    ({"deadline": None}, Criterion.TIME_BOUND, "no_deadline"),
    ({"deadline": date(2020, 1, 1)}, Criterion.TIME_BOUND, "deadline_passed"),
])
def test_each_missing_piece_fails_exactly_its_criterion(change, criterion, advice) -> None:  # noqa: ANN001
    from dataclasses import replace

    assert verdict(replace(GOOD, **change)) == {criterion: advice}
