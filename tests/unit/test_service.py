"""The service: one unit of work per event, deduplicated, retried when another process won."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from types import TracebackType

from bot.clock import ManualClock
from bot.domain.model import Workshop
from bot.effects import Effect
from bot.events import Actor, Command
from bot.ports import ConcurrencyConflict
from bot.service import WorkshopService
from tests.conftest import START


class Database:
    """What a real database would hold after each commit."""

    def __init__(self) -> None:
        self.workshops: dict[str, Workshop] = {}
        self.seen: set[str] = set()
        self.outbox: list[Effect] = []
        self.conflicts_to_raise = 0


class FakeWorkshops:
    def __init__(self, staged: dict[str, Workshop]) -> None:
        self.staged = staged

    def get(self, workshop_id: str) -> Workshop | None:
        return self.staged.get(workshop_id)

    def by_conversation(self, org: str, conversation: str) -> Workshop | None:
        return next((w for w in self.staged.values()
                     if w.org == org and conversation in w.conversations), None)

    def latest_for_facilitator(self, org: str, user: str) -> Workshop | None:
        return None

    def owned_by(self, org: str, user: str) -> Workshop | None:
        return None

    def save(self, old: Workshop | None, new: Workshop, actor: str, now: datetime) -> None:
        self.staged[new.id] = new


class FakeUnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> FakeUnitOfWork:
        self.workshops = FakeWorkshops(dict(self.db.workshops))
        self.effects: list[Effect] = []
        self.marked: list[str] = []
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        pass

    def seen(self, event_ids: Collection[str]) -> set[str]:
        return set(event_ids) & set(self.db.seen)

    def mark_seen(self, event_id: str, workshop_id: str, now: datetime) -> None:
        self.marked.append(event_id)

    def add_effects(self, workshop_id: str, effects: Sequence[Effect], now: datetime) -> None:
        self.effects.extend(effects)

    def commit(self) -> None:
        if self.db.conflicts_to_raise:
            self.db.conflicts_to_raise -= 1
            raise ConcurrencyConflict("someone else saved first")
        self.db.workshops = self.workshops.staged
        self.db.seen.update(self.marked)
        self.db.outbox.extend(self.effects)


def service(db: Database) -> WorkshopService:
    return WorkshopService(lambda: FakeUnitOfWork(db), ManualClock(START))


def command(text: str, event_id: str = "e1") -> Command:
    return Command(event_id=event_id, org="o", conversation="plenum", actor=Actor("u1", "Mette"),
                   text=text)


def test_the_same_event_twice_changes_nothing_and_posts_nothing_the_second_time() -> None:
    db = Database()
    first = service(db).handle(command("new Fjordly"))
    posted = list(db.outbox)
    again = service(db).handle(command("new Fjordly"))
    assert not first.duplicate and again.duplicate
    assert db.outbox == posted and len(db.workshops) == 1


def test_a_lost_race_is_handled_again_from_fresh_state() -> None:
    db = Database()
    db.conflicts_to_raise = 2
    result = service(db).handle(command("new Fjordly"))
    assert result.workshop_id in db.workshops and len(db.seen) == 1


def test_a_form_with_errors_stores_nothing_and_answers_with_the_errors() -> None:
    from bot.events import FormSubmitted

    db = Database()
    workshop = service(db).handle(command("new Fjordly")).workshop_id
    before = (dict(db.workshops), list(db.outbox), set(db.seen))
    result = service(db).handle(FormSubmitted(
        event_id="f1", org="o", conversation="plenum", actor=Actor("u1", "Mette"),
        workshop_id=workshop, form="details",
        args={"workshop": workshop, "seq": "0"},
        values={"title": "", "date": "31/02/2027", "language": "da"}))
    assert set(result.form_errors) == {"title", "date"}
    assert (dict(db.workshops), list(db.outbox), set(db.seen)) == before
