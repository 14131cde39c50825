"""Working days and hours: reminders land on Danish working days, inside working hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.workdays import WorkingHours

CPH = ZoneInfo("Europe/Copenhagen")
HOURS = WorkingHours()


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CPH)


@pytest.mark.parametrize(("moment", "expected"), [
    (local(2027, 3, 3, 9, 0), local(2027, 3, 3, 9, 0)),  # a Wednesday morning: as it is
    (local(2027, 3, 3, 7, 30), local(2027, 3, 3, 8, 0)),  # before hours: the same morning at 8
    (local(2027, 3, 3, 16, 0), local(2027, 3, 4, 8, 0)),  # at closing time: the next morning
    (local(2027, 3, 6, 10, 0), local(2027, 3, 8, 8, 0)),  # a Saturday: Monday
    (local(2027, 3, 25, 9, 0), local(2027, 3, 30, 8, 0)),  # Easter: skærtorsdag to 2. påskedag
    (local(2027, 12, 24, 15, 0), local(2027, 12, 24, 15, 0)),  # juleaften is a working day by law
    (local(2027, 12, 25, 9, 0), local(2027, 12, 27, 8, 0)),  # 1. and 2. juledag: Monday
    (local(2026, 12, 31, 17, 0), local(2027, 1, 4, 8, 0)),  # nytårsdag, then a weekend
    (local(2027, 5, 6, 9, 0), local(2027, 5, 7, 8, 0)),  # Kristi himmelfartsdag
    (local(2027, 5, 17, 9, 0), local(2027, 5, 18, 8, 0)),  # 2. pinsedag
])
def test_a_reminder_outside_working_hours_moves_to_the_next_moment_inside(
        moment: datetime, expected: datetime) -> None:
    assert HOURS.next_allowed(moment) == expected


def test_store_bededag_is_a_holiday_only_until_it_was_abolished() -> None:
    assert not HOURS.is_working_day(date(2023, 5, 5))
    assert HOURS.is_working_day(date(2024, 4, 26))


def test_the_first_working_day_of_a_month_skips_holidays_and_weekends() -> None:
    assert HOURS.first_working_day(2027, 1) == date(2027, 1, 4)  # 1st a holiday, then a weekend
    assert HOURS.first_working_day(2027, 3) == date(2027, 3, 1)
    assert HOURS.first_working_day(2026, 11) == date(2026, 11, 2)


def test_the_time_zone_decides_which_day_it_is() -> None:
    late_utc = datetime(2027, 3, 5, 23, 30, tzinfo=UTC)  # Saturday 00:30 in Copenhagen
    assert HOURS.next_allowed(late_utc) == local(2027, 3, 8, 8, 0)
    assert HOURS.at(date(2027, 3, 1), time(9)) == local(2027, 3, 1, 9, 0)


def test_other_hours_and_days_can_be_set() -> None:
    evenings = WorkingHours(start=time(17), end=time(20), weekdays=frozenset({0, 1, 2, 3}))
    assert evenings.next_allowed(local(2027, 3, 4, 20, 30)) == local(2027, 3, 8, 17, 0)
