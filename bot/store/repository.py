"""Loading a workshop whole and saving only what changed, with an optimistic version check."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import fields, replace
from functools import cache
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, inspect, select, update
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
        """Writes with plain statements, each kind of row in one round: `old` was read under
        the workshop's lock and its version is checked first, so it tells which rows exist
        without asking the database (the ORM's unit of work cost more than the engine)."""
        writes = _Writes(new.id, actor, now)
        try:
            if old is None or old.id != new.id:
                self._insert(new, writes)
                self.saved.append(replace(new, version=1))
            else:
                changes = list(_changed(old, new))
                root = _values(new, ROOT_FIELDS)
                before = _values(old, ROOT_FIELDS)
                if not changes and root == before:
                    return
                changed = {k: v for k, v in root.items() if before[k] != v}
                self._bump(old, changed, actor, now)  # first, so no record is written on a stale read
                if changed:
                    writes.log("workshop", old.id, actor, root)
                for spec, key, record in changes:
                    writes.record(spec, key, record, existed=key in getattr(old, spec[0]))
                writes.run(self.session)
                self.saved.append(replace(new, version=old.version + 1, updated_by=actor, updated_at=now))
        except IntegrityError as error:  # the same record, added by someone else meanwhile
            raise ConcurrencyConflict(str(error.orig)) from error

    def _insert(self, new: Workshop, writes: _Writes) -> None:
        root = _values(new, ROOT_FIELDS)
        self.session.execute(insert(WORKSHOPS), {**root, "version": 1})  # its records point to it
        writes.log("workshop", new.id, writes.actor, root)
        for spec in SPECS:
            for key, record in getattr(new, spec[0]).items():
                writes.record(spec, key, record, existed=False)
        writes.run(self.session)

    def _bump(self, old: Workshop, changed: dict[str, Any], actor: str, now: datetime) -> None:
        """One writer at a time per workshop: the row's version must still be the one we read."""
        result = self.session.execute(
            update(WORKSHOPS).where(WORKSHOPS.c.id == bindparam("b_id"),
                                    WORKSHOPS.c.version == bindparam("b_version")),
            {**changed, "version": old.version + 1, "updated_by": actor, "updated_at": now,
             "b_id": old.id, "b_version": old.version})
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(old.id)


WORKSHOPS = cast(Table, WorkshopRow.__table__)
CHANGES = cast(Table, ChangeRow.__table__)


class _Writes:
    """One save's inserts, updates and deletes, by table, and its history entries; run as one
    executemany each."""

    def __init__(self, workshop_id: str, actor: str, now: datetime) -> None:
        self.workshop_id, self.actor, self.now = workshop_id, actor, now
        self._rows: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        self._changes: list[dict[str, Any]] = []

    def record(self, spec: Spec, key: Any, record: Record | None, existed: bool) -> None:
        """Insert, update or (for None) delete one record's row, and log it."""
        _, kind, table, key_fields = spec
        if record is None:
            if existed:
                parts = key if isinstance(key, tuple) else (key,)
                self._add("delete", table, {"b_workshop_id": self.workshop_id,
                                            **{f"b_{k}": v for k, v in zip(key_fields, parts, strict=True)}})
            self.log(kind.__name__, key, self.actor, None)
            return
        values = {**_values(record), "workshop_id": self.workshop_id}
        renamed = _renamed(table)
        if existed:
            keys = ("workshop_id", *key_fields)
            self._add("update", table, {**{renamed.get(k, k): v for k, v in values.items() if k not in keys},
                                        **{f"b_{k}": values[k] for k in keys}})
        else:
            self._add("insert", table, {renamed.get(k, k): v for k, v in values.items()})
        # A record says who changed it (one save may hold the clicks of many people).
        self.log(kind.__name__, key, record.updated_by or self.actor, values)

    def _add(self, kind: str, table: type[RecordRow], row: dict[str, Any]) -> None:
        self._rows.setdefault((kind, table), []).append(row)

    def log(self, entity: str, key: Any, actor: str, data: dict[str, Any] | None) -> None:
        self._changes.append({
            "workshop_id": self.workshop_id, "entity": entity, "actor": actor, "at": self.now,
            "entity_key": "/".join(key) if isinstance(key, tuple) else str(key),
            "data": None if data is None else to_plain(data)})

    def run(self, session: Session) -> None:
        for (kind, table), rows in self._rows.items():
            session.execute(_statement(kind, table), rows)
        if self._changes:
            session.execute(insert(CHANGES), self._changes)


@cache
def _renamed(table: type[RecordRow]) -> dict[str, str]:
    """Attributes whose column is named otherwise (`group` is `group_code`): plain statements
    take the columns' names."""
    return {a.key: a.columns[0].key for a in inspect(table).column_attrs if a.key != a.columns[0].key}


@cache
def _statement(kind: str, table: type[RecordRow]) -> Any:
    """INSERT, or UPDATE / DELETE by the row's key given as b_<column>."""
    t = cast(Table, table.__table__)
    if kind == "insert":
        return insert(t)
    where = [t.c.workshop_id == bindparam("b_workshop_id"),
             *(c == bindparam(f"b_{c.key}") for c in t.primary_key.columns if c.key != "workshop_id")]
    return (update(t) if kind == "update" else delete(t)).where(*where)
