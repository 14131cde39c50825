"""Loading a workshop whole and saving only what changed, with an optimistic version check."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.codec import to_plain
from bot.domain.model import (Ambition, Comment, Conversation, FollowUp, Group, Measure, Member,
                              Phase, Record, SmartGoal, SpecialistInput, Vote, Workshop)
from bot.ports import ConcurrencyConflict
from bot.store.tables import (AmbitionRow, ChangeRow, CommentRow, ConversationRow, FollowUpRow,
                              GroupRow, MeasureRow, MemberRow, RecordRow, SmartGoalRow,
                              SpecialistInputRow, VoteRow, WorkshopRow)

# collection on the aggregate, record type, table, the fields that make up its key
Spec = tuple[str, type[Record], type[RecordRow], tuple[str, ...]]
SPECS: tuple[Spec, ...] = (
    ("members", Member, MemberRow, ("id",)),
    ("groups", Group, GroupRow, ("code",)),
    ("conversations", Conversation, ConversationRow, ("id",)),
    ("measures", Measure, MeasureRow, ("id",)),
    ("votes", Vote, VoteRow, ("measure_id", "member_id")),
    ("ambitions", Ambition, AmbitionRow, ("measure_id",)),
    ("comments", Comment, CommentRow, ("id",)),
    ("goals", SmartGoal, SmartGoalRow, ("id",)),
    ("followups", FollowUp, FollowUpRow, ("id",)),
    ("specialists", SpecialistInput, SpecialistInputRow, ("id",)),
)
ROOT_FIELDS = tuple(f.name for f in fields(Workshop) if f.name not in {s[0] for s in SPECS})


def _values(record: Any, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A record's fields as column values (mappings as plain dicts for the JSON columns)."""
    values = {n: getattr(record, n) for n in names or (f.name for f in fields(record))}
    return {n: dict(v) if isinstance(v, Mapping) else v for n, v in values.items()}


def _changed(old: Workshop, new: Workshop) -> Iterator[tuple[Spec, Any, Record | None]]:
    """Records added, replaced (unchanged ones are the very same object) or removed."""
    for spec in SPECS:
        before, after = getattr(old, spec[0]), getattr(new, spec[0])
        for key, record in after.items():
            if before.get(key) is not record:
                yield spec, key, record
        for key in before.keys() - after.keys():
            yield spec, key, None


def _record(kind: type[Record], row: RecordRow) -> Record:
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})


class WorkshopCache:
    """Workshops as this process last read or wrote them, by id. A workshop is immutable and
    its row's version rises with every change, so a cached one whose version is the row's is
    exactly what loading its records again would give, without reading them."""

    def __init__(self, size: int = 256) -> None:
        self._known: OrderedDict[str, Workshop] = OrderedDict()
        self._size = size  # the workshops running now, with room to spare; the oldest go first

    def get(self, workshop_id: str, version: int) -> Workshop | None:
        found = self._known.get(workshop_id)
        return found if found is not None and found.version == version else None

    def put(self, workshop: Workshop) -> None:
        self._known[workshop.id] = workshop
        self._known.move_to_end(workshop.id)
        while len(self._known) > self._size:
            self._known.popitem(last=False)


