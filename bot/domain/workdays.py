"""When the bot may disturb people after the workshop: working days and hours, never on a
public holiday. A reminder that would fall outside is moved to the next moment inside.

Holidays come from the maintained `holidays` package (Danish ones by default: Easter, Store
Bededag until 2023, Kristi Himmelfart, pinse, jul), not from a list kept here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays


@dataclass(frozen=True)
class WorkingHours:
    timezone: str = "Europe/Copenhagen"
    start: time = time(8)
    end: time = time(16)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday is 0
    country: str = "DK"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in _holidays(self.country, day.year)

    def allows(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        return self.is_working_day(local.date()) and self.start <= local.time() < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` if people may be disturbed then, else the start of the next working hours."""
        if self.allows(moment):
            return moment
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, self.start, zone)

    def at(self, day: date, clock: time) -> datetime:
        """`clock` on `day` in the workshop's zone, moved into working hours if need be."""
        return self.next_allowed(datetime.combine(day, clock, ZoneInfo(self.timezone)))

    def first_working_day(self, year: int, month: int) -> date:
        day = date(year, month, 1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


@functools.cache
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year))
