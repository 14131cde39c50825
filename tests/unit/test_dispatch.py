"""The dispatcher: the outbox is delivered in order per conversation, retried, never lost.

Everything here runs against in-memory fakes of the three ports the dispatcher talks to
(the outbox, the platform deliverer and the timers) and a hand-moved clock, so the tests
can script failures call by call and step through backoffs without waiting on real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.dispatch import BACKOFF_SECONDS, MAX_ATTEMPTS, DeliveryError, Dispatcher
from bot.effects import Cancel, Effect, Post, PostPrivate, Schedule, Update, conversation_of
from bot.ports import Pending
from bot.ui import Message, Text
from tests.conftest import START

WORKSHOP = "ws-1"
TINY = timedelta(milliseconds=1)


# --- fakes -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One outbox row, as SqlOutbox keeps it (delivered/failed stamps decide if it is pending)."""

    id: int
    workshop_id: str
    lane: str
    effect: Effect
    attempts: int = 0
    next_attempt_at: datetime = START
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str = ""
    progress: str | None = None
    in_doubt: bool = False


class FakeOutbox:
    """The Outbox port in memory, with SqlOutbox's semantics (see bot/store/outbox.py)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.posted: dict[tuple[str, str], str] = {}

    def add(self, *effects: Effect, workshop_id: str = WORKSHOP, at: datetime = START) -> list[int]:
        """Queue effects the way SqlUnitOfWork.add_effects does; returns their ids."""
        ids = []
        for effect in effects:
            row = Row(len(self.rows) + 1, workshop_id, conversation_of(effect), effect,
                      next_attempt_at=at)
            self.rows.append(row)
            ids.append(row.id)
        return ids

    def row(self, item_id: int) -> Row:
        return next(r for r in self.rows if r.id == item_id)

    # The protocol.

    def pending(self, limit: int) -> Sequence[Pending]:
        waiting = sorted((r for r in self.rows if r.delivered_at is None and r.failed_at is None),
                         key=lambda r: r.id)
        return [Pending(r.id, r.workshop_id, r.lane, r.effect, r.attempts, r.next_attempt_at,
                        r.progress, r.in_doubt) for r in waiting[:limit]]

    def due(self, now: datetime, limit: int, busy: Collection[str] = ()) -> Sequence[Pending]:
        waiting = {p.lane for p in self.pending(len(self.rows)) if p.next_attempt_at > now} | set(busy)
        return [p for p in self.pending(len(self.rows)) if p.lane not in waiting][:limit]

    def delivered(self, done: Sequence[tuple[Pending, str | None]], now: datetime) -> None:
        for item, ref in done:
            row = self.row(item.id)
            row.delivered_at, row.attempts = now, item.attempts + 1
            if isinstance(item.effect, Post) and item.effect.key and ref is not None:
                self.posted[(item.workshop_id, item.effect.key)] = ref

    def failed(self, item: Pending, error: str, retry_at: datetime | None, now: datetime,
               progress: str | None = None, in_doubt: bool = False) -> None:
        row = self.row(item.id)
        row.attempts, row.last_error, row.in_doubt = item.attempts + 1, error[:2000], in_doubt
        row.progress = progress or item.progress
        row.next_attempt_at = retry_at or now
        row.failed_at = None if retry_at else now  # no retry time: set aside for good

    def release(self, items: Sequence[Pending]) -> None:
        pass  # nothing is claimed here

    def refs(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return {k: self.posted[k] for k in keys if k in self.posted}


OK = object()  # a scripted outcome: deliver and return an automatic ref


@dataclass
class FakeDeliverer:
    """A platform whose answer to each call is scripted in order.

    Each entry of `script` is used for one call: OK (succeed with an automatic ref), a string
    (succeed and return that ref) or an exception (raised). When the script runs out, every
    call succeeds. `delivered` holds (effect, ref it was given) for each successful call.
    """

    script: list[object] = field(default_factory=list)
    calls: list[Effect] = field(default_factory=list)
    delivered: list[tuple[Effect, str | None]] = field(default_factory=list)

    async def deliver(self, effect: Effect, ref: str | None) -> str | None:
        self.calls.append(effect)
        outcome = self.script.pop(0) if self.script else OK
        if isinstance(outcome, BaseException):
            raise outcome
        self.delivered.append((effect, ref))
        return outcome if isinstance(outcome, str) else f"ref-{len(self.calls)}"

    @property
    def effects(self) -> list[Effect]:
        return [effect for effect, _ in self.delivered]


@dataclass
class FakeTimers:
    scheduled: list[Schedule] = field(default_factory=list)
    cancelled: list[Cancel] = field(default_factory=list)

    def schedule(self, effect: Schedule) -> None:
        self.scheduled.append(effect)

    def cancel(self, effect: Cancel) -> None:
        self.cancelled.append(effect)


@dataclass
class Rig:
    outbox: FakeOutbox
    deliverer: FakeDeliverer
    timers: FakeTimers
    clock: ManualClock
    dispatcher: Dispatcher


def rig(*script: object, batch: int = 500) -> Rig:
    outbox, deliverer, timers, clock = FakeOutbox(), FakeDeliverer(list(script)), FakeTimers(), \
        ManualClock(START)
    return Rig(outbox, deliverer, timers, clock, Dispatcher(outbox, deliverer, timers, clock, batch))


def post(conversation: str, text: str, key: str = "") -> Post:
    return Post(conversation, Message((Text(text),), summary=text), key)


def private(conversation: str, user: str, text: str) -> PostPrivate:
    return PostPrivate(conversation, user, Message((Text(text),), summary=text))


def texts(effects: Iterable[Effect]) -> list[str]:
    """The summaries of the messages among `effects` (each test message says one word)."""
    return [e.message.summary for e in effects if isinstance(e, (Post, Update, PostPrivate))]


def retry_later(seconds: float | None = None) -> DeliveryError:
    return DeliveryError("try again", retry_after=seconds)


# --- order within a lane -----------------------------------------------------------------------


async def test_effects_of_one_conversation_are_delivered_in_order() -> None:
    r = rig()
    r.outbox.add(post("plenum", "1"), post("plenum", "2"), post("plenum", "3"))

    assert await r.dispatcher.deliver_due() == 3

    assert texts(r.deliverer.effects) == ["1", "2", "3"]
    assert r.outbox.pending(10) == []


async def test_a_failing_lane_holds_back_only_its_own_later_effects() -> None:
    r = rig(retry_later(), OK, OK)  # the first call (plenum's "p1") fails
    r.outbox.add(post("plenum", "p1"), post("E", "e1"), post("plenum", "p2"), post("E", "e2"))

    assert await r.dispatcher.deliver_due() == 2

    # E is unaffected; plenum's "p2" is not sent ahead of "p1", which waits for its retry.
    assert texts(r.deliverer.effects) == ["e1", "e2"]
    assert texts(item.effect for item in r.outbox.pending(10)) == ["p1", "p2"]


async def test_a_held_back_lane_stays_in_order_until_the_retry_is_due() -> None:
    r = rig(retry_later())
    r.outbox.add(post("plenum", "p1"), post("plenum", "p2"))
    await r.dispatcher.deliver_due()

    # Still waiting: even "p2", which has never been tried, must not overtake "p1".
    assert await r.dispatcher.deliver_due() == 0
    assert r.deliverer.calls == [r.outbox.row(1).effect]

    r.clock.advance(timedelta(seconds=BACKOFF_SECONDS[0]))
    assert await r.dispatcher.deliver_due() == 2
    assert texts(r.deliverer.effects) == ["p1", "p2"]


# --- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("failures", [1, 2, 3, len(BACKOFF_SECONDS), len(BACKOFF_SECONDS) + 3])
async def test_a_retry_waits_out_the_backoff_for_its_attempt(failures: int) -> None:
    r = rig(*[RuntimeError("network down")] * failures)  # a plain exception is retried too
    [item_id] = r.outbox.add(post("plenum", "hello"))

    for attempt in range(1, failures + 1):
        await r.dispatcher.deliver_due()
        assert r.outbox.row(item_id).attempts == attempt
        # Past the end of the table the last (longest) backoff is used.
        wait = timedelta(seconds=BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1])
        assert r.outbox.row(item_id).next_attempt_at == r.clock.now() + wait

        r.clock.advance(wait - TINY)
        assert await r.dispatcher.deliver_due() == 0, "retried before the backoff was over"
        r.clock.advance(TINY)

    assert await r.dispatcher.deliver_due() == 1
    assert texts(r.deliverer.effects) == ["hello"]
    assert "network down" in r.outbox.row(item_id).last_error


async def test_the_platforms_retry_after_is_used_instead_of_the_backoff() -> None:
    r = rig(retry_later(42))  # e.g. Slack's HTTP 429 with Retry-After: 42
    [item_id] = r.outbox.add(post("plenum", "hello"))
    await r.dispatcher.deliver_due()

    r.clock.advance(timedelta(seconds=BACKOFF_SECONDS[0]))  # the backoff alone would be over
    assert await r.dispatcher.deliver_due() == 0
    r.clock.advance(timedelta(seconds=42 - BACKOFF_SECONDS[0]) - TINY)
    assert await r.dispatcher.deliver_due() == 0
    r.clock.advance(TINY)
    assert await r.dispatcher.deliver_due() == 1
    assert r.outbox.row(item_id).delivered_at == r.clock.now()


# --- setting aside -----------------------------------------------------------------------------


async def test_a_permanent_error_sets_the_item_aside_and_the_lane_goes_on() -> None:
    r = rig(DeliveryError("channel_not_found", permanent=True))
    [bad, good] = r.outbox.add(post("plenum", "lost"), post("plenum", "next"))

    # No waiting needed: the same pass continues the lane.
    assert await r.dispatcher.deliver_due() == 1
    assert r.outbox.row(bad).failed_at == r.clock.now()  # set aside, not to be retried
    assert "channel_not_found" in r.outbox.row(bad).last_error
    assert texts(r.deliverer.effects) == ["next"]
    assert r.outbox.row(good).delivered_at is not None
    assert r.deliverer.calls.count(r.outbox.row(bad).effect) == 1  # never tried again


async def test_after_max_attempts_an_item_is_set_aside() -> None:
    r = rig(*[retry_later()] * MAX_ATTEMPTS)
    [item_id] = r.outbox.add(post("plenum", "doomed"))
    longest = timedelta(seconds=max(BACKOFF_SECONDS))

    for _ in range(MAX_ATTEMPTS - 1):
        await r.dispatcher.deliver_due()
        r.clock.advance(longest)
    assert r.outbox.row(item_id).failed_at is None, "set aside before its last attempt"
    assert [p.id for p in r.outbox.pending(10)] == [item_id]

    await r.dispatcher.deliver_due()
    assert r.outbox.row(item_id).attempts == MAX_ATTEMPTS
    assert r.outbox.row(item_id).failed_at is not None
    assert r.outbox.pending(10) == []
    r.clock.advance(longest)
    await r.dispatcher.deliver_due()
    assert len(r.deliverer.calls) == MAX_ATTEMPTS  # no attempt after it was set aside


# --- updates and timers ------------------------------------------------------------------------


async def test_an_update_gets_the_ref_stored_when_its_keyed_post_was_delivered() -> None:
    r = rig("slack-ts-1")
    first = post("plenum", "board v1", key="board")
    second = Update("plenum", "board", Message((Text("board v2"),), summary="board v2"))
    r.outbox.add(first, second)

    await r.dispatcher.deliver_due()

    assert r.deliverer.delivered == [(first, None), (second, "slack-ts-1")]


async def test_an_update_is_given_the_ref_of_its_own_workshop_and_key() -> None:
    r = rig("ts-board-a", "ts-board-b", "ts-agenda-a")
    r.outbox.add(post("plenum", "A board", key="board"), workshop_id="a")
    r.outbox.add(post("plenum", "B board", key="board"), workshop_id="b")
    r.outbox.add(post("plenum", "A agenda", key="agenda"), workshop_id="a")
    update = Update("plenum", "board", Message((Text("B board v2"),), summary="B board v2"))
    r.outbox.add(update, workshop_id="b")

    await r.dispatcher.deliver_due()

    assert r.deliverer.delivered[-1] == (update, "ts-board-b")


async def test_an_update_of_a_message_never_posted_is_delivered_without_a_ref() -> None:
    r = rig()
    update = Update("plenum", "board", Message((Text("board"),)))
    r.outbox.add(update)

    await r.dispatcher.deliver_due()

    assert r.deliverer.delivered == [(update, None)]


async def test_a_retry_is_handed_what_the_failed_attempt_had_already_done() -> None:
    r = rig(DeliveryError("the second part failed", progress="ts-part-1"),
            DeliveryError("failed again, before anything more went out"))
    long_post = post("plenum", "long")
    r.outbox.add(long_post)

    for _ in range(3):
        await r.dispatcher.deliver_due()
        r.clock.advance(timedelta(minutes=1))

    assert r.deliverer.delivered == [(long_post, "ts-part-1")]  # kept through the second failure


async def test_schedule_and_cancel_go_to_the_timers_not_to_the_platform() -> None:
    r = rig()
    schedule = Schedule("phase-end", START + timedelta(minutes=20), {"phase": "ambitions"})
    cancel = Cancel("phase-end")
    r.outbox.add(post("plenum", "hello"), schedule, cancel)

    assert await r.dispatcher.deliver_due() == 3

    assert r.timers.scheduled == [schedule]
    assert r.timers.cancelled == [cancel]
    assert r.deliverer.calls == [r.outbox.row(1).effect]
    assert r.outbox.pending(10) == []


# --- drain -------------------------------------------------------------------------------------


async def test_drain_delivers_everything_due_and_returns_the_count() -> None:
    r = rig()
    r.outbox.add(post("plenum", "1"), post("E", "2"), Schedule("t", START), post("plenum", "3"))
    r.outbox.add(post("S", "later"), at=START + timedelta(minutes=5))  # not due yet

    assert await r.dispatcher.drain() == 4

    assert sorted(texts(r.deliverer.effects)) == ["1", "2", "3"]
    assert texts(e for e in r.deliverer.effects if conversation_of(e) == "plenum") == ["1", "3"]
    assert texts(p.effect for p in r.outbox.pending(10)) == ["later"]


async def test_effects_delivered_together_are_recorded_together() -> None:
    r = rig()
    groups: list[int] = []
    record = r.outbox.delivered
    r.outbox.delivered = lambda done, now: (groups.append(len(done)), record(done, now))  # type: ignore[method-assign]
    r.outbox.add(*(post(f"person-{n}", str(n)) for n in range(12)))

    assert await r.dispatcher.drain() == 12

    assert r.outbox.pending(20) == []
    assert sum(groups) == 12 and len(groups) < 12


async def test_the_marks_of_one_busy_conversation_are_recorded_together_too() -> None:
    r = rig()
    groups: list[int] = []
    record = r.outbox.delivered
    r.outbox.delivered = lambda done, now: (groups.append(len(done)), record(done, now))  # type: ignore[method-assign]
    r.outbox.add(*(private("plenum", f"person-{n}", str(n)) for n in range(12)))

    assert await r.dispatcher.drain() == 12

    assert texts(r.deliverer.effects) == [str(n) for n in range(12)]  # in order
    assert r.outbox.pending(20) == []
    assert sum(groups) == 12 and len(groups) < 12


async def test_a_delivery_the_outbox_could_not_record_is_not_lost() -> None:
    r = rig()
    r.outbox.add(post("plenum", "1"), post("E", "2"))
    record = r.outbox.delivered

    def database_away(done: object, now: object) -> None:
        raise ConnectionError("the database went away")

    r.outbox.delivered = database_away  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await r.dispatcher.drain()
    assert sorted(texts(p.effect for p in r.outbox.pending(10))) == ["1", "2"]  # still to be delivered

    r.outbox.delivered = record  # type: ignore[method-assign]
    assert await r.dispatcher.drain() == 2
    assert r.outbox.pending(10) == []


async def test_drain_returns_zero_when_nothing_is_due() -> None:
    r = rig()
    assert await r.dispatcher.drain() == 0


async def test_drain_goes_on_past_an_item_that_was_set_aside() -> None:
    r = rig(DeliveryError("channel_not_found", permanent=True))
    r.outbox.add(post("plenum", "lost"), post("plenum", "next"), post("plenum", "last"))

    assert await r.dispatcher.drain() == 2

    assert texts(r.deliverer.effects) == ["next", "last"]
    assert r.outbox.pending(10) == []


async def test_a_long_held_back_lane_does_not_starve_other_lanes() -> None:
    r = rig(retry_later(), batch=3)
    r.outbox.add(*(post("plenum", f"p{n}") for n in range(1, 5)))
    r.outbox.add(post("E", "e1"))

    await r.dispatcher.drain()  # once plenum waits for its retry, it no longer fills the batch

    assert texts(r.deliverer.effects) == ["e1"]


class GatedDeliverer(FakeDeliverer):
    """Holds each message to `slow` until `gate` opens (a paced or slow channel)."""

    def __init__(self, slow: str) -> None:
        super().__init__()
        self.slow, self.gate = slow, asyncio.Event()

    async def deliver(self, effect: Effect, ref: str | None) -> str | None:
        if conversation_of(effect) == self.slow:
            await self.gate.wait()
        return await super().deliver(effect, ref)


async def test_a_slow_conversation_does_not_hold_up_a_message_written_for_another_meanwhile() -> None:
    """A hundred workshops at once: the plenum's cards wait on Slack's second per message, and
    the answer a person in group E waits for must not wait with them."""
    outbox, deliverer, clock = FakeOutbox(), GatedDeliverer(slow="plenum"), ManualClock(START)
    dispatcher, wake = Dispatcher(outbox, deliverer, FakeTimers(), clock), asyncio.Event()
    outbox.add(post("plenum", "card"))
    draining = asyncio.create_task(dispatcher.drain(wake))
    await asyncio.sleep(0)

    outbox.add(post("E", "your answer"))
    wake.set()
    for _ in range(100):
        if deliverer.effects:
            break
        await asyncio.sleep(0.01)
    assert texts(deliverer.effects) == ["your answer"]  # while the plenum's card still waits

    deliverer.gate.set()
    assert await draining == 2
    assert texts(deliverer.effects) == ["your answer", "card"]


async def test_conversations_beyond_those_delivered_at_once_wait_their_turn() -> None:
    outbox, deliverer, clock = FakeOutbox(), FakeDeliverer(), ManualClock(START)
    dispatcher = Dispatcher(outbox, deliverer, FakeTimers(), clock, lanes_at_once=2)
    outbox.add(*(post(f"person-{n}", str(n)) for n in range(5)), post("person-0", "again"))

    assert await dispatcher.drain() == 6

    assert sorted(texts(deliverer.effects)) == ["0", "1", "2", "3", "4", "again"]
    assert texts(e for e in deliverer.effects if conversation_of(e) == "person-0") == ["0", "again"]


def test_the_fake_outbox_pends_like_the_sql_outbox() -> None:
    """The fake must be faithful, or every test above proves nothing about production."""
    outbox = FakeOutbox()
    ids = outbox.add(post("a", "1"), post("b", "2"), post("a", "3"), post("b", "4"))
    first = outbox.pending(10)
    outbox.delivered([(first[0], "r")], START)
    outbox.failed(first[1], "boom", None, START)  # set aside
    outbox.failed(first[2], "later", START + timedelta(seconds=5), START)  # retried later

    assert [p.id for p in outbox.pending(10)] == [ids[2], ids[3]]
    assert [p.id for p in outbox.pending(1)] == [ids[2]]
    retried = outbox.pending(10)[0]
    assert (retried.attempts, retried.next_attempt_at) == (1, START + timedelta(seconds=5))
    assert outbox.refs({(WORKSHOP, "")}) == {}  # an unkeyed post leaves no ref behind
