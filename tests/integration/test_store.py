"""The SQL store as a facilitator and an operator meet it: what is saved comes back, a change
writes only itself (and leaves a trace in the history), concurrent writers never silently lose
each other's work, each event is handled once, and the outbox hands out effects in order.

Every test takes the `store` fixture, so it runs on SQLite and, with TEST_DATABASE_URL set,
on PostgreSQL too. Workshops are built with the in-memory harness (`tests.harness.Room`), so
the state is what the engine really produces rather than hand-made records.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from adapters.app import Store, build_service
from adapters.config import Settings
from bot import engine
from bot.clock import ManualClock
from bot.codec import loads
from bot.domain.model import AmbitionStatus, Area, Level, Phase, Vote, Workshop
from bot.effects import Effect, Post, PostPrivate, conversation_of
from bot.events import Action, Command
from bot.flow.turn import Context
from bot.i18n import Translator
from bot.ports import ConcurrencyConflict
from bot.service import Result, WorkshopService
from bot.store.outbox import SqlOutbox
from bot.store.schema import alembic_config
from bot.store.tables import (
    Base,
    ChangeRow,
    OutboxRow,
    ProcessedEventRow,
    VoteRow,
    WorkshopRow,
)
from bot.store.uow import SqlUnitOfWork
from tests.conftest import START
from tests.harness import FACILITATOR, MEASURES, S_GROUP, Room, actor, plain

LATER = START + timedelta(minutes=30)
TIMEZONE = "Europe/Copenhagen"
LANGUAGE: Literal["da"] = "da"
SETTINGS = Settings(bot_language=LANGUAGE, bot_timezone=TIMEZONE)  # not whatever .env says

# The two S votes the realistic workshop has, and one E vote: tests change these.
HANNE_DOT = ("S-tilfredshed", actor("Hanne").id)
IB_DOT = ("S-tilfredshed", actor("Ib").id)
ANDERS_DOT = ("E-energi", actor("Anders").id)


# -- building workshops with the harness --------------------------------------------------
def state(room: Room) -> Workshop:
    """The room's workshop (there is one once `new` has been said)."""
    assert room.ws is not None
    return room.ws


def realistic_room() -> Room:
    """A workshop in SMART_GOALS with votes, ambitions, a plenum comment, a supported goal,
    a phase log with a still-running phase, a specialist's input given before the workshop
    and one still owed, and time moving on between the steps."""
    room = Room()
    room.set_up()
    room.say(FACILITATOR, "plenum", "specialist", mentions=["Hans"])
    room.fill(FACILITATOR, {"measures": "E-energi,G-indkoeb"})
    room.now += timedelta(hours=2)
    asked = next(s for s in state(room).specialists.values() if s.measure_id == "E-energi")
    room.act("Hans", "dm", "specialist_answer", request=asked.id)
    room.fill("Hans", {"situation": "Energimærker for 40 %", "pitfalls": "Beboerhøring"})
    room.start()
    room.group_work()
    room.now += timedelta(minutes=4)
    for name, conversation, measure, level in (("Hanne", "S", "S-tilfredshed", "ambitious"),
                                               ("Ib", "S", "S-tilfredshed", "medium"),
                                               ("Anders", "E", "E-energi", "minimum"),
                                               ("Maja", "G", "G-indkoeb", "medium")):
        room.press(name, conversation, "vote", m=measure, level=level)
    room.now += timedelta(minutes=20)
    for name, conversation, measure in (("Anders", "E", "E-energi"), ("Anders", "E", "E-co2"),
                                        ("Hanne", "S", "S-tilfredshed"),
                                        ("Hanne", "S", "S-udsaettelser"),
                                        ("Maja", "G", "G-kompetencer"), ("Maja", "G", "G-indkoeb")):
        room.write_ambition(name, conversation, measure, f"Ambition for {measure}")
    room.say(FACILITATOR, "plenum", "next")  # the ambitions plenum
    room.now += timedelta(minutes=3)
    room.press("Maja", "plenum", "comment", m="E-energi")
    room.fill("Maja", {"text": "Husk varmepumperne i Fjordparken"})
    for measure in MEASURES:
        room.press(FACILITATOR, "plenum", "agree", m=measure)
    room.say(FACILITATOR, "plenum", "next")  # the break
    room.now += timedelta(minutes=10)
    room.say(FACILITATOR, "plenum", "next")  # SMART goals
    room.now += timedelta(minutes=12)
    room.add_goal("Anders", "E", "E-energi")
    room.press("Birgitte", "E", "support_goal", goal=next(iter(state(room).goals)))
    assert state(room).phase == Phase.SMART_GOALS and len(state(room).votes) == 4
    return room


