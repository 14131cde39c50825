"""The plenum board's read model: what the board shows of a workshop, right now.

It replaces the guide's A2 posters: per målepunkt the dots, the ambition sentence, whether
the plenum agreed, and later the SMART goals with owner and deadline; above them the phase
and its clock. Pure: workshop → a frozen Board whose every text is in the workshop's
language, ready for a web page to lay out. No decision is made here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain import agenda
from bot.domain.model import AmbitionStatus, Area, Level, Measure, Phase, Workshop
from bot.i18n import Translator

LEVELS = tuple(Level)
# What the posters show in each phase: dots from the group work on, goals from phase 4 on.
DOTS_FROM = (Phase.AMBITIONS, Phase.AMBITIONS_PLENUM, Phase.BREAK, Phase.SMART_GOALS,
             Phase.GOALS_PLENUM, Phase.WRAP_UP, Phase.FOLLOW_UP)
GOALS_FROM = (Phase.SMART_GOALS, Phase.GOALS_PLENUM, Phase.WRAP_UP, Phase.FOLLOW_UP)
# The progress strip: what counts as done for a målepunkt, in the phases that have one.
PROGRESS = {Phase.AMBITIONS: "ambitions", Phase.AMBITIONS_PLENUM: "agreed",
            Phase.SMART_GOALS: "goals", Phase.GOALS_PLENUM: "goals", Phase.WRAP_UP: "owners"}
# Texts the page needs besides the workshop's own: the keys under [board] in the catalogs.
LABELS = ("time_left", "paused", "time_up", "ends", "dots", "no_dots", "ambition", "no_ambition",
          "goals", "no_goals", "owner", "deadline", "offline", "gone_title", "gone", "current")


@dataclass(frozen=True)
class Tally:
    level: str  # a Level value
    label: str
    count: int


@dataclass(frozen=True)
class GoalLine:
    number: int
    text: str
    owner: str  # "" while no one is responsible
    deadline: str  # as the workshop writes dates; "" without one


@dataclass(frozen=True)
class Poster:
    id: str
    name: str
    current: str  # today's value with its unit; "" when unknown
    dots: tuple[Tally, ...]
    voters: int
    level: str  # the ambition's level, by name; "" without an ambition
    sentence: str
    status: str  # "none", or an AmbitionStatus value
    status_text: str  # says the status in words, with a sign: never by colour alone
    note: str  # why the plenum sent it back ("" otherwise)
    goals: tuple[GoalLine, ...]


@dataclass(frozen=True)
class Column:
    area: str  # "E", "S" or "G"
    name: str  # the area's name ("Miljø")
    title: str  # both ("E – Miljø")
    done: int  # målepunkter done by the progress strip's measure (0 where it has none)
    posters: tuple[Poster, ...]


@dataclass(frozen=True)
class Board:
    language: str
    title: str
    phase: str  # a Phase value
    phase_title: str
    ends_at: datetime | None  # the phase's deadline on the server's clock; None: no clock
    ends_shown: str  # the deadline as the workshop's time zone writes it
    paused_left: float | None  # seconds left when the clock was paused; None when running
    show_dots: bool
    show_status: bool
    show_goals: bool
    progress_label: str  # "" when the phase has no progress strip
    progress: str  # "E 3/3 · S 2/3 · G 1/3"
    columns: tuple[Column, ...]
    labels: Mapping[str, str]


def build(ws: Workshop) -> Board:
    t = Translator(ws.language)
    phase = ws.phase
    kind = PROGRESS.get(phase, "")
    columns = tuple(_column(ws, t, area, kind) for area in Area)
    ends = ws.phase_ends_at if phase in agenda.TIMED else None
    paused = (max(ends - ws.paused_at, timedelta(0)).total_seconds()
              if ends is not None and ws.paused_at else None)
    return Board(
        language=t.language, title=ws.title, phase=phase.value, phase_title=phase_title(t, phase),
        ends_at=ends, ends_shown=t.time(ends.astimezone(ZoneInfo(ws.timezone))) if ends else "",
        paused_left=paused,
        show_dots=phase in DOTS_FROM, show_status=phase in DOTS_FROM and phase != Phase.AMBITIONS,
        show_goals=phase in GOALS_FROM,
        progress_label=t(f"board.progress.{kind}") if kind else "",
        progress=" · ".join(f"{c.area} {c.done}/{len(c.posters)}" for c in columns if c.posters)
        if kind else "",
        columns=columns,
        labels={key: t(f"board.{key}") for key in LABELS})


def phase_title(t: Translator, phase: Phase) -> str:
    number = agenda.number(phase)
    name = t(f"phase.{phase}.name")
    if number is None or phase == Phase.FOLLOW_UP:
        return name
    return t("phase.numbered", number=number, total=6, name=name)


def _column(ws: Workshop, t: Translator, area: Area, kind: str) -> Column:
    measures = sorted((m for m in ws.measures.values() if m.area == area), key=lambda m: m.position)
    posters = tuple(_poster(ws, t, m) for m in measures)
    return Column(area=area.value, name=t(f"area.{area}"),
                  title=t("board.area", area=area.value, name=t(f"area.{area}")),
                  done=sum(1 for m in measures if _done(ws, m, kind)), posters=posters)


def _done(ws: Workshop, measure: Measure, kind: str) -> bool:
    ambition = ws.ambitions.get(measure.id)
    goals = [g for g in ws.goals.values() if g.measure_id == measure.id]
    match kind:
        case "ambitions":
            return ambition is not None
        case "agreed":
            return ambition is not None and ambition.status == AmbitionStatus.AGREED
        case "goals":
            return bool(goals)
        case "owners":
            return bool(goals) and all(g.owner for g in goals)
    return False


def _poster(ws: Workshop, t: Translator, measure: Measure) -> Poster:
    counts = Counter(v.level.value for v in ws.votes.values() if v.measure_id == measure.id)
    ambition = ws.ambitions.get(measure.id)
    status = ambition.status.value if ambition else "none"
    goals = sorted((g for g in ws.goals.values() if g.measure_id == measure.id), key=lambda g: g.number)
    return Poster(
        id=measure.id, name=measure.name,
        current=f"{measure.current_value} {measure.unit}".strip() if measure.current_value else "",
        dots=tuple(Tally(level.value, t(f"level.{level}.name"), counts[level.value]) for level in LEVELS),
        voters=sum(counts.values()),
        level=t(f"level.{ambition.level}.name") if ambition else "",
        sentence=ambition.sentence if ambition else "",
        status=status,
        status_text=t(f"board.status.{status}"),
        note=ambition.note if ambition and ambition.status == AmbitionStatus.SENT_BACK else "",
        goals=tuple(GoalLine(g.number, g.text, g.owner, t.date(g.deadline) if g.deadline else "")
                    for g in goals))
