"""Time, injected: the system clock in production, a hand-moved clock in demos and tests, and
a compressed clock (BOT_TIME_SCALE) that lets a three-hour workshop pass in minutes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def to_real(self, moment: datetime) -> datetime:
        return moment


class ManualClock:
    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware start time")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = max(self._now, moment.astimezone(UTC))

    def to_real(self, moment: datetime) -> datetime:
        return moment


class ScaledClock:
    """Workshop time that starts at `start` and runs `scale` times as fast as real time
    (60: a real second is a workshop minute); `set` jumps ahead, as `ff` in the console."""

    def __init__(self, start: datetime, scale: float) -> None:
        if start.tzinfo is None or scale <= 0:
            raise ValueError("the clock needs an aware start time and a positive scale")
        self.scale = scale
        self._start = start.astimezone(UTC)
        self._real_start = time.monotonic()
        self._wall_start = datetime.now(UTC)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._real_start) * self.scale)

    def set(self, moment: datetime) -> None:
        ahead = moment.astimezone(UTC) - self.now()
        if ahead > timedelta(0):
            self._start += ahead

    def real_seconds(self, workshop: timedelta) -> float:
        return workshop.total_seconds() / self.scale

    def to_real(self, moment: datetime) -> datetime:
        """The wall-clock moment at which the workshop clock shows `moment`."""
        elapsed = (moment.astimezone(UTC) - self._start).total_seconds() / self.scale
        return self._wall_start + timedelta(seconds=elapsed)