def room_ready_for_ambitions() -> Room:
    """Groups approved in the intro: the facilitator's next `next` opens the group work."""
    room = Room()
    room.to_intro()
    room.press(FACILITATOR, "plenum", "propose_split")
    room.press(FACILITATOR, "plenum", "approve_split")
    return room


def with_vote(ws: Workshop, key: tuple[str, str], level: Level, by: str, at: datetime) -> Workshop:
    """The workshop with one dot placed or moved, stamped the way the engine stamps a record."""
    current = ws.votes.get(key)
    vote = (dataclasses.replace(current, level=level) if current
            else Vote(measure_id=key[0], member_id=key[1], level=level))
    stamped = dataclasses.replace(vote, version=vote.version + 1, updated_by=by, updated_at=at)
    return dataclasses.replace(ws, votes={**ws.votes, key: stamped})


def without_vote(ws: Workshop, key: tuple[str, str]) -> Workshop:
    return dataclasses.replace(ws, votes={k: v for k, v in ws.votes.items() if k != key})


# -- talking to the store -------------------------------------------------------------------
def units(store: Store) -> SqlUnitOfWork:
    return SqlUnitOfWork(store.sessions)


def save(store: Store, old: Workshop | None, new: Workshop, by: str, at: datetime) -> None:
    with units(store) as uow:
        uow.workshops.save(old, new, by, at)
        uow.commit()


def load(store: Store, workshop_id: str) -> Workshop:
    with units(store) as uow:
        found = uow.workshops.get(workshop_id)
    assert found is not None, f"workshop {workshop_id} is not in the store"
    return found


def stored(store: Store, workshop: Workshop) -> Workshop:
    """Save a new workshop in one unit of work and read it back in another."""
    save(store, None, workshop, actor(FACILITATOR).id, START)
    return load(store, workshop.id)


def rows(store: Store, table: type[Any], *where: Any) -> list[Any]:
    with store.sessions() as session:
        query = select(table).where(*where).order_by(*table.__mapper__.primary_key)
        return list(session.scalars(query))


def count(store: Store, table: type[Any]) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def last_id(store: Store, table: type[ChangeRow | OutboxRow]) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.max(table.id))) or 0


def workshop_row(store: Store, workshop_id: str) -> WorkshopRow:
    [row] = rows(store, WorkshopRow, WorkshopRow.id == workshop_id)
    return row


