"""Text no platform should send, sent anyway: the event is handled, not lost with a crash.
PostgreSQL refuses to store a NUL character, and a name or id with one used to fail the whole
request (and the platform's retry of it, the same way)."""

from __future__ import annotations

from adapters.app import Store, build_service
from adapters.config import Settings
from bot.clock import ManualClock
from bot.events import Actor, Command
from bot.store.tables import MemberRow, WorkshopRow
from tests.conftest import START
from tests.integration.test_store import rows
from tests.invariants import violations


def test_a_nul_in_a_name_an_id_or_the_text_is_dropped_and_the_command_works(store: Store) -> None:
    service = build_service(store, ManualClock(START), Settings(_env_file=None))
    event = Command(event_id="ev\x001", org="org\x00-1", conversation="C\x00plenum",
                    actor=Actor("u\x001", "Met\x00te"), text="ny Fjord\x00ly")

    first = service.handle(event)
    again = service.handle(event)  # the platform's retry

    [workshop] = rows(store, WorkshopRow)
    [member] = rows(store, MemberRow)
    assert (workshop.title, workshop.org, member.name, member.id) == ("Fjordly", "org-1", "Mette", "u1")
    assert first.workshop_id == workshop.id and again.duplicate
    assert violations(store) == []


def test_an_id_longer_than_any_platforms_is_ignored_and_a_long_name_shortened(store: Store) -> None:
    # Found by fuzzing the Slack endpoint on PostgreSQL: a 300-character channel id failed the
    # whole request there ("value too long"), where SQLite had stored it.
    service = build_service(store, ManualClock(START), Settings(_env_file=None))
    start = service.handle(Command(event_id="e1", org="org-1", conversation="C-plenum",
                                   actor=Actor("u1", "M" * 500), text="ny Fjordly"))
    odd = service.handle(Command(event_id="e2", org="org-1", conversation="C" * 300,
                                 actor=Actor("u1", "Mette"), text="hjælp"))

    [member] = rows(store, MemberRow)
    assert start.workshop_id and member.name == "M" * 200
    assert not odd.workshop_id and not odd.duplicate
    assert violations(store) == []


def test_the_limits_on_ids_are_the_stores() -> None:
    from bot.events import MAX_EVENT_ID, MAX_ID, MAX_NAME
    from bot.store.tables import OutboxRow, ProcessedEventRow

    assert MemberRow.__table__.c.name.type.length == MAX_NAME
    assert WorkshopRow.__table__.c.org.type.length == MAX_ID
    assert OutboxRow.__table__.c.lane.type.length == MAX_ID
    assert ProcessedEventRow.__table__.c.event_id.type.length == MAX_EVENT_ID
