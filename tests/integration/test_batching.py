"""Many clicks on one workshop at once: handled as one batch, each still answered on its own."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from adapters.app import Store, build_service, plan_files
from adapters.batching import Batcher
from adapters.config import Settings
from adapters.console.chat import ConsoleChat
from adapters.console.files import PlanSaver
from bot.clock import ManualClock
from bot.events import Action, Actor, Command, Event, FormSubmitted
from bot.service import Result, WorkshopService
from bot.store.tables import ChangeRow, MemberRow, WorkshopRow
from bot.ui import Button
from tests.conftest import START

ORG = "T1"


def phase_one(store: Store, tmp_path: Path) -> tuple[WorkshopService, Button]:
    clock = ManualClock(START)
    service = build_service(store, clock, Settings(_env_file=None))
    chat = ConsoleChat(service, store.outbox, clock, Console(file=io.StringIO()), "da", ORG,
                       PlanSaver(plan_files(store, clock), tmp_path))

    async def set_up() -> Button:
        await chat.say("Mette", "plenum", "ny Fjordly")
        await chat.press("Mette", "plenum", "setup_measures")
        await chat.fill("Mette", {"measures": "E-energi,S-tilfredshed,G-indkoeb"})
        for group in ("E", "S", "G"):
            await chat.say("Mette", group, f"gruppe {group}")
        await chat.press("Mette", "plenum", "start")
        found = chat.deliverer.find_button("plenum", chat.person("Mette").id, "interest", {"area": "S"})
        assert found is not None
        return found.button

    return service, asyncio.run(set_up())


def click(button: Button, n: int, event_id: str = "") -> Action:
    return Action(event_id=event_id or f"click-{n}", org=ORG, conversation="plenum",
                  actor=Actor(f"slack:U{n}", f"Person {n}"), workshop_id=button.args["workshop"],
                  action="interest", args=dict(button.args))


def interested(store: Store) -> dict[str, str]:
    with store.sessions() as session:
        return {m.id: m.interest for m in session.scalars(select(MemberRow)) if m.id.startswith("slack:")}


def test_a_batch_stores_every_click_once_and_says_who_made_each_change(store: Store, tmp_path: Path) -> None:
    service, button = phase_one(store, tmp_path)
    events = [click(button, n) for n in range(5)] + [click(button, 2)]  # a retry of click 2

    results = service.handle_batch(events)

    assert [r.duplicate for r in results] == [False] * 5 + [True]
    assert interested(store) == {f"slack:U{n}": "S" for n in range(5)}
    with store.sessions() as session:
        actors = {row.actor for row in session.scalars(select(ChangeRow).where(ChangeRow.entity == "Member"))}
    assert {f"slack:U{n}" for n in range(5)} <= actors  # not all put down to the last one


def test_clicks_arriving_together_are_batched_and_each_gets_its_answer(store: Store, tmp_path: Path) -> None:
    service, button = phase_one(store, tmp_path)
    sizes: list[int] = []

    class Counting:
        def handle(self, event: Event) -> Result:
            return service.handle(event)

        def handle_batch(self, events: list[Event]) -> list[Result]:
            sizes.append(len(events))
            return service.handle_batch(events)

    async def burst() -> list[Result]:
        batcher = Batcher(Counting())  # type: ignore[arg-type]
        return await asyncio.gather(*(batcher.handle(click(button, n)) for n in range(40)))

    results = asyncio.run(burst())

    assert len(results) == 40 and not any(r.duplicate for r in results)
    assert sum(sizes) == 40 and len(sizes) < 40  # fewer transactions than clicks
    assert len(interested(store)) == 40


def test_one_bad_event_does_not_fail_the_others(store: Store, tmp_path: Path) -> None:
    service, button = phase_one(store, tmp_path)

    class Flaky:
        def handle(self, event: Event) -> Result:
            if event.actor.id == "slack:U3":
                raise RuntimeError("boom")
            return service.handle(event)

        def handle_batch(self, events: list[Event]) -> list[Result]:
            raise RuntimeError("the batch failed")

    async def burst() -> list[Result | BaseException]:
        batcher = Batcher(Flaky())  # type: ignore[arg-type]
        return await asyncio.gather(*(batcher.handle(click(button, n)) for n in range(6)),
                                    return_exceptions=True)

    results = asyncio.run(burst())

    assert [isinstance(r, BaseException) for r in results] == [False, False, False, True, False, False]
    assert set(interested(store)) == {f"slack:U{n}" for n in (0, 1, 2, 4, 5)}


def typed(text: str, who: str, n: int, conversation: str = "plenum") -> Command:
    return Command(event_id=f"typed-{n}", org=ORG, conversation=conversation,
                   actor=Actor(f"console:{who.lower()}", who), text=text)


def test_typed_commands_in_one_conversation_arriving_together_are_batched(store: Store, tmp_path: Path) -> None:
    service, button = phase_one(store, tmp_path)
    batches: list[int] = []

    class Counting:
        def handle_batch(self, events: list[Event]) -> list[Result]:
            batches.append(len(events))
            return service.handle_batch(events)

    async def everyone_asks() -> list[Result]:
        batcher = Batcher(Counting())  # type: ignore[arg-type]
        return await asyncio.gather(*(batcher.handle(typed("status", f"Person {n}", n)) for n in range(30)))

    results = asyncio.run(everyone_asks())

    assert [r.workshop_id for r in results] == [button.args["workshop"]] * 30
    assert sum(batches) == 30 and len(batches) < 30


def test_a_batch_answers_as_one_by_one_where_its_events_are_for_different_workshops(
        store: Store, tmp_path: Path) -> None:
    """In a channel no workshop is bound to, a facilitator's command goes to her newest
    workshop; someone else's finds none. Batched together, each still gets its own answer."""
    service, button = phase_one(store, tmp_path)
    workshop = button.args["workshop"]

    results = service.handle_batch([typed("pause", "Mette", 1, "lobby"), typed("status", "Jens", 2, "lobby"),
                                    typed("fortsæt", "Mette", 3, "lobby")])

    assert [r.workshop_id for r in results] == [workshop, "", workshop]
    with store.sessions() as session:
        row = session.get(WorkshopRow, workshop)
        assert row is not None and row.paused_at is None  # paused, then resumed: both were saved
        actors = [c.actor for c in session.scalars(select(ChangeRow).where(ChangeRow.workshop_id == workshop)
                                                   .order_by(ChangeRow.id))][-2:]
    assert actors == ["console:mette", "console:mette"]