class SqlWorkshops:
    def __init__(self, session: Session, cache: WorkshopCache | None = None) -> None:
        self.session = session
        self.cache = cache
        self.saved: list[Workshop] = []  # for the cache, once the transaction has committed

    def get(self, workshop_id: str, lock: bool = True) -> Workshop | None:
        # Locked until the transaction ends: handlers of one workshop take turns instead of
        # racing (PostgreSQL; SQLite's BEGIN IMMEDIATE already lets one writer in at a time).
        # A reader that changes nothing (the plenum board) takes no lock, so it never waits.
        root = self.session.get(WorkshopRow, workshop_id, with_for_update=lock)
        if root is None:
            return None
        cached = self.cache.get(workshop_id, root.version) if self.cache else None
        if cached is not None:
            return cached
        loaded = self._load(root)
        if self.cache is not None:
            self.cache.put(loaded)
        return loaded

    def _load(self, root: WorkshopRow) -> Workshop:
        workshop_id = root.id
        collections: dict[str, Any] = {}
        for name, kind, table, _ in SPECS:
            rows = self.session.scalars(select(table).where(table.workshop_id == workshop_id))
            records = [_record(kind, row) for row in rows]
            collections[name] = {r.key: r for r in records}  # type: ignore[attr-defined]
        return Workshop(**{n: getattr(root, n) for n in ROOT_FIELDS}, **collections)

    def by_conversation(self, org: str, conversation: str) -> Workshop | None:
        found = self.session.scalars(
            select(WorkshopRow.id).join(ConversationRow, ConversationRow.workshop_id == WorkshopRow.id)
            .where(ConversationRow.id == conversation, WorkshopRow.org == org)
            .order_by(WorkshopRow.created_at.desc()).limit(1)).first()
        return self.get(found) if found else None

    def latest_for_facilitator(self, org: str, user: str) -> Workshop | None:
        rows = self.session.scalars(
            select(WorkshopRow).where(WorkshopRow.org == org, WorkshopRow.phase != Phase.FOLLOW_UP)
            .order_by(WorkshopRow.created_at.desc()).limit(50))
        found = next((r.id for r in rows if user in r.facilitators), None)
        return self.get(found) if found else None

    def following_up(self) -> list[Workshop]:
        """Workshops after the workshop whose follow-up is not closed, whole."""
        ids = self.session.scalars(select(WorkshopRow.id).where(
            WorkshopRow.phase == Phase.FOLLOW_UP, WorkshopRow.followup_closed.is_(False)))
        return [ws for ws in (self.get(i) for i in list(ids)) if ws is not None]

    def owned_by(self, org: str, user: str) -> Workshop | None:
        """The newest workshop in follow-up in which `user` owns a goal."""
        found = self.session.scalars(
            select(WorkshopRow.id).join(SmartGoalRow, SmartGoalRow.workshop_id == WorkshopRow.id)
            .where(SmartGoalRow.owner_id == user, WorkshopRow.org == org, WorkshopRow.phase == Phase.FOLLOW_UP)
            .order_by(WorkshopRow.created_at.desc()).limit(1)).first()
        return self.get(found) if found else None

    def with_clock(self) -> list[Workshop]:
        """Workshops whose phase clock runs, without their records (the clock is on the row)."""
        rows = self.session.scalars(select(WorkshopRow).where(
            WorkshopRow.phase_ends_at.is_not(None), WorkshopRow.paused_at.is_(None)))
        return [Workshop(**{n: getattr(r, n) for n in ROOT_FIELDS}) for r in rows]

    def save(self, old: Workshop | None, new: Workshop, actor: str, now: datetime) -> None:
        try:
            if old is None or old.id != new.id:
                self._insert(new, actor, now)
                self.saved.append(replace(new, version=1))
                return
            changes = list(_changed(old, new))
            root = _values(new, ROOT_FIELDS)
            if changes or root != _values(old, ROOT_FIELDS):
                self._bump(old, root, actor, now)  # first, so no record is written on a stale read
                for spec, key, record in changes:
                    self._write(spec, new.id, key, record, actor, now)
                self.saved.append(replace(new, version=old.version + 1, updated_by=actor, updated_at=now))
        except IntegrityError as error:  # the same record, added by someone else meanwhile
            raise ConcurrencyConflict(str(error.orig)) from error

    def _insert(self, new: Workshop, actor: str, now: datetime) -> None:
        self.session.add(WorkshopRow(**{**_values(new, ROOT_FIELDS), "version": 1}))
        self.session.flush()  # the row its records point to must exist first
        self._log(new.id, "workshop", new.id, actor, now, _values(new, ROOT_FIELDS))
        for spec in SPECS:
            for key, record in getattr(new, spec[0]).items():
                self._write(spec, new.id, key, record, actor, now, fresh=True)

    def _bump(self, old: Workshop, root: dict[str, Any], actor: str, now: datetime) -> None:
        """One writer at a time per workshop: the row's version must still be the one we read."""
        stamped = {**root, "version": old.version + 1, "updated_by": actor, "updated_at": now}
        result = self.session.execute(
            update(WorkshopRow).where(WorkshopRow.id == old.id, WorkshopRow.version == old.version)
            .values(**{k: v for k, v in stamped.items() if k != "id"})
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(old.id)
        if root != _values(old, ROOT_FIELDS):
            self._log(old.id, "workshop", old.id, actor, now, root)

    def _write(self, spec: Spec, workshop_id: str, key: Any, record: Record | None, actor: str,
               now: datetime, fresh: bool = False) -> None:
        """Insert, update or (for None) delete one record's row, and log it."""
        _, kind, table, key_fields = spec
        parts = key if isinstance(key, tuple) else (key,)
        primary = {"workshop_id": workshop_id, **dict(zip(key_fields, parts, strict=True))}
        row = None if fresh else self.session.get(table, primary)
        if record is None:
            if row is not None:
                self.session.delete(row)
            self._log(workshop_id, kind.__name__, key, actor, now, None)
            return
        values = {**_values(record), "workshop_id": workshop_id}
        if row is None:
            self.session.add(table(**values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
        # A record says who changed it (one save may hold the clicks of many people).
        self._log(workshop_id, kind.__name__, key, record.updated_by or actor, now, values)

    def _log(self, workshop_id: str, entity: str, key: Any, actor: str, now: datetime,
             data: dict[str, Any] | None) -> None:
        self.session.add(ChangeRow(
            workshop_id=workshop_id, entity=entity, actor=actor, at=now,
            entity_key="/".join(key) if isinstance(key, tuple) else str(key),
            data=None if data is None else to_plain(data)))
