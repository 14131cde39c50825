"""One unit of work per event: dedupe, load, engine, save, outbox, commit — retried on conflict."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot import engine
from bot.domain.model import Workshop
from bot.events import Command, Event, oversized, storable
from bot.flow.turn import Context
from bot.ports import Clock, ConcurrencyConflict, UnitOfWork

ATTEMPTS = 5
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    workshop_id: str = ""
    duplicate: bool = False
    form_errors: Mapping[str, str] = field(default_factory=dict)  # answer the form with these


@dataclass(frozen=True)
class Defaults:
    language: str = "da"
    timezone: str = "Europe/Copenhagen"
    public_url: str = ""  # where browsers reach the server, for the links the bot gives


class WorkshopService:
    def __init__(self, units: Callable[[], UnitOfWork], clock: Clock,
                 defaults: Defaults = Defaults()) -> None:
        self._units = units
        self._clock = clock
        self._defaults = defaults

    def handle(self, event: Event) -> Result:
        return self.handle_batch([event])[0]

    def handle_batch(self, events: Sequence[Event]) -> list[Result]:
        """Events for one workshop in one transaction: loaded once, each through the engine in
        turn, saved and committed once. Many people clicking at once cost one load, not one
        each. Each event is still deduplicated, refused or answered on its own, and the answers
        are those of handling the events one after the other: where an event turns out to be
        for another workshop than the one in hand, that one is committed and the rest follow
        in a transaction of their own."""
        events = [storable(e) for e in events]
        results: list[Result] = []
        while len(results) < len(events):
            results += self._handle_run(events[len(results):])
        return results

    def _handle_run(self, events: Sequence[Event]) -> list[Result]:
        for attempt in range(ATTEMPTS):
            try:
                return self._handle_once(events)
            except ConcurrencyConflict:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _handle_once(self, events: Sequence[Event]) -> list[Result]:
        """The leading events that are for one workshop; at least the first."""
        with self._units() as uow:
            now = self._clock.now()
            ctx = Context(now=now, language=self._defaults.language, timezone=self._defaults.timezone,
                          public_url=self._defaults.public_url)
            before: Workshop | None = None
            state: Workshop | None = None
            loaded, seen, results = False, set[str](), list[Result]()
            handled = uow.seen({event.event_id for event in events})
            for event in events:
                if loaded and not _is_for(state, event):
                    if state is not before:
                        break
                    loaded = False  # nothing changed yet: look it up afresh, in this transaction
                if event.event_id in seen or event.event_id in handled:
                    results.append(Result(duplicate=True))
                    continue
                if (too_long := oversized(event)) is not None:  # PostgreSQL would refuse the lot
                    log.warning("ignored an event whose %s is longer than any platform's", too_long)
                    results.append(Result())
                    continue
                if not loaded:
                    before = state = _load(uow, event)
                    loaded = True
                outcome = engine.handle(state, event, ctx)
                if outcome.form_errors:  # nothing is stored: the person corrects the form and resends
                    results.append(Result(workshop_id=state.id if state else "", form_errors=outcome.form_errors))
                    continue
                state = outcome.state if outcome.state is not None else state
                workshop_id = state.id if state else ""
                uow.add_effects(workshop_id, outcome.effects, now)
                uow.mark_seen(event.event_id, workshop_id, now)
                seen.add(event.event_id)
                results.append(Result(workshop_id=workshop_id))
            if state is not None and state is not before:
                uow.workshops.save(before, state, events[len(results) - 1].actor.id, now)
            if seen:
                uow.commit()
            return results


def _is_for(state: Workshop | None, event: Event) -> bool:
    """Whether `_load` would find `state` for `event` (so the batch may go on with it)."""
    if state is None:
        return False
    return state.id == event.workshop_id if event.workshop_id else event.conversation in state.conversations


def _load(uow: UnitOfWork, event: Event) -> Workshop | None:
    if event.workshop_id:
        return uow.workshops.get(event.workshop_id)
    found = uow.workshops.by_conversation(event.org, event.conversation)
    if found is None and isinstance(event, Command):
        # `group E` in a channel that is not bound yet: the facilitator's newest workshop;
        # `my goals` in one's own chat with the bot: the newest in which one owns a goal.
        found = (uow.workshops.latest_for_facilitator(event.org, event.actor.id)
                 or uow.workshops.owned_by(event.org, event.actor.id))
    return found
