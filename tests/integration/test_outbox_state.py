"""What an operator sees of the outbox when messages seem slow (`/readyz`): how many wait, how
many are being retried and until when, how many were given up on, and the newest error."""

from __future__ import annotations

from datetime import timedelta

from adapters.app import Store
from bot.store.tables import OutboxRow
from tests.conftest import START


def row(number: int, **fields: object) -> OutboxRow:
    values: dict[str, object] = dict(workshop_id="w1", lane="plenum", payload="{}", attempts=0,
                                     created_at=START + timedelta(minutes=number), last_error="",
                                     next_attempt_at=START + timedelta(minutes=number))
    return OutboxRow(**{**values, **fields})


def test_the_outbox_tells_what_waits_what_is_retried_and_what_was_given_up(store: Store) -> None:
    retry_at = START + timedelta(minutes=30)
    with store.sessions.begin() as session:
        session.add_all([
            row(0, delivered_at=START),
            row(1, attempts=2, next_attempt_at=retry_at, last_error="Teams answered 429"),
            row(2),
            row(3, attempts=8, failed_at=START, last_error="Forbidden"),
        ])

    state = store.outbox.state(START + timedelta(minutes=11))

    assert (state.waiting, state.retrying, state.set_aside) == (2, 1, 1)
    assert state.oldest_seconds == 600 and state.next_retry_at == retry_at
    assert state.last_error == "Forbidden"


def test_an_empty_outbox_is_all_zero(store: Store) -> None:
    state = store.outbox.state(START)
    assert (state.waiting, state.retrying, state.set_aside, state.oldest_seconds) == (0, 0, 0, 0.0)
    assert state.next_retry_at is None and state.last_error == ""
