"""What must hold after a soak, as figures: every input the platforms got a 2xx for is in the
database, the database's invariants hold, no outbox item reached a platform twice, every phase
timer the workshops were owed said its piece once, and every workshop reached its end."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from adapters.app import Store
from bot.domain.model import AmbitionStatus, Phase, Workshop
from bot.store.repository import SqlWorkshops
from bot.store.tables import OutboxRow, ProcessedEventRow, WorkshopRow
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.teams_api import FakeTeamsApi
from tests.invariants import violations
from tests.soak.script import PHASES, T, Expected, WorkshopRun, marks, phase_title, time_up_text

MESSAGE_ROUTES = ("send", "reply", "create")  # Bot Connector calls that make a message


def _pattern(key: str) -> re.Pattern[str]:
    """A catalog text as a regex: any number of minutes, any rendering of the time."""
    sample = T(key, minutes="MINUTESX", time="TIMEX")
    return re.compile(re.escape(sample).replace("MINUTESX", r"\d+").replace("TIMEX", ".*?"))


REMINDERS = (_pattern("nudge.left"), _pattern("nudge.left_one"))


@dataclass
class Findings:
    inputs: int = 0  # inputs that were acknowledged, to be found in the database
    lost: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    effects: int = 0  # outbox items delivered
    undelivered: list[str] = field(default_factory=list)  # still waiting, or set aside
    messages: int = 0  # message-making requests the fakes accepted
    identified: int = 0  # of those, naming their outbox item
    duplicates: list[str] = field(default_factory=list)
    # Teams copies of an item whose first send a kill cut off before its answer was stored:
    # serve logs each as "may have been posted", and the connector cannot be asked (see
    # adapters/teams/deliver.py), so these are counted but not failures
    sent_again: list[str] = field(default_factory=list)
    timers_owed: int = 0
    timers_fired: int = 0
    timer_problems: list[str] = field(default_factory=list)
    reminders_late: int = 0  # due while serve was down, fired after the phase's end: silent
    unfinished: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.violations or self.undelivered or self.duplicates
                    or self.timer_problems or self.unfinished)


def check(store: Store, runs: Iterable[WorkshopRun], slack: FakeSlackApi, teams: FakeTeamsApi,
          log: Path | None = None) -> Findings:
    """`log`: serve's output, for the Teams items it said it sent again in doubt."""
    findings = Findings()
    findings.violations = violations(store)
    _outbox(store, findings)
    _items(slack, teams, findings, sent_again(log) if log else frozenset())
    workshops = _workshops(store)
    fired = _fired_timers(store)
    for run in runs:
        expected = run.expected
        ws = workshops.get(expected.title)
        findings.inputs += _count(expected)
        if ws is None:
            findings.lost.append(f"{expected.title}: the workshop is not in the database")
            continue
        findings.lost += [f"{expected.title}: {problem}" for problem in lost_inputs(ws, expected)]
        if not expected.finished or ws.phase != Phase.FOLLOW_UP:
            findings.unfinished.append(f"{expected.title}: in phase {ws.phase}, the script "
                                       f"{'finished' if expected.finished else 'did not finish'}")
        _timers(run, findings, fired.get(ws.id, {}))
    return findings


def _workshops(store: Store) -> dict[str, Workshop]:
    with store.sessions() as session:
        loaded = (SqlWorkshops(session).get(i) for i in session.scalars(select(WorkshopRow.id)))
        return {ws.title: ws for ws in loaded if ws is not None}


def _count(expected: Expected) -> int:
    return (len(expected.votes) + len(expected.sentences) + len(expected.agreed) + len(expected.goals)
            + len(expected.owned) + len(expected.followups))


def lost_inputs(ws: Workshop, expected: Expected) -> list[str]:
    """Each acknowledged input the workshop does not hold, in words."""
    lost = [f"the vote of {user} on {measure} ({level})" for (measure, user), level in expected.votes.items()
            if not any(v.measure_id == measure and v.member_id == user and v.level == level
                       for v in ws.votes.values())]
    for measure, sentence in expected.sentences.items():
        kept = ws.ambitions.get(measure)
        if kept is None or kept.sentence != sentence:
            lost.append(f"the ambition sentence on {measure}")
        elif measure in expected.agreed and kept.status != AmbitionStatus.AGREED:
            lost.append(f"the plenum's agreement on {measure}")
    lost += [f"the SMART goal on {measure}" for measure, text in expected.goals.items()
             if not any(g.measure_id == measure and g.text == text for g in ws.goals.values())]
    lost += [f"{expected.owner} as owner of goal {goal}" for goal in expected.owned
             if goal not in ws.goals or ws.goals[goal].owner.casefold() != expected.owner.casefold()]
    lost += [f"the follow-up '{status}' on goal {goal}" for goal, status in expected.followups.items()
             if not any(f.goal_id == goal and f.status == status for f in ws.followups.values())]
    return lost


