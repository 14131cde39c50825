"""Several processes deliver the outbox at once (web processes and the scheduler process):
each effect goes out once, and a conversation's effects go out in order, by one of them."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from adapters.app import Store
from bot.codec import dumps
from bot.dispatch import DeliveryError, Dispatcher
from bot.effects import Cancel, Effect, Post, Schedule
from bot.store.outbox import LEASE, SqlOutbox
from bot.store.tables import OutboxRow
from bot.ui import Message, Text
from tests.conftest import START


class NoTimers:
    def schedule(self, effect: Schedule) -> None: ...
    def cancel(self, effect: Cancel) -> None: ...


def fill(store: Store, lanes: int, per_lane: int) -> None:
    """Outbox items for `lanes` conversations, interleaved as many workshops would write them."""
    with store.sessions.begin() as session:
        for n in range(per_lane):
            for lane in range(lanes):
                effect = Post(f"c{lane}", Message((Text(f"{lane}:{n}"),)))
                session.add(OutboxRow(workshop_id="w1", lane=effect.conversation, payload=dumps(effect),
                                      created_at=START, attempts=0, next_attempt_at=START, last_error=""))


def test_what_one_dispatcher_has_taken_the_other_leaves_alone_until_its_claim_runs_out(
        store: Store) -> None:
    fill(store, lanes=3, per_lane=2)
    first, second = SqlOutbox(store.sessions, "first"), SqlOutbox(store.sessions, "second")

    taken = first.due(START, 1000)
    assert len(taken) == 6
    assert second.due(START, 1000) == []  # every conversation is in the first one's hands
    for item in taken[:2]:  # the first delivers conversation c0 and c1's first items, then dies
        first.delivered([(item, None)], START)
    assert second.due(START + timedelta(seconds=5), 1000) == []
    late = START + LEASE + timedelta(seconds=1)
    assert [i.id for i in second.due(late, 1000)] == [i.id for i in taken[2:]]  # taken over, in order


def test_two_dispatchers_at_once_deliver_everything_exactly_once_and_in_order(store: Store) -> None:
    fill(store, lanes=20, per_lane=10)
    delivered: list[tuple[str, str]] = []
    lock = threading.Lock()

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        async def deliver(self, effect: Effect, ref: str | None) -> str | None:
            assert isinstance(effect, Post)
            with lock:
                delivered.append((effect.conversation, effect.message.blocks[0].text))  # type: ignore[union-attr]
            await asyncio.sleep(0)
            return None

    class Clock:
        def now(self):  # noqa: ANN202
            return START

    def run(name: str) -> None:
        dispatcher = Dispatcher(SqlOutbox(store.sessions, name), Recorder(name), NoTimers(), Clock(), batch=7)
        asyncio.run(dispatcher.drain())

    workers = [threading.Thread(target=run, args=(name,)) for name in ("web-1", "web-2", "scheduler")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert len(delivered) == 200 and len(set(delivered)) == 200  # all of them, none twice
    for lane in range(20):
        order = [int(text.split(":")[1]) for conversation, text in delivered if conversation == f"c{lane}"]
        assert order == list(range(10))


def test_a_dispatcher_restarted_under_its_name_takes_its_claims_over_at_once_as_in_doubt(
        store: Store) -> None:
    fill(store, lanes=2, per_lane=2)
    taken = SqlOutbox(store.sessions, "serve@host:3978").due(START, 1000)
    assert not any(item.in_doubt for item in taken)  # nobody had tried them

    # It dies with everything taken; the same server, started again a moment later:
    again = SqlOutbox(store.sessions, "serve@host:3978").due(START + timedelta(seconds=3), 1000)

    assert [i.id for i in again] == [i.id for i in taken]  # without waiting out the claim
    assert all(item.in_doubt for item in again)  # each may have gone out before it died


def test_only_an_attempt_whose_outcome_is_unknown_leaves_its_item_in_doubt(store: Store) -> None:
    fill(store, lanes=1, per_lane=3)
    outbox = SqlOutbox(store.sessions, "web-1")
    first, second, third = outbox.due(START, 1000)

    outbox.failed(first, "timeout", START, START, in_doubt=True)  # it may have been posted
    outbox.release([second, third])  # the lane stopped before trying these
    assert [(i.id, i.in_doubt) for i in outbox.due(START, 1000)] == [
        (first.id, True), (second.id, False), (third.id, False)]


def test_a_lane_stopped_by_a_failure_hands_back_what_it_did_not_try(store: Store) -> None:
    fill(store, lanes=1, per_lane=3)

    class Refusing:
        async def deliver(self, effect: Effect, ref: str | None) -> str | None:
            raise DeliveryError("429", retry_after=0)

    class Clock:
        def now(self):  # noqa: ANN202
            return START

    outbox = SqlOutbox(store.sessions, "web-1")
    asyncio.run(Dispatcher(outbox, Refusing(), NoTimers(), Clock()).deliver_due())

    assert [i.in_doubt for i in outbox.due(START + timedelta(seconds=1), 1000)] == [False, False, False]