def test_a_typed_command_and_buttons_of_one_workshop_are_handled_in_the_order_they_came(
        store: Store, tmp_path: Path) -> None:
    """Answered before they are handled (adapters/intake.py), a command typed in the plenum
    and the buttons pressed around it must still be handled as they came."""
    service, button = phase_one(store, tmp_path)
    order: list[str] = []

    class Recording:
        def handle(self, event: Event) -> Result:
            return self.handle_batch([event])[0]

        def handle_batch(self, events: list[Event]) -> list[Result]:
            order.extend(event.event_id for event in events)
            return service.handle_batch(events)

    def typed(event_id: str) -> Command:
        return Command(event_id=event_id, org=ORG, conversation="plenum",
                       actor=Actor("slack:U0", "Person 0"), text="status")

    async def arrive() -> None:
        batcher = Batcher(Recording())  # type: ignore[arg-type]
        await batcher.handle(typed("status-1"))  # the plenum's workshop is known from here on
        await asyncio.gather(*(batcher.handle(event)
                               for event in (click(button, 1), typed("status-2"), click(button, 2))))

    asyncio.run(arrive())

    assert order == ["status-1", "click-1", "status-2", "click-2"]


def test_a_form_is_answered_while_every_other_workshop_is_still_being_handled() -> None:
    """A form's submission is waited for (its answer carries the form's errors); the clicks
    around it were answered already. When a hundred workshops changed phase at once, a form
    queued behind all their handling (bench/load.py: p99 0.5-0.8 s)."""
    import threading

    release = threading.Event()

    class SlowService:
        def handle_batch(self, events: list[Event]) -> list[Result]:
            if not any(isinstance(event, FormSubmitted) for event in events):
                release.wait(30)  # a phase change in a busy workshop, for as long as the test needs
            return [Result(workshop_id=event.workshop_id) for event in events]

    async def run() -> Result:
        batcher = Batcher(SlowService())  # type: ignore[arg-type]
        busy = [asyncio.create_task(batcher.handle(
            Command(event_id=f"next-{n}", org=ORG, conversation=f"plenum-{n}", actor=Actor("slack:U1", "Mette"),
                    workshop_id=f"ws-{n}", text="næste"))) for n in range(20)]
        await asyncio.sleep(0.1)
        form = FormSubmitted(event_id="goal-1", org=ORG, conversation="group-E", actor=Actor("slack:U2", "Ole"),
                             workshop_id="ws-form", form="goal", values={"goal": "Vi sparer 10 % energi"})
        try:
            return await asyncio.wait_for(batcher.handle(form), 20)
        finally:
            release.set()
            await asyncio.gather(*busy)

    assert asyncio.run(run()).workshop_id == "ws-form"
