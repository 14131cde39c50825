"""Timers for the console: kept in memory and fired when the clock is moved on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.effects import Cancel, Schedule


class ConsoleTimers:
    def __init__(self) -> None:
        self._pending: dict[str, tuple[datetime, Mapping[str, str]]] = {}

    def schedule(self, effect: Schedule) -> None:
        self._pending[effect.timer] = (effect.at, effect.args)

    def cancel(self, effect: Cancel) -> None:
        self._pending.pop(effect.timer, None)

    def moments(self) -> list[datetime]:
        return [at for at, _ in self._pending.values()]

    def next_due(self, until: datetime) -> tuple[str, datetime, Mapping[str, str]] | None:
        """The earliest timer due by `until`, taken off the list."""
        due = [(at, timer) for timer, (at, _) in self._pending.items() if at <= until]
        if not due:
            return None
        at, timer = min(due)
        _, args = self._pending.pop(timer)
        return timer, at, args