def _outbox(store: Store, findings: Findings) -> None:
    with store.sessions() as session:
        findings.effects = session.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.delivered_at.is_not(None))) or 0
    state = store.outbox.state(datetime.now(UTC))
    if state.waiting or state.set_aside:
        findings.undelivered.append(f"{state.waiting} waiting, {state.set_aside} set aside: {state.last_error}")


# --- duplicates: the outbox item each platform request names -------------------------------


SENT_AGAIN = re.compile(r"outbox item (\d+) may have been posted by an attempt whose answer was lost")


def sent_again(log: Path) -> frozenset[str]:
    return frozenset(SENT_AGAIN.findall(log.read_text(errors="replace"))) if log.exists() else frozenset()


def _items(slack: FakeSlackApi, teams: FakeTeamsApi, findings: Findings, teams_in_doubt: frozenset[str]) -> None:
    """A duplicate is one outbox item that made a message twice. (Every message of these
    workshops fits one request: a message split over several would name its item in each.)"""
    slack_items, teams_items = slack.items(), teams.items()
    findings.messages = _messages(slack, teams)
    findings.identified = len(slack_items) + len(teams_items)
    for items, in_doubt in ((slack_items, frozenset[str]()), (teams_items, teams_in_doubt)):
        for (conversation, item), count in Counter(items).items():
            if count > 1:
                said = f"item {item} in {conversation}, {count} times"
                (findings.sent_again if item in in_doubt else findings.duplicates).append(said)


def _messages(slack: FakeSlackApi, teams: FakeTeamsApi) -> int:
    posts = slack.calls_to("chat.postMessage", ok_only=True)
    return len(posts) + sum(1 for c in teams.calls if c.route in MESSAGE_ROUTES and 200 <= c.status < 300)


# --- timers: each owed one said its piece once ---------------------------------------------


Fired = dict[tuple[int, str], datetime]  # (phase's seq, mark) → when its event was handled


def _fired_timers(store: Store) -> dict[str, Fired]:
    """Each workshop's phase timers that fired, from the events the bot handled (an event id
    is handled once: `timer:<ws>:phase:<mark>:gen=…:mark=…:seq=<n>:workshop=…`)."""
    fired: dict[str, Fired] = {}
    with store.sessions() as session:
        for workshop_id, event_id, at in session.execute(
                select(ProcessedEventRow.workshop_id, ProcessedEventRow.event_id, ProcessedEventRow.handled_at)
                .where(ProcessedEventRow.event_id.like("timer:%:phase:%"))):
            args = dict(part.split("=", 1) for part in event_id.split(":") if "=" in part)
            fired.setdefault(workshop_id, {})[(int(args["seq"]), args["mark"])] = at
    return fired


def _timers(run: WorkshopRun, findings: Findings, fired: Fired) -> None:
    """Each owed timer fired once; the end was told once; a reminder spoke unless it could
    only fire after the phase had ended (the server was down when it was due: the end says
    it then, bot/flow/nudges.remind)."""
    title, durations = run.expected.title, run.expected.durations
    private = run.private_texts(run.facilitator)
    reminders = reminders_by_phase(run.plenum_posts())
    for seq, phase in enumerate(PHASES, start=1):  # the script runs them in order, no extend
        if phase not in run.expected.phases_done:
            continue  # the script did not get this far: `unfinished` says so
        owed = marks(phase, durations[phase])
        findings.timers_owed += len(owed)
        findings.timers_fired += sum((seq, mark) in fired for mark in owed)
        findings.timer_problems += [f"{title}: the {mark} timer of {phase} never fired"
                                    for mark in owed if (seq, mark) not in fired]
        ends = sum(time_up_text(phase) in text for text in private)
        if ends != 1:
            findings.timer_problems.append(f"{title}: the end of {phase} was told {ends} times")
        late = [mark for mark in owed[:-1] if _late(fired, seq, mark)]
        findings.reminders_late += len(late)
        said = reminders.get(phase, 0)
        if not len(owed) - 1 - len(late) <= said <= len(owed) - 1:
            findings.timer_problems.append(
                f"{title}: {said} reminders in {phase}, owed {len(owed) - 1} ({len(late)} fired late)")


def _late(fired: Fired, seq: int, mark: str) -> bool:
    """Whether the `mark`-minute reminder fired less than `mark` minutes before the end."""
    at, end = fired.get((seq, mark)), fired.get((seq, "end"))
    return at is not None and end is not None and (end - at).total_seconds() < int(mark) * 60 - 30


def reminders_by_phase(posts: list[tuple[list[str], str]]) -> Counter[Phase]:
    """How many 'N minutes left' the plenum got in each phase: those after the phase's
    announcement and before the next one's (a conversation's messages keep their order)."""
    titles = {phase_title(p): p for p in PHASES}
    current: Phase | None = None
    counts: Counter[Phase] = Counter()
    for headings, texts in posts:
        current = next((titles[h] for h in headings if h in titles), current)
        if current is not None and any(p.search(texts) for p in REMINDERS):
            counts[current] += 1
    return counts
