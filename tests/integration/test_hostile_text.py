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
