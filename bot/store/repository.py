"""Loading a workshop whole and saving only what changed, with an optimistic version check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.codec import to_plain
from bot.domain.model import (Ambition, Comment, Conversation, Group, Measure, Member, Phase,
                              Record, SmartGoal, Vote, Workshop)
from bot.ports import ConcurrencyConflict
from bot.store.tables import (AmbitionRow, ChangeRow, CommentRow, ConversationRow, GroupRow,
                              MeasureRow, MemberRow, RecordRow, SmartGoalRow, VoteRow, WorkshopRow)

# collection on the aggregate, record type, table, the fields that make up its key
SPECS: tuple[tuple[str, type[Record], type[RecordRow], tuple[str, ...]], ...] = (
    ("members", Member, MemberRow, ("id",)),
    ("groups", Group, GroupRow, ("code",)),
    ("conversations", Conversation, ConversationRow, ("id",)),
    ("measures", Measure, MeasureRow, ("id",)),
    ("votes", Vote, VoteRow, ("measure_id", "member_id")),
    ("ambitions", Ambition, AmbitionRow, ("measure_id",)),
    ("comments", Comment, CommentRow, ("id",)),
    ("goals", SmartGoal, SmartGoalRow, ("id",)),
)
ROOT_FIELDS = tuple(f.name for f in fields(Workshop) if f.name not in {s[0] for s in SPECS})


def _values(record: Any, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A record's fields as column values (mappings as plain dicts for the JSON columns)."""
    values = {n: getattr(record, n) for n in names or (f.name for f in fields(record))}
    return {n: dict(v) if isinstance(v, Mapping) else v for n, v in values.items()}


def _record(kind: type[Record], row: RecordRow) -> Record:
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})


class SqlWorkshops:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, workshop_id: str) -> Workshop | None:
        root = self.session.get(WorkshopRow, workshop_id)
        if root is None:
            return None
        collections = {}
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

    def save(self, old: Workshop | None, new: Workshop, actor: str, now: datetime) -> None:
        if old is None or old.id != new.id:
            self.session.add(WorkshopRow(**{**_values(new, ROOT_FIELDS), "version": 1}))
            self.session.flush()  # the row its records point to must exist first
            self._log(new.id, "workshop", new.id, actor, now, _values(new, ROOT_FIELDS))
            old = None
        changed = self._save_records(old, new, actor, now)
        root = _values(new, ROOT_FIELDS)
        if old is not None and (changed or root != _values(old, ROOT_FIELDS)):
            self._bump(old, root, actor, now)

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

    def _save_records(self, old: Workshop | None, new: Workshop, actor: str, now: datetime) -> bool:
        changed = False
        for name, kind, table, key_fields in SPECS:
            before = getattr(old, name) if old else {}
            after = getattr(new, name)
            for key, record in after.items():
                if before.get(key) is record:
                    continue
                changed = True
                values = {**_values(record), "workshop_id": new.id}
                row = self.session.get(table, {n: values[n] for n in ("workshop_id", *key_fields)}) \
                    if key in before else None
                if row is None:
                    self.session.add(table(**values))
                else:
                    for field_name, value in values.items():
                        setattr(row, field_name, value)
                self._log(new.id, kind.__name__, key, actor, now, values)
            for key in before.keys() - after.keys():
                changed = True
                values = {**_values(before[key]), "workshop_id": new.id}
                self.session.delete(self.session.get(table, {n: values[n] for n in
                                                             ("workshop_id", *key_fields)}))
                self._log(new.id, kind.__name__, key, actor, now, None)
        return changed

    def _log(self, workshop_id: str, entity: str, key: Any, actor: str, now: datetime,
             data: dict[str, Any] | None) -> None:
        self.session.add(ChangeRow(
            workshop_id=workshop_id, entity=entity, actor=actor, at=now,
            entity_key="/".join(key) if isinstance(key, tuple) else str(key),
            data=None if data is None else to_plain(data)))
