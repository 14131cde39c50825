"""One unit of work per event: dedupe, load, engine, save, outbox, commit — retried on conflict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot import engine
from bot.domain.model import Workshop
from bot.events import Command, Event
from bot.flow.turn import Context
from bot.ports import Clock, ConcurrencyConflict, UnitOfWork

ATTEMPTS = 5


@dataclass(frozen=True)
class Result:
    workshop_id: str = ""
    duplicate: bool = False
    form_errors: Mapping[str, str] = field(default_factory=dict)  # answer the form with these


@dataclass(frozen=True)
class Defaults:
    language: str = "da"
    timezone: str = "Europe/Copenhagen"


class WorkshopService:
    def __init__(self, units: Callable[[], UnitOfWork], clock: Clock,
                 defaults: Defaults = Defaults()) -> None:
        self._units = units
        self._clock = clock
        self._defaults = defaults

    def handle(self, event: Event) -> Result:
        for attempt in range(ATTEMPTS):
            try:
                return self._handle_once(event)
            except ConcurrencyConflict:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _handle_once(self, event: Event) -> Result:
        with self._units() as uow:
            if uow.seen(event.event_id):
                return Result(duplicate=True)
            before = _load(uow, event)
            now = self._clock.now()
            ctx = Context(now=now, language=self._defaults.language, timezone=self._defaults.timezone)
            outcome = engine.handle(before, event, ctx)
            if outcome.form_errors:  # nothing is stored: the person corrects the form and resends
                return Result(workshop_id=before.id if before else "", form_errors=outcome.form_errors)
            after = outcome.state
            if after is not None and after is not before:
                uow.workshops.save(before, after, event.actor.id, now)
            workshop_id = after.id if after else ""
            uow.add_effects(workshop_id, outcome.effects, now)
            uow.mark_seen(event.event_id, workshop_id, now)
            uow.commit()
            return Result(workshop_id=workshop_id)


def _load(uow: UnitOfWork, event: Event) -> Workshop | None:
    if event.workshop_id:
        return uow.workshops.get(event.workshop_id)
    found = uow.workshops.by_conversation(event.org, event.conversation)
    if found is None and isinstance(event, Command):
        # `group E` in a channel that is not bound yet: the facilitator's newest workshop.
        found = uow.workshops.latest_for_facilitator(event.org, event.actor.id)
    return found
