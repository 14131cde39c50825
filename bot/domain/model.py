"""The workshop aggregate: plain frozen records, no behaviour beyond what they are.

A workshop is loaded whole for every event (it is small: at most 9 målepunkter,
a few dozen people, 27 goals), changed by the engine with `dataclasses.replace`, and
saved by comparing records by identity: an unchanged record is the very same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

PLENUM = ""  # the group code of the plenum conversation


class Area(StrEnum):
    E = "E"
    S = "S"
    G = "G"


class Level(StrEnum):
    MINIMUM = "minimum"
    MEDIUM = "medium"
    AMBITIOUS = "ambitious"


class Phase(StrEnum):
    SETUP = "setup"
    INTRO = "intro"
    AMBITIONS = "ambitions"
    AMBITIONS_PLENUM = "ambitions_plenum"
    BREAK = "break"
    SMART_GOALS = "smart_goals"
    GOALS_PLENUM = "goals_plenum"
    WRAP_UP = "wrap_up"
    FOLLOW_UP = "follow_up"


class AmbitionStatus(StrEnum):
    DRAFT = "draft"
    AGREED = "agreed"
    SENT_BACK = "sent_back"


class GoalStatus(StrEnum):
    """Where a SMART goal stands, in the guide's words: ikke startet … gennemført."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DELAYED = "delayed"
    DONE = "done"


@dataclass(frozen=True, kw_only=True)
class Record:
    """Who changed a record last, when, and how often (the optimistic version)."""

    version: int = 0
    updated_by: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Member(Record):
    id: str
    name: str
    participant: bool = False
    interest: str = ""  # an Area value, or "" for no preference
    group: str = ""  # a group code, or "" while not placed

    @property
    def key(self) -> str:
        return self.id


@dataclass(frozen=True, kw_only=True)
class Group(Record):
    code: str  # "E", "S", "G", or a subgroup such as "E1"
    area: Area
    parent: str = ""  # the group a subgroup was split from

    @property
    def key(self) -> str:
        return self.code


@dataclass(frozen=True, kw_only=True)
class Conversation(Record):
    """A chat conversation bound to the workshop: the plenum or one group's."""

    id: str
    group: str = PLENUM

    @property
    def key(self) -> str:
        return self.id


@dataclass(frozen=True, kw_only=True)
class Measure(Record):
    """A målepunkt, copied from the catalog into the workshop's language."""

    id: str
    area: Area
    name: str
    description: str = ""
    unit: str = ""
    current_value: str = ""
    why: str = ""  # why the prioritisation workshop chose it
    group: str = ""
    position: int = 0
    inspiration: Mapping[str, str] = field(default_factory=dict)  # Level value -> text

    @property
    def key(self) -> str:
        return self.id


@dataclass(frozen=True, kw_only=True)
class Vote(Record):
    """One participant's dot on one målepunkt."""

    measure_id: str
    member_id: str
    level: Level

    @property
    def key(self) -> tuple[str, str]:
        return (self.measure_id, self.member_id)


@dataclass(frozen=True, kw_only=True)
class Ambition(Record):
    measure_id: str
    level: Level
    sentence: str
    status: AmbitionStatus = AmbitionStatus.DRAFT
    note: str = ""  # why the plenum sent it back

    @property
    def key(self) -> str:
        return self.measure_id


@dataclass(frozen=True, kw_only=True)
class Comment(Record):
    id: str
    measure_id: str
    author: str
    text: str
    phase: Phase

    @property
    def key(self) -> str:
        return self.id


@dataclass(frozen=True, kw_only=True)
class SmartGoal(Record):
    id: str
    measure_id: str
    number: int
    text: str
    indicator: str = ""
    baseline: str = ""
    target: str = ""
    deadline: date | None = None
    author: str = ""
    supporters: tuple[str, ...] = ()
    owner: str = ""
    owner_id: str = ""
    next_step: str = ""
    unanswered: int = 0  # follow-up reminders sent since the owner last answered

    @property
    def key(self) -> str:
        return self.id


@dataclass(frozen=True, kw_only=True)
class FollowUp(Record):
    """One report on a SMART goal after the workshop. Never changed: a new report is a new entry.

    Who reported it and when are the record's `updated_by` and `updated_at`.
    """

    id: str
    goal_id: str
    status: GoalStatus
    progress: float | None = None  # how far towards the target, in the goal's own unit
    comment: str = ""

    @property
    def key(self) -> str:
        return self.id


@dataclass(frozen=True, kw_only=True)
class SpecialistInput(Record):
    """A specialist (fagperson) who will not be at the workshop, asked before it for their
    input on one målepunkt. The answers are empty until they give it."""

    id: str
    measure_id: str
    user_id: str
    name: str
    deadline: date
    reminded: bool = False
    situation: str = ""  # where things stand today
    realistic: str = ""  # what they think can be reached
    pitfalls: str = ""
    answered_at: datetime | None = None

    @property
    def key(self) -> str:
        return self.id


@dataclass(frozen=True)
class PhaseRun:
    phase: Phase
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Workshop(Record):
    id: str
    org: str
    title: str
    date: date
    language: str
    timezone: str
    created_at: datetime
    facilitators: tuple[str, ...]
    durations: Mapping[str, int]  # Phase value -> planned minutes
    mandate: str = ""
    phase: Phase = Phase.SETUP
    phase_seq: int = 0
    phase_started_at: datetime | None = None
    phase_ends_at: datetime | None = None
    paused_at: datetime | None = None
    timer_gen: int = 0
    armed_at: datetime | None = None  # when the phase clock was last set (start, extend, pause)
    phase_log: tuple[PhaseRun, ...] = ()
    split_approved: bool = False
    auto_advance: bool = False  # when a phase's time is up, go on without asking the facilitator
    followup_closed: bool = False  # after the workshop: no more reminders
    reminder_cadence: str = "monthly"  # follow-up check-ins: "monthly", "fortnightly" or "quarterly"
    work_start: int = 8  # follow-up reminders only from this hour to `work_end`, on working days
    work_end: int = 16
    # The plenum board's link (GET /board/<token>): unguessable, None while no link is open.
    board_token: str | None = None
    members: Mapping[str, Member] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    conversations: Mapping[str, Conversation] = field(default_factory=dict)
    measures: Mapping[str, Measure] = field(default_factory=dict)
    votes: Mapping[tuple[str, str], Vote] = field(default_factory=dict)
    ambitions: Mapping[str, Ambition] = field(default_factory=dict)
    comments: Mapping[str, Comment] = field(default_factory=dict)
    goals: Mapping[str, SmartGoal] = field(default_factory=dict)
    followups: Mapping[str, FollowUp] = field(default_factory=dict)
    specialists: Mapping[str, SpecialistInput] = field(default_factory=dict)


# Which collection of the aggregate holds each kind of record.
COLLECTIONS: Mapping[type[Record], str] = {
    Member: "members",
    Group: "groups",
    Conversation: "conversations",
    Measure: "measures",
    Vote: "votes",
    Ambition: "ambitions",
    Comment: "comments",
    SmartGoal: "goals",
    FollowUp: "followups",
    SpecialistInput: "specialists",
}
