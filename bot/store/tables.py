"""SQLAlchemy 2 tables. Columns carry the domain's names, so a row maps to a record 1:1."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer,
                        LargeBinary, String)
from sqlalchemy import Text as SqlText
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.domain.model import AmbitionStatus, Area, GoalStatus, Level, Phase, PhaseRun

ID = String(64)
BIG_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only


class UtcDateTime(TypeDecorator[datetime]):
    """Stored in UTC; always read back as an aware datetime, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EnumText(TypeDecorator[StrEnum]):
    impl = String(32)
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class JsonTuple(TypeDecorator[tuple[Any, ...]]):
    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[Any]:
        return list(value or ())

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[Any, ...]:
        return tuple(value or ())


class PhaseLog(TypeDecorator[tuple[PhaseRun, ...]]):
    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[list[str | None]]:
        return [[r.phase.value, r.started_at.isoformat(),
                 r.ended_at.isoformat() if r.ended_at else None] for r in value or ()]

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[PhaseRun, ...]:
        return tuple(PhaseRun(Phase(p), datetime.fromisoformat(s),
                              datetime.fromisoformat(e) if e else None) for p, s, e in value or ())


class Base(DeclarativeBase):
    pass


class WorkshopRow(Base):
    __tablename__ = "workshops"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(200))
    date: Mapped[date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    facilitators: Mapped[tuple[str, ...]] = mapped_column(JsonTuple)
    durations: Mapped[dict[str, int]] = mapped_column(JSON)
    mandate: Mapped[str] = mapped_column(SqlText, default="")
    phase: Mapped[Phase] = mapped_column(EnumText(Phase))
    phase_seq: Mapped[int] = mapped_column(Integer)
    phase_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    phase_ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    timer_gen: Mapped[int] = mapped_column(Integer)
    armed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    phase_log: Mapped[tuple[PhaseRun, ...]] = mapped_column(PhaseLog)
    split_approved: Mapped[bool] = mapped_column(Boolean)
    auto_advance: Mapped[bool] = mapped_column(Boolean, default=False)
    followup_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    reminder_cadence: Mapped[str] = mapped_column(String(20), default="monthly")
    work_start: Mapped[int] = mapped_column(Integer, default=8)
    work_end: Mapped[int] = mapped_column(Integer, default=16)
    board_token: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RecordRow(Base):
    """Every record belongs to a workshop and says who changed it last, when, how often."""

    __abstract__ = True

    @declared_attr
    def workshop_id(cls) -> Mapped[str]:
        return mapped_column(ID, ForeignKey("workshops.id", ondelete="CASCADE"), primary_key=True)

    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class MemberRow(RecordRow):
    __tablename__ = "members"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    participant: Mapped[bool] = mapped_column(Boolean)
    interest: Mapped[str] = mapped_column(String(8))
    group: Mapped[str] = mapped_column("group_code", String(8))


class GroupRow(RecordRow):
    __tablename__ = "groups"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    area: Mapped[Area] = mapped_column(EnumText(Area))
    parent: Mapped[str] = mapped_column(String(8))


class ConversationRow(RecordRow):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_id", "id"),)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    group: Mapped[str] = mapped_column("group_code", String(8))


class MeasureRow(RecordRow):
    __tablename__ = "measures"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    area: Mapped[Area] = mapped_column(EnumText(Area))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(SqlText)
    unit: Mapped[str] = mapped_column(String(64))
    current_value: Mapped[str] = mapped_column(String(64))
    why: Mapped[str] = mapped_column(SqlText)
    group: Mapped[str] = mapped_column("group_code", String(8))
    position: Mapped[int] = mapped_column(Integer)
    inspiration: Mapped[dict[str, str]] = mapped_column(JSON)


class VoteRow(RecordRow):
    __tablename__ = "votes"
    measure_id: Mapped[str] = mapped_column(ID, primary_key=True)
    member_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    level: Mapped[Level] = mapped_column(EnumText(Level))


class AmbitionRow(RecordRow):
    __tablename__ = "ambitions"
    measure_id: Mapped[str] = mapped_column(ID, primary_key=True)
    level: Mapped[Level] = mapped_column(EnumText(Level))
    sentence: Mapped[str] = mapped_column(SqlText)
    status: Mapped[AmbitionStatus] = mapped_column(EnumText(AmbitionStatus))
    note: Mapped[str] = mapped_column(SqlText)


class CommentRow(RecordRow):
    __tablename__ = "comments"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    measure_id: Mapped[str] = mapped_column(ID)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(SqlText)
    phase: Mapped[Phase] = mapped_column(EnumText(Phase))


class SmartGoalRow(RecordRow):
    __tablename__ = "smart_goals"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    measure_id: Mapped[str] = mapped_column(ID)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(SqlText)
    indicator: Mapped[str] = mapped_column(SqlText)
    baseline: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    author: Mapped[str] = mapped_column(String(200))
    supporters: Mapped[tuple[str, ...]] = mapped_column(JsonTuple)
    owner: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str] = mapped_column(String(200))
    next_step: Mapped[str] = mapped_column(SqlText)
    unanswered: Mapped[int] = mapped_column(Integer, default=0)


class FollowUpRow(RecordRow):
    __tablename__ = "followups"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    goal_id: Mapped[str] = mapped_column(ID)
    status: Mapped[GoalStatus] = mapped_column(EnumText(GoalStatus))
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    comment: Mapped[str] = mapped_column(SqlText)


class SpecialistInputRow(RecordRow):
    __tablename__ = "specialist_inputs"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    measure_id: Mapped[str] = mapped_column(ID)
    user_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    deadline: Mapped[date] = mapped_column(Date)
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    situation: Mapped[str] = mapped_column(SqlText)
    realistic: Mapped[str] = mapped_column(SqlText)
    pitfalls: Mapped[str] = mapped_column(SqlText)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ChangeRow(Base):
    """The history: every saved version of every record, with who and when."""

    __tablename__ = "changes"
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    workshop_id: Mapped[str] = mapped_column(ID, index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(400))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)  # None: the record was deleted


class ProcessedEventRow(Base):
    __tablename__ = "processed_events"
    event_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    workshop_id: Mapped[str] = mapped_column(ID)
    handled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "failed_at", "id"),)
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    workshop_id: Mapped[str] = mapped_column(ID)
    lane: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(SqlText)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(SqlText, default="")
    # A dispatcher takes what it delivers for a while, so that several processes never
    # deliver the same effect, nor two effects of one conversation at once.
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # What a failed attempt already did on the platform, handed to the next attempt.
    progress: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class SchedulerJobRow(Base):
    """APScheduler 3's SQLAlchemy job store, declared here so that Alembic owns the schema."""

    __tablename__ = "apscheduler_jobs"
    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True, nullable=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class PostedMessageRow(Base):
    """Where a keyed message ended up on the platform, so it can be updated in place."""

    __tablename__ = "posted_messages"
    workshop_id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    ref: Mapped[str] = mapped_column(SqlText)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PlatformMemoryRow(Base):
    """What an adapter must remember about its platform across restarts, by its own keys:
    how to reach a conversation later (a Teams ConversationReference), a card it drew."""

    __tablename__ = "platform_memory"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    value: Mapped[str] = mapped_column(SqlText)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InboxRow(Base):
    """An event acknowledged to its platform before it was handled, kept until it is: a
    crash in between loses nothing, since the next start handles what is still here."""

    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)  # arrival order
    event_id: Mapped[str] = mapped_column(String(400), unique=True)  # a platform's retry is kept once
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(SqlText)