def on_postgresql(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


# -- the service ------------------------------------------------------------------------------
def service_for(store: Store) -> WorkshopService:
    return build_service(store, ManualClock(START), SETTINGS)


def command(text: str, event_id: str, org: str = "o1", conversation: str = "plenum",
            name: str = FACILITATOR) -> Command:
    return Command(event_id=event_id, org=org, conversation=conversation, actor=actor(name),
                   text=text)


def engine_effects(ws: Workshop | None, event: Command) -> tuple[Effect, ...]:
    """What the pure engine says the event does, to compare the stored effects with."""
    return engine.handle(ws, event, Context(START, LANGUAGE, TIMEZONE)).effects


def datetimes_in(value: Any) -> Iterator[datetime]:
    """Every datetime anywhere in an aggregate: root, records, mappings, the phase log."""
    if isinstance(value, datetime):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from datetimes_in(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from datetimes_in(item)
    elif hasattr(value, "items"):
        for item in value.values():
            yield from datetimes_in(item)


# -- 1. round trip ------------------------------------------------------------------------------
def test_a_saved_workshop_loads_back_equal_field_by_field(store: Store) -> None:
    room = realistic_room()
    # One record stamped in local time: the store must keep the instant (and hand back UTC).
    comment_id, comment = next(iter(state(room).comments.items()))
    assert comment.updated_at is not None
    local = comment.updated_at.astimezone(ZoneInfo(TIMEZONE))
    saved = dataclasses.replace(state(room), comments={
        comment_id: dataclasses.replace(comment, updated_at=local)})

    loaded = stored(store, saved)

    # The row of a new workshop starts at version 1, whatever the in-memory root said.
    assert (saved.version, loaded.version) == (0, 1)
    assert loaded == dataclasses.replace(saved, version=1)
    # Equality lets "smart_goals" == Phase.SMART_GOALS and any UTC offset pass: check the types.
    moments = list(datetimes_in(loaded))
    assert len(moments) > 40
    assert all(m.tzinfo is not None and m.utcoffset() == timedelta(0) for m in moments)
    assert loaded.comments[comment_id].updated_at == local
    assert isinstance(loaded.phase, Phase) and isinstance(loaded.date, date)
    assert all(isinstance(r.phase, Phase) for r in loaded.phase_log)
    assert loaded.phase_log[-1].phase == Phase.SMART_GOALS and loaded.phase_log[-1].ended_at is None
    assert all(isinstance(v.level, Level) for v in loaded.votes.values())
    assert all(isinstance(a.level, Level) and isinstance(a.status, AmbitionStatus)
               and a.status == AmbitionStatus.AGREED for a in loaded.ambitions.values())
    assert all(isinstance(c.phase, Phase) for c in loaded.comments.values())
    assert all(isinstance(g.area, Area) for g in loaded.groups.values())
    assert all(isinstance(m.area, Area) for m in loaded.measures.values())
    assert loaded.facilitators == (actor(FACILITATOR).id,)
    [goal] = loaded.goals.values()
    assert goal.supporters == (actor("Birgitte").id,) and goal.deadline == date(2028, 12, 31)
    assert dict(loaded.durations) == dict(saved.durations)
    answered, owed = sorted(loaded.specialists.values(), key=lambda s: s.answered_at is None)
    assert (answered.situation, answered.pitfalls, owed.answered_at) == ("Energimærker for 40 %", "Beboerhøring", None)
    assert isinstance(owed.deadline, date) and answered.user_id == actor("Hans").id


def test_an_unknown_workshop_loads_as_none(store: Store) -> None:
    stored(store, state(realistic_room()))
    with units(store) as uow:
        assert uow.workshops.get("w-nope") is None
        assert uow.workshops.by_conversation("org-1", "no-such-channel") is None


# -- 2. saving only what changed ---------------------------------------------------------------
def test_moving_one_dot_writes_that_vote_bumps_the_version_and_logs_who_and_when(
        store: Store) -> None:
    before = stored(store, state(realistic_room()))
    history = last_id(store, ChangeRow)
    ib = actor("Ib").id
    after = with_vote(before, IB_DOT, Level.AMBITIOUS, ib, LATER)

    save(store, before, after, ib, LATER)

    reloaded = load(store, before.id)
    assert reloaded.votes[IB_DOT].level == Level.AMBITIOUS
    # Everything else is as it was; the root says who changed the workshop last, and when.
    assert reloaded == dataclasses.replace(after, version=before.version + 1, updated_by=ib,
                                           updated_at=LATER)
    assert workshop_row(store, before.id).version == before.version + 1
    [change] = rows(store, ChangeRow, ChangeRow.id > history)  # that vote and nothing else
    assert (change.workshop_id, change.entity, change.entity_key, change.actor, change.at) == (
        before.id, "Vote", "S-tilfredshed/test:ib", ib, LATER)
    assert change.data["level"] == "ambitious" and change.data["version"] == 2


def test_taking_a_dot_back_deletes_its_row_and_logs_the_deletion(store: Store) -> None:
    before = stored(store, state(realistic_room()))
    history = last_id(store, ChangeRow)
    votes = count(store, VoteRow)
    hanne = actor("Hanne").id

    save(store, before, without_vote(before, HANNE_DOT), hanne, LATER)

    assert HANNE_DOT not in load(store, before.id).votes
    assert count(store, VoteRow) == votes - 1
    assert rows(store, VoteRow, VoteRow.member_id == hanne) == []
    assert workshop_row(store, before.id).version == before.version + 1
    [change] = rows(store, ChangeRow, ChangeRow.id > history)
    assert (change.entity, change.entity_key, change.actor, change.at, change.data) == (
        "Vote", "S-tilfredshed/test:hanne", hanne, LATER, None)


def test_saving_an_unchanged_workshop_writes_nothing(store: Store) -> None:
    before = stored(store, state(realistic_room()))
    history = last_id(store, ChangeRow)

    save(store, before, before, actor(FACILITATOR).id, LATER)

    assert workshop_row(store, before.id).version == before.version
    assert rows(store, ChangeRow, ChangeRow.id > history) == []


# -- 3. optimistic concurrency -----------------------------------------------------------------
def test_a_save_from_a_stale_load_is_refused_and_the_newer_save_survives(store: Store) -> None:
    ws = stored(store, state(realistic_room()))
    # Two units of work read the same version. They load one after the other, because on
    # SQLite the first would hold the write lock (the interleaved variant follows).
    first, second = load(store, ws.id), load(store, ws.id)
    hanne, anders = actor("Hanne").id, actor("Anders").id

    save(store, first, with_vote(first, HANNE_DOT, Level.MINIMUM, hanne, LATER), hanne, LATER)
    with pytest.raises(ConcurrencyConflict):
        save(store, second, with_vote(second, ANDERS_DOT, Level.AMBITIOUS, anders, LATER),
             anders, LATER)

    reloaded = load(store, ws.id)
    assert reloaded.version == ws.version + 1
    assert reloaded.votes[HANNE_DOT].level == Level.MINIMUM  # the first change is intact
    assert reloaded.votes[ANDERS_DOT] == ws.votes[ANDERS_DOT]  # the second left no trace


def test_a_second_handler_waits_for_the_first_and_then_sees_its_change(store: Store) -> None:
    """While one unit of work holds a workshop, another cannot read it stale: it waits."""
    ws = stored(store, state(realistic_room()))
    hanne = actor("Hanne").id
    reading = threading.Event()

    def second_reader() -> Workshop:
        reading.set()
        return load(store, ws.id)

    with units(store) as first_uow, ThreadPoolExecutor(1) as pool:
        first = first_uow.workshops.get(ws.id)
        assert first is not None
        later = pool.submit(second_reader)
        reading.wait()
        with pytest.raises(TimeoutError):  # given a moment, it is still waiting for the lock
            later.result(timeout=0.3)
        first_uow.workshops.save(first, with_vote(first, HANNE_DOT, Level.MINIMUM, hanne, LATER),
                                 hanne, LATER)
        first_uow.commit()
        assert later.result(timeout=30).votes[HANNE_DOT].level == Level.MINIMUM


def test_two_stale_loads_adding_the_same_record_get_a_conflict(store: Store) -> None:
    ws = stored(store, state(realistic_room()))
    first, second = load(store, ws.id), load(store, ws.id)
    jonas = actor("Jonas").id
    new_dot = ("S-tilfredshed", jonas)  # e.g. a double click on a vote button

    save(store, first, with_vote(first, new_dot, Level.MEDIUM, jonas, LATER), jonas, LATER)
    with pytest.raises(ConcurrencyConflict):
        save(store, second, with_vote(second, new_dot, Level.AMBITIOUS, jonas, LATER), jonas, LATER)
    assert load(store, ws.id).votes[new_dot].level == Level.MEDIUM


def test_two_stale_loads_deleting_the_same_record_get_a_conflict(store: Store) -> None:
    ws = stored(store, state(realistic_room()))
    first, second = load(store, ws.id), load(store, ws.id)
    hanne = actor("Hanne").id

    save(store, first, without_vote(first, HANNE_DOT), hanne, LATER)
    with pytest.raises(ConcurrencyConflict):
        save(store, second, without_vote(second, HANNE_DOT), hanne, LATER)
    assert HANNE_DOT not in load(store, ws.id).votes


# -- 4. through the service ----------------------------------------------------------------------
def test_a_new_workshop_is_found_again_by_its_conversation(store: Store) -> None:
    service = service_for(store)

    created = service.handle(command("new Fjordly", event_id="ev-new"))

    assert created.workshop_id and not created.duplicate
    with units(store) as uow:
        found = uow.workshops.by_conversation("o1", "plenum")
    assert found is not None and found.id == created.workshop_id
    assert (found.title, found.facilitators) == ("Fjordly", (actor(FACILITATOR).id,))
    # The next command in that conversation acts on it.
    assert service.handle(command("status", event_id="ev-status")).workshop_id == found.id


def test_the_same_event_twice_is_handled_once(store: Store) -> None:
    service = service_for(store)
    event = command("new Fjordly", event_id="ev-1")
    first = service.handle(event)
    outbox, workshops = count(store, OutboxRow), count(store, WorkshopRow)
    assert outbox > 0 and workshops == 1

    again = service.handle(event)

    assert first.workshop_id and again == Result(duplicate=True)
    assert (count(store, OutboxRow), count(store, WorkshopRow)) == (outbox, workshops)


def test_another_org_in_the_same_conversation_does_not_see_the_workshop(store: Store) -> None:
    service = service_for(store)
    created = service.handle(command("new Fjordly", event_id="ev-new", org="o1"))
    outbox = last_id(store, OutboxRow)

    result = service.handle(command("status", event_id="ev-other", org="o2"))

    assert result.workshop_id == ""
    [row] = rows(store, OutboxRow, OutboxRow.id > outbox)
    assert (row.workshop_id, row.lane) == ("", "plenum")
    reply = loads(row.payload)
    assert isinstance(reply, PostPrivate) and reply.user == actor(FACILITATOR).id
    assert plain(reply.message) == Translator(LANGUAGE)("refuse.no_workshop")
    [seen] = rows(store, ProcessedEventRow, ProcessedEventRow.event_id == "ev-other")
    assert seen.workshop_id == ""
    assert workshop_row(store, created.workshop_id).org == "o1"  # and nothing moved over


# -- 5. concurrent votes -------------------------------------------------------------------------
# Each round: members of group S put (or move) a dot on one målepunkt at the same moment.
# Several rounds, because how often a round conflicts depends on thread scheduling.
VOTE_ROUNDS = (("S-tilfredshed", "medium"), ("S-udsaettelser", "ambitious"),
               ("S-tilfredshed", "minimum"), ("S-udsaettelser", "medium"))


def vote_press(room: Room, name: str, measure: str, level: str, event_id: str) -> Action:
    """The event a press on a vote button makes (args copied from the card, as a platform does)."""
    args = dict(room.button(name, "S", "vote", m=measure, level=level).args)
    return Action(event_id=event_id, org=room.org, conversation="S", actor=actor(name),
                  workshop_id=args["workshop"], action="vote", args=args)


def all_at_once(service: WorkshopService, events: Sequence[Action]) -> list[str]:
    """Handle the events from one thread each, released together; the errors they raised."""
    start = threading.Barrier(len(events), timeout=30)

    def handle(event: Action) -> Result:
        start.wait()  # all of them in flight together
        return service.handle(event)

    errors = []
    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        for event, future in [(e, pool.submit(handle, e)) for e in events]:
            try:
                future.result(timeout=60)
            except Exception as error:  # noqa: BLE001 - a lost press, reported by the caller
                errors.append(f"{event.event_id}: {type(error).__name__}: {error}"[:200])
    return errors


def vote_concurrently(service: WorkshopService, room: Room, voters: Sequence[str], measure: str,
                      level: str, round_no: int) -> list[str]:
    """`voters` press the same vote button at once; returns the errors they got back."""
    return all_at_once(service, [vote_press(room, name, measure, level, f"vote-{round_no}-{name}")
                                 for name in voters])


def lost_votes(store: Store, room: Room, voters: Sequence[str],
               rounds: Sequence[tuple[str, str]]) -> list[str]:
    """Run the rounds against a stored copy of the room; every vote that did not land."""
    ws = stored(store, state(room))
    service = service_for(store)
    problems: list[str] = []
    for round_no, (measure, level) in enumerate(rounds):
        problems += vote_concurrently(service, room, voters, measure, level, round_no)
        votes = load(store, ws.id).votes
        problems += [f"round {round_no}: {name} has no {level} dot on {measure}"
                     for name in voters
                     if getattr(votes.get((measure, actor(name).id)), "level", None) != level]
    if not problems:  # one version bump per vote: none was merged into another
        assert load(store, ws.id).version == ws.version + len(rounds) * len(voters)
    return problems


def group_s_voting() -> Room:
    room = Room()
    room.to_ambitions()
    return room


def test_five_members_voting_at_once_lose_no_vote(store: Store) -> None:
    # Handlers of one workshop take turns (the workshop row is locked while one runs).
    assert lost_votes(store, group_s_voting(), S_GROUP[:5], VOTE_ROUNDS[:2]) == []


def test_six_members_voting_at_once_lose_no_vote(store: Store) -> None:
    assert len(S_GROUP) == 6  # the whole group, as big as a group gets (MAX_GROUP_SIZE)
    assert lost_votes(store, group_s_voting(), S_GROUP, VOTE_ROUNDS) == []


def test_a_double_click_on_a_vote_button_is_handled_not_crashed(store: Store) -> None:
    room = group_s_voting()
    ws = stored(store, state(room))
    service = service_for(store)

    errors: list[str] = []
    for measure in ("S-tilfredshed", "S-udsaettelser"):  # two tries: it is a race after all
        # Hanne's two quick presses on different levels: one dot, on one of the two levels.
        errors += all_at_once(service, [
            vote_press(room, "Hanne", measure, "medium", f"{measure}-click-1"),
            vote_press(room, "Hanne", measure, "ambitious", f"{measure}-click-2")])

    assert errors == []
    votes = load(store, ws.id).votes
    assert {votes[(m, actor("Hanne").id)].level for m in ("S-tilfredshed", "S-udsaettelser")} <= {
        Level.MEDIUM, Level.AMBITIOUS}


# -- 6. the outbox ---------------------------------------------------------------------------------
def test_the_outbox_hands_out_effects_in_order_and_records_each_attempt(store: Store) -> None:
    room = room_ready_for_ambitions()
    ws = stored(store, state(room))
    event = command("next", event_id="ev-next", org=room.org)  # opens the group work
    expected = engine_effects(state(room), event)
    outbox = SqlOutbox(store.sessions)

    service_for(store).handle(event)

    pending = outbox.pending(1000)
    assert [item.effect for item in pending] == list(expected)  # created order, intact
    assert [item.lane for item in pending] == [conversation_of(e) for e in expected]
    assert {"plenum", "E", "S", "G", ""} <= {item.lane for item in pending}  # timers: own lane
    assert {(i.workshop_id, i.attempts, i.next_attempt_at) for i in pending} == {(ws.id, 0, START)}
    assert outbox.backlog() == len(pending)

    # Delivered: a keyed post remembers where it landed, so it can be updated in place later.
    keyed, key = next((i, i.effect.key) for i in pending
                      if isinstance(i.effect, Post) and i.effect.key)
    assert outbox.refs({(ws.id, key)}) == {}
    outbox.delivered([(keyed, "C123/1700000000.000100")], LATER)
    assert outbox.refs({(ws.id, key), (ws.id, "other")}) == {(ws.id, key): "C123/1700000000.000100"}
    assert keyed.id not in {i.id for i in outbox.pending(1000)}
    assert outbox.backlog() == len(pending) - 1
    # Posted again elsewhere (its message was gone): the newest place is remembered, and of two
    # in one batch, the later one.
    outbox.delivered([(keyed, "C123/1700000000.000200"), (keyed, "C123/1700000000.000300")], LATER)
    assert outbox.refs({(ws.id, key)}) == {(ws.id, key): "C123/1700000000.000300"}

    # Failed, to be retried: still pending, one more attempt, due at the retry time.
    flaky = next(i for i in pending if i.id != keyed.id)
    retry_at = LATER + timedelta(seconds=30)
    outbox.failed(flaky, "HTTP 429 rate limited", retry_at, LATER)
    [again] = [i for i in outbox.pending(1000) if i.id == flaky.id]
    assert (again.attempts, again.next_attempt_at, again.effect) == (1, retry_at, flaky.effect)
    assert outbox.backlog() == len(pending) - 1

    # Failed for good: set aside, with the error kept for the operator.
    outbox.failed(again, "channel_not_found", None, LATER)
    assert flaky.id not in {i.id for i in outbox.pending(1000)}
    assert outbox.backlog() == len(pending) - 2
    [row] = rows(store, OutboxRow, OutboxRow.id == flaky.id)
    assert (row.attempts, row.failed_at, row.last_error) == (2, LATER, "channel_not_found")
    assert [i.effect for i in outbox.pending(1000)] == [
        i.effect for i in pending if i.id not in {keyed.id, flaky.id}]


def test_a_lane_waiting_for_a_retry_is_held_back_without_holding_up_the_others(
        store: Store) -> None:
    room = room_ready_for_ambitions()
    stored(store, state(room))
    service_for(store).handle(command("next", event_id="ev-next", org=room.org))
    outbox = SqlOutbox(store.sessions)
    pending = outbox.pending(1000)
    head = next(i for i in pending if i.lane == "S")
    retry_at = LATER + timedelta(seconds=30)

    outbox.failed(head, "HTTP 503", retry_at, LATER)

    # Until the retry is due, nothing in S goes out (it would overtake its head) …
    assert [i.id for i in outbox.due(LATER, 1000)] == [i.id for i in pending if i.lane != "S"]
    # … and from then on the whole lane is due again, still in order.
    assert [i.id for i in outbox.due(retry_at, 1000)] == [i.id for i in pending]


def test_pending_respects_its_limit_in_creation_order(store: Store) -> None:
    service = service_for(store)
    service.handle(command("new Fjordly", event_id="ev-a", conversation="plenum-a"))
    service.handle(command("new Solbakken", event_id="ev-b", conversation="plenum-b"))
    outbox = SqlOutbox(store.sessions)

    everything = outbox.pending(1000)
    assert [i.lane for i in everything] == ["plenum-a", "plenum-a", "plenum-b", "plenum-b"]
    assert outbox.pending(3) == everything[:3]


# -- 7. migrations match the models --------------------------------------------------------------
def test_the_migrations_build_exactly_the_schema_the_models_describe(store: Store) -> None:
    head = ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True})
        assert context.get_current_revision() == head
        differences: Sequence[Any] = compare_metadata(context, Base.metadata)
    assert differences == []
