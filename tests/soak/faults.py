"""Platform faults, soaked (issue #8): while scripted workshops run through the real Slack and
Teams endpoints (the e2e drivers, in-process), the fake Slack Web API and Bot Connector fail
every call of the outbox's methods inside seeded random time windows, one kind of fault per
window:

- `throttled`: 429 with Retry-After;
- `server_error`: 500, 502, 503 or 504 (an HTML error page, as a load balancer sends);
- `timeout`: no answer for longer than the client waits (the platform did nothing);
- `dropped`: the connection is dropped before the platform acted;
- `acted_dropped`, `acted_timeout`: the platform did what was asked (posted the message), then
  the answer was lost: the connection dropped, or the answer came too late. A naive retry
  posts twice; Slack can look in the conversation's history first, Teams' connector offers no
  way to, so a Teams duplicate after these is counted apart, not hidden.

Every message-creating request carries its outbox item (Slack: the message's metadata; Teams:
the X-Ambition-Item header), so the soak counts what people saw: duplicates (the same item and
part accepted twice), out-of-order deliveries (within a conversation's outbox lane, item ids
must rise), items delivered but never seen, what was set aside, the largest backlog, the time
to drain after the last fault, and samples of /readyz's outbox detail while faulty.

    python -m tests.soak.faults [--minutes 5] [--database-url URL] [--seed N] [--workshops N]

`tests/soak/test_faults.py` runs a short version in the suite: windows of a second or two, a
client that waits one second, and a dispatcher clock twenty times as fast, so that the
backoff (up to 300 s) and Retry-After pass in seconds. This script runs in real time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

import adapters.app
import adapters.teams.transport
import tests.e2e.slack_driver as slack_driver
import tests.e2e.teams_driver as teams_driver
from adapters.app import Runtime, Store
from adapters.teams.render import message_cards
from bot.clock import ScaledClock
from bot.codec import loads
from bot.effects import Direct, OpenForm, Post, PostPrivate, SendFile
from bot.store.tables import OutboxRow
from tests.databases import throwaway_schema
from tests.e2e.slack_driver import SlackWorkshop, SlackWorkspace
from tests.e2e.teams_driver import DM, TeamsService, TeamsWorkshop
from tests.e2e.test_slack_workshop import SENTENCES, area, goal
from tests.fakes import slack_api, teams_api

Platform = Literal["slack", "teams"]
KINDS = ("throttled", "server_error", "timeout", "dropped", "acted_dropped", "acted_timeout")
ACTED = frozenset({"acted_dropped", "acted_timeout"})
# What the outbox calls (and the history it reads to reconcile), not what inbound handling
# asks on the way (users.info: a name it can do without) nor the Socket Mode handshake.
SLACK_METHODS = frozenset({
    "chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "conversations.invite",
    "conversations.create", "conversations.history", "conversations.open",
    "files.getUploadURLExternal", "upload", "files.completeUploadExternal"})
TEAMS_ROUTES = frozenset({"send", "reply", "update", "create", "delete"})
MEASURES = ("E-energi", "S-tilfredshed", "G-kompetencer")
PEOPLE = {"E": ("Anders", "Birgitte"), "S": ("Hanne", "Ib"), "G": ("Maja", "Niels")}
F = "Mette"

log = logging.getLogger("soak.faults")


# --- when which fault ---------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Every outbox call arriving between `start` and `end` (seconds after the soak began)
    fails this way."""

    start: float
    end: float
    kind: str
    status: int = 0  # 429, or the 5xx of a server error
    retry_after: int | None = None


@dataclass(frozen=True)
class Timing:
    """How long things take: real minutes for the script, seconds for the suite."""

    shortest: float  # a window's length, seconds
    longest: float
    gap: tuple[float, float]  # seconds between windows
    client_wait: float  # how long the bot's HTTP clients wait for an answer
    retry_after: tuple[int, int]  # a 429's Retry-After, seconds (on the dispatcher's clock)
    clock_scale: float = 1.0  # how fast the dispatcher's clock runs (backoff, Retry-After)
    chatter: float = 5.0  # seconds between a facilitator's `plan` and a member's `status`
    sample: float = 1.0  # seconds between /readyz samples
    settle: float = 1800.0  # how long one step may wait for the outbox to drain


def real_timing(minutes: float) -> Timing:
    """Windows of an eighth of the run each, at most three minutes (so that every kind fits
    into the run), the production client waits (Slack 10 s, Teams 60 s) and the dispatcher's
    real clock."""
    longest = min(180.0, max(20.0, minutes * 60 / 8))
    return Timing(shortest=longest / 2, longest=longest, gap=(5.0, 20.0), client_wait=0.0,
                  retry_after=(1, 60))


FAST = Timing(shortest=1.0, longest=2.0, gap=(0.5, 1.0), client_wait=1.0, retry_after=(1, 20),
              clock_scale=20.0, chatter=0.4, sample=0.25, settle=45.0)


def schedule(rng: random.Random, seconds: float, timing: Timing) -> list[Window]:
    """Windows one after another over `seconds`: every kind once in a shuffled order (more
    rounds as time allows), then as many random kinds as still fit."""
    kinds = list(KINDS)
    rng.shuffle(kinds)
    windows: list[Window] = []
    at = rng.uniform(*timing.gap)
    while True:
        kind = kinds[len(windows)] if len(windows) < len(kinds) else rng.choice(KINDS)
        length = rng.uniform(timing.shortest, timing.longest)
        if windows and at + length > seconds:
            return windows
        status = 429 if kind == "throttled" else rng.choice((500, 502, 503, 504))
        hint = rng.randint(*timing.retry_after) if kind == "throttled" else None
        windows.append(Window(round(at, 2), round(at + length, 2), kind, status, hint))
        at += length + rng.uniform(*timing.gap)


class WindowFaults:
    """The faults of one platform over time, and how many calls each kind failed."""

    def __init__(self, windows: Sequence[Window], names: frozenset[str], fault: type,
                 client_wait: float) -> None:
        self.windows = list(windows)
        self.names = names
        self.fault = fault  # the fake's Fault class
        self.client_wait = client_wait  # 0: the fault's own timeout is a long one
        self.started = time.monotonic()
        self.hits: Counter[str] = Counter()  # kind → calls it failed
        self.acted_supported = "acted" in {f.name for f in fields(fault)}

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def now(self) -> Window | None:
        at = self.elapsed()
        return next((w for w in self.windows if w.start <= at < w.end), None)

    @property
    def over_at(self) -> float:
        return max((w.end for w in self.windows), default=0.0)

    def hit(self, name: str) -> tuple[Any, str]:
        """The fault for a call of `name` arriving now (or None), and its kind."""
        window = self.now() if name in self.names else None
        if window is None or (window.kind in ACTED and not self.acted_supported):
            return None, ""
        self.hits[window.kind] += 1
        late = (self.client_wait or 75.0) + 2.0  # longer than Slack's 10 s and Teams' 60 s
        kind = window.kind
        options: dict[str, Any] = {"status": window.status, "retry_after": window.retry_after,
                                   "timeout": late if kind in ("timeout", "acted_timeout") else 0,
                                   "disconnect": kind in ("dropped", "acted_dropped")}
        if kind in ("timeout", "acted_timeout", "dropped", "acted_dropped"):
            options["status"] = 504  # what would come, were anyone still waiting
        if self.acted_supported:
            options["acted"] = kind in ACTED
        return self.fault(**options), kind


# --- the fakes, failing by the clock and noting what people saw ---------------------------

# The fault kind that hit the request being handled: set by `_fault`, read where the fake
# posts (both run in the request's task, `_fault` first).
_HIT: ContextVar[str] = ContextVar("soak_hit", default="")


@dataclass(frozen=True)
class Accepted:
    """A message the platform took (answered or not)."""

    where: str  # Slack channel (or user id: the DM), Teams conversation
    item: str  # the outbox item it says it delivers; "" if none
    part: str  # which part of the item: Slack's part number, a digest of a Teams activity
    hit: str  # the fault kind that hit the request, "" if none


@dataclass
class FaultySlack(SlackWorkspace):
    faults: WindowFaults | None = None
    accepted: list[Accepted] = field(default_factory=list)
    shared: list[tuple[str, str]] = field(default_factory=list)  # (channel, fault kind) per file
    ephemerals: list[Accepted] = field(default_factory=list)

    def _fault(self, method: str) -> Any:
        fault, kind = self.faults.hit(method) if self.faults else (None, "")
        _HIT.set(kind)
        return fault or super()._fault(method)

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        answer = super()._chat_postMessage(params)
        meta = params.get("metadata")
        payload = meta.get("event_payload") or {} if isinstance(meta, dict) else {}
        self.accepted.append(Accepted(answer["channel"], str(payload.get("item") or ""),
                                      str(payload.get("part", 0)), _HIT.get()))
        return answer

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        # Ephemerals carry no metadata and cannot be read back: one taken whose answer was
        # lost is posted again, and its person sees it twice.
        shown = json.dumps([params.get("text"), params.get("blocks")], sort_keys=True, default=str)
        self.ephemerals.append(Accepted(f"{params.get('channel')}/{params.get('user')}", "",
                                        hashlib.sha256(shown.encode()).hexdigest()[:16], _HIT.get()))
        return super()._chat_postEphemeral(params)

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        self.shared.append((str(params.get("channel_id", "")), _HIT.get()))
        return super()._files_completeUploadExternal(params)


@dataclass
class FaultyTeams(TeamsService):
    faults: WindowFaults | None = None
    accepted: list[Accepted] = field(default_factory=list)

    def _fault(self, route: str) -> Any:
        fault, kind = self.faults.hit(route) if self.faults else (None, "")
        _HIT.set(kind)
        return fault or super()._fault(route)

    def _post(self, conversation_id: str, activity: dict[str, Any], reply_to_id: str | None = None,
              item: str | None = None) -> str:
        # TeamsService._post (tests/e2e) does not pass the item on; its bookkeeping is done here.
        extra = {"item": item} if item is not None else {}
        activity_id = teams_api.FakeTeamsApi._post(self, conversation_id, activity, reply_to_id, **extra)
        self.touched[(conversation_id, activity_id)] = next(self._ticks)
        shown = {k: activity.get(k) for k in ("text", "summary", "attachments")}
        digest = hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.accepted.append(Accepted(conversation_id, item or "", digest, _HIT.get()))
        return activity_id


# --- the workshops ------------------------------------------------------------------------


class Stopped(Exception):
    """The faults are over: the script stops where it is, to see the backlog drain."""


@dataclass
class Workshop:
    platform: Platform
    number: int
    driver: SlackWorkshop | TeamsWorkshop
    faults: WindowFaults
    round: int = 0
    rounds_done: int = 0
    steps: int = 0
    plenum: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def fake(self) -> FaultySlack | FaultyTeams:
        return self.driver.fake  # type: ignore[return-value]

    @property
    def store(self) -> Store:
        return self.driver.store

    @property
    def runtime(self) -> Runtime:
        return self.driver.runtime


def channels(platform: Platform, number: int, round_: int) -> tuple[str, dict[str, str]]:
    """A round's plenum and group channels: every round is a new workshop in new channels."""
    tag = f"{number}x{round_}"
    if platform == "slack":
        return f"C-plenum{tag}", {code: f"C-{code}{tag}" for code in PEOPLE}
    return (f"19:plenum{tag}@thread.tacv2",
            {code: f"19:gruppe-{code.lower()}{tag}@thread.tacv2" for code in PEOPLE})


async def workshop_round(ws: Workshop, stop: asyncio.Event) -> None:
    """A short workshop, as tests/e2e/test_slack_workshop.py and test_teams_workshop.py play
    it, stopping between steps once the faults are over. It asserts nothing: the soak counts
    afterwards. (In Teams the facilitator's controls come to her own chat with the bot.)"""
    chat = ws.driver
    slack = isinstance(chat, SlackWorkshop)
    say = chat.command if slack else chat.say  # type: ignore[union-attr]
    plenum, groups = channels(ws.platform, ws.number, ws.round)
    ws.plenum = plenum

    async def step(action: Awaitable[Any]) -> None:
        await action
        ws.steps += 1
        if stop.is_set():
            raise Stopped

    await step(say(F, plenum, f"ny Fjordly {ws.round}"))
    await step(chat.press(F, plenum, "setup_measures"))
    await step(chat.fill(F, {"measures": list(MEASURES)}))
    for code, channel in groups.items():
        await step(say(F, channel, f"gruppe {code}"))
    await step(chat.press(F, plenum, "start"))
    for code, names in PEOPLE.items():
        for name in names:
            await step(chat.press(name, plenum, "interest", area=code))
    await step(chat.press(F, plenum if slack else DM, "propose_split"))
    await step(chat.press(F, plenum, "approve_split"))
    await step(say(F, plenum, "næste"))
    for measure in MEASURES:
        code = area(measure)
        for name in PEOPLE[code]:
            await step(chat.press(name, groups[code], "vote", m=measure, level="ambitious"))
        await step(chat.press(PEOPLE[code][0], groups[code], "edit_ambition", m=measure))
        await step(chat.fill(PEOPLE[code][0], {"sentence": SENTENCES[measure]}))
    for _ in ("ambitions_plenum", "break", "smart_goals"):
        await step(say(F, plenum, "næste"))
    for measure in MEASURES:
        code = area(measure)
        await step(chat.press(PEOPLE[code][1], groups[code], "add_goal", m=measure))
        await step(chat.fill(PEOPLE[code][1], goal(f"Et SMART-mål for {measure}")))
    for _ in ("goals_plenum", "wrap_up", "follow_up"):
        await step(say(F, plenum, "næste"))


async def drive(ws: Workshop, stop: asyncio.Event) -> None:
    """Workshop after workshop until the faults are over."""
    while not stop.is_set():
        ws.round += 1
        try:
            await workshop_round(ws, stop)
            ws.rounds_done += 1
        except Stopped:
            return
        except Exception as error:  # noqa: BLE001 - a step that failed is a finding, reported
            ws.errors.append(f"round {ws.round}, step {ws.steps + 1}: {type(error).__name__}: {error}")
            log.exception("%s workshop %s failed", ws.platform, ws.number)
            return


async def chatter(ws: Workshop, stop: asyncio.Event, every: float) -> None:
    """People who do not wait for the bot: the facilitator asks for the plan (a post and a file
    in the plenum), a member for the status (a private answer), without waiting for delivery,
    so that the backlog grows while the platform is down."""
    turn = 0
    while not stop.is_set():
        await asyncio.sleep(every)
        if not ws.plenum or stop.is_set():
            continue
        turn += 1
        try:
            if ws.platform == "slack":
                driver = ws.driver
                assert isinstance(driver, SlackWorkshop)
                if turn % 2:
                    await driver.command(F, ws.plenum, "plan", settle=False)
                else:  # someone in no group: no form of theirs the drivers could mix up
                    await driver.command("Jonas", lane(ws, turn), "status", settle=False)
            else:
                teams = ws.driver
                assert isinstance(teams, TeamsWorkshop)
                if turn % 2:
                    await teams.say(F, ws.plenum, "plan", settle=False)
                else:
                    await teams.say("Jonas", lane(ws, turn), "status", settle=False)
        except Exception as error:  # noqa: BLE001
            ws.errors.append(f"chatter: {type(error).__name__}: {error}")
            return


def lane(ws: Workshop, turn: int) -> str:
    """The plenum or a group's channel, in turn: a lane stalled in its backoff leaves the
    others to meet the next fault."""
    plenum, groups = channels(ws.platform, ws.number, ws.round)
    return [plenum, *groups.values()][(turn // 2) % (len(groups) + 1)]


# --- watching: /readyz, the backlog, the drain --------------------------------------------


@dataclass(frozen=True)
class Sample:
    at: float  # seconds after the soak began
    workshop: str
    fault: str  # the kind of the window open then, "" if none
    outbox: dict[str, Any]  # /readyz's outbox detail


async def readyz(ws: Workshop) -> dict[str, Any]:
    response = await ws.driver.client.get("/readyz")
    body: dict[str, Any] = await response.json()
    return dict(body.get("outbox") or {})


async def watch(workshops: Sequence[Workshop], samples: list[Sample], every: float,
                done: asyncio.Event) -> None:
    while not done.is_set():
        for ws in workshops:
            window = ws.faults.now()
            try:
                detail = await readyz(ws)
            except Exception as error:  # noqa: BLE001 - the server is part of what is tested
                detail = {"error": f"{type(error).__name__}: {error}"}
            samples.append(Sample(round(ws.faults.elapsed(), 2), f"{ws.platform}{ws.number}",
                                  window.kind if window else "", detail))
        try:
            await asyncio.wait_for(done.wait(), every)
        except TimeoutError:
            pass


async def drained(workshops: Sequence[Workshop], limit: float) -> bool:
    """Wait until no outbox has anything left to deliver (or `limit` seconds pass)."""
    deadline = time.monotonic() + limit
    while any(ws.store.outbox.backlog() for ws in workshops):
        if time.monotonic() > deadline:
            return False
        for ws in workshops:
            ws.runtime.worker.wake()
        await asyncio.sleep(0.1)
    return True


# --- counting what people saw -------------------------------------------------------------


@dataclass
class Tally:
    workshop: str
    rounds: int = 0
    steps: int = 0
    faults: dict[str, int] = field(default_factory=dict)  # kind → calls it failed
    effects_delivered: int = 0  # outbox items delivered (all kinds)
    messages_accepted: int = 0  # message-creating requests the platform took, with an item
    untagged: int = 0  # ... without an item (the identity contract not in place)
    taken_then_lost: int = 0  # ... taken, and then the answer was lost (acted_*): in doubt
    duplicates: int = 0  # a part of an item accepted again
    duplicates_after_lost_answer: int = 0  # ... whose earlier copy's answer was lost (acted_*)
    out_of_order: int = 0  # an item accepted after a later one of its lane
    never_seen: int = 0  # message-creating items marked delivered that the platform never took
    files_shared: int = 0
    files_wanted: int = 0
    ephemerals_twice: int = 0  # Slack: an ephemeral taken, its answer lost, posted again
    set_aside: int = 0
    left: int = 0  # still waiting at the end
    errors: list[str] = field(default_factory=list)


def message_item(effect: Any, platform: Platform) -> bool:
    """Does delivering this effect create a message that carries its item?"""
    if isinstance(effect, Post | Direct):
        return True
    return platform == "teams" and isinstance(effect, PostPrivate | OpenForm)


def tally(ws: Workshop) -> Tally:
    result = Tally(f"{ws.platform}{ws.number}", ws.rounds_done, ws.steps, dict(ws.faults.hits),
                   errors=list(ws.errors))
    with ws.store.sessions() as session:
        rows = session.execute(select(OutboxRow.id, OutboxRow.lane, OutboxRow.payload,
                                      OutboxRow.delivered_at, OutboxRow.failed_at)
                               .order_by(OutboxRow.id)).all()
    lane_of = {str(row.id): row.lane for row in rows}
    effects = {str(row.id): loads(row.payload) for row in rows}
    result.effects_delivered = sum(1 for row in rows if row.delivered_at is not None)
    result.set_aside = sum(1 for row in rows if row.failed_at is not None)
    result.left = sum(1 for row in rows if row.delivered_at is None and row.failed_at is None)
    accepted = list(ws.fake.accepted)
    tagged = [a for a in accepted if a.item]
    result.messages_accepted, result.untagged = len(tagged), len(accepted) - len(tagged)
    result.taken_then_lost = sum(1 for a in accepted if a.hit in ACTED)
    result.duplicates, result.duplicates_after_lost_answer = duplicates(tagged)
    result.out_of_order = out_of_order(tagged, lane_of)
    seen = {a.item for a in tagged}
    result.never_seen = sum(1 for row in rows if row.delivered_at is not None and str(row.id) not in seen
                            and message_item(effects[str(row.id)], ws.platform)
                            and has_cards(effects[str(row.id)], ws.platform))
    if isinstance(ws.fake, FaultySlack):  # a Teams plan is a link in a tagged post, counted above
        result.files_wanted = sum(1 for row in rows if row.delivered_at is not None
                                  and isinstance(effects[str(row.id)], SendFile))
        result.files_shared = len(ws.fake.shared)
        result.ephemerals_twice = duplicates(ws.fake.ephemerals)[1]
    return result


def has_cards(effect: Any, platform: Platform) -> bool:
    """A message with nothing to show posts nothing (Teams: no cards)."""
    if platform == "teams" and isinstance(effect, Post | Direct | PostPrivate):
        return bool(message_cards(effect.message))
    return True


def duplicates(accepted: Sequence[Accepted]) -> tuple[int, int]:
    """(copies beyond the first of each (place, item, part), those whose earlier copy had its
    answer lost after the platform acted)."""
    seen: dict[tuple[str, str, str], list[Accepted]] = defaultdict(list)
    extra = after_lost = 0
    for entry in accepted:
        earlier = seen[(entry.where, entry.item, entry.part)]
        if earlier:
            extra += 1
            after_lost += any(e.hit in ACTED for e in earlier)
        earlier.append(entry)
    return extra, after_lost


def out_of_order(accepted: Sequence[Accepted], lane_of: dict[str, str]) -> int:
    """Items accepted after a later item of the same lane (the order the bot promises is the
    lane's: a conversation's effects, in the order they were written)."""
    newest: dict[str, int] = {}
    wrong = 0
    first = dict.fromkeys(a.item for a in accepted)  # each item at its first acceptance
    for item in first:
        lane = lane_of.get(item, "?")
        number = int(item) if item.isdigit() else -1
        if number < newest.get(lane, -1):
            wrong += 1
        newest[lane] = max(newest.get(lane, -1), number)
    return wrong


# --- the run ------------------------------------------------------------------------------


@dataclass
class Report:
    seed: int
    seconds: float
    database: str
    windows: dict[str, list[dict[str, Any]]]
    tallies: list[Tally]
    max_backlog: int
    drain_seconds: float | None  # after the last fault ended; None: it did not drain
    samples: list[Sample]
    acted_supported: bool

    def totals(self) -> Tally:
        total = Tally("all")
        for one in self.tallies:
            for name in ("rounds", "steps", "effects_delivered", "messages_accepted", "untagged", "taken_then_lost",
                         "duplicates", "duplicates_after_lost_answer", "out_of_order", "never_seen",
                         "files_shared", "files_wanted", "ephemerals_twice", "set_aside", "left"):
                setattr(total, name, getattr(total, name) + getattr(one, name))
            for kind, count in one.faults.items():
                total.faults[kind] = total.faults.get(kind, 0) + count
            total.errors += one.errors
        return total


@contextmanager
def databases(redirect: dict[str, str]) -> Iterator[None]:
    """The drivers open SQLite files of their own; this points each one (by its file's URL)
    at the database the soak was given."""
    opened = adapters.app.open_store

    def open_store(url: str, migrate: bool = True) -> Store:
        return opened(redirect.get(url, url), migrate)

    slack_driver.open_store = open_store  # type: ignore[assignment]
    teams_driver.open_store = open_store  # type: ignore[assignment]
    try:
        yield
    finally:
        slack_driver.open_store = opened  # type: ignore[assignment]
        teams_driver.open_store = opened  # type: ignore[assignment]


@contextmanager
def teams_client_wait(seconds: float) -> Iterator[None]:
    """The Teams connector client's total wait (60 s in production); read when its session
    is made, on the first request of each event loop."""
    if not seconds:
        yield
        return
    before = adapters.teams.transport.TIMEOUT
    adapters.teams.transport.TIMEOUT = adapters.teams.transport.aiohttp.ClientTimeout(total=seconds)
    try:
        yield
    finally:
        adapters.teams.transport.TIMEOUT = before


def speed_up(runtime: Runtime, scale: float) -> None:
    """The dispatcher's clock (backoff, Retry-After, what is due) runs `scale` times as fast,
    ahead of the service's: what the service writes is due at once."""
    if scale != 1.0:
        fast = ScaledClock(datetime.now(UTC), scale)
        runtime.worker.dispatcher.clock = fast
        runtime.worker.dispatcher._marks.clock = fast


async def open_workshop(stack: AsyncExitStack, platform: Platform, number: int, directory: Path,
                        windows: list[Window], timing: Timing, redirect: dict[str, str],
                        database_url: str | None) -> Workshop:
    home = directory / f"{platform}{number}"
    home.mkdir(parents=True, exist_ok=True)
    if platform == "slack":
        driver: SlackWorkshop | TeamsWorkshop = SlackWorkshop(home, settle_seconds=timing.settle)
        fake: FaultySlack | FaultyTeams = FaultySlack()
        file = home / "slack-e2e.sqlite3"
        fault: type = slack_api.Fault
        names = SLACK_METHODS
    else:
        driver = TeamsWorkshop(home, settle_seconds=timing.settle)
        fake = FaultyTeams()
        file = home / "teams-e2e.sqlite3"
        fault, names = teams_api.Fault, TEAMS_ROUTES
    driver.fake = fake  # type: ignore[assignment]
    if database_url:
        redirect[f"sqlite:///{file}"] = database_url
    await stack.enter_async_context(driver)
    speed_up(driver.runtime, timing.clock_scale)
    if platform == "slack":
        # the production client waits 10 s (adapters/slack/app.py); the driver's, 30 s
        deliverer = driver.runtime.worker.dispatcher.deliverer.adapters["slack"]  # type: ignore[attr-defined]
        deliverer.client.timeout = int(timing.client_wait or 10)
    faults = WindowFaults(windows, names, fault, timing.client_wait)
    fake.faults = faults
    return Workshop(platform, number, driver, faults)


async def soak(seconds: float, timing: Timing, *, seed: int, platforms: Sequence[Platform] = ("slack", "teams"),
               workshops: int = 1, database_url: str | None = None,
               directory: Path | None = None) -> Report:
    """Faults over `seconds` (the workshops run until the last window ends), then the drain."""
    rng = random.Random(seed)
    redirect: dict[str, str] = {}
    samples: list[Sample] = []
    on_postgres = bool(database_url and database_url.startswith("postgresql"))
    # The schemas are dropped last, once every workshop's server has stopped.
    with ExitStack() as schemas, tempfile.TemporaryDirectory(prefix="soak-faults-") as scratch, \
            databases(redirect), teams_client_wait(timing.client_wait):
        home = directory or Path(scratch)
        async with AsyncExitStack() as stack:
            opened: list[Workshop] = []
            for platform in platforms:
                for number in range(1, workshops + 1):
                    windows = schedule(rng, seconds, timing)
                    url = schemas.enter_context(throwaway_schema(database_url, "soak_")) \
                        if database_url and on_postgres else None
                    opened.append(await open_workshop(stack, platform, number, home, windows, timing,
                                                      redirect, url))
            for ws in opened:  # the windows count from now, for all of them alike
                ws.faults.started = time.monotonic()
            report = await run(opened, timing, samples)
            report.seed, report.seconds = seed, seconds
            report.database = "postgresql" if on_postgres else "sqlite"
            return report


async def run(opened: list[Workshop], timing: Timing, samples: list[Sample]) -> Report:
    stop, done = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(watch(opened, samples, timing.sample, done))
    drivers = [asyncio.create_task(drive(ws, stop)) for ws in opened]
    talkers = [asyncio.create_task(chatter(ws, stop, timing.chatter)) for ws in opened]
    last = max(ws.faults.over_at for ws in opened)
    await asyncio.sleep(max(0.0, last - opened[0].faults.elapsed()))
    stop.set()
    ended = time.monotonic()
    # the steps under way finish (each waits for its effects), and then nothing is left
    await asyncio.gather(*drivers, *talkers)
    ok = await drained(opened, timing.settle)
    drain = time.monotonic() - ended if ok else None
    done.set()
    await watcher
    return Report(0, 0.0, "", {f"{ws.platform}{ws.number}": [asdict(w) for w in ws.faults.windows]
                               for ws in opened},
                  [tally(ws) for ws in opened],
                  max((int(s.outbox.get("waiting") or 0) for s in samples), default=0),
                  drain, samples, all(ws.faults.acted_supported for ws in opened))


# --- printing -----------------------------------------------------------------------------


def faulty_samples(samples: Sequence[Sample], wanted: int = 8) -> list[Sample]:
    """Samples taken while a fault was on, spread over the run, the busiest of each stretch."""
    faulty = [s for s in samples if s.fault]
    if len(faulty) <= wanted:
        return faulty
    size = len(faulty) / wanted
    return [max(faulty[int(i * size):int((i + 1) * size)], key=lambda s: s.outbox.get("waiting") or 0)
            for i in range(wanted)]


def describe(report: Report) -> str:
    total = report.totals()
    lines = [f"platform-fault soak: seed {report.seed}, {report.seconds:.0f} s of faults, "
             f"{report.database}, {len(report.tallies)} workshop(s) side by side"]
    if not report.acted_supported:
        lines.append("  NOTE: the fakes' Fault has no `acted`: 'acted, then the answer was lost' was not injected")
    for name, windows in report.windows.items():
        lines.append(f"  windows {name}: " + ", ".join(
            f"{w['kind']}{'/' + str(w['status']) if w['kind'] in ('throttled', 'server_error') else ''}"
            f" {w['start']:.1f}-{w['end']:.1f}s" for w in windows))
    lines.append("")
    header = (f"  {'':10} {'faults':>7} {'rounds':>6} {'steps':>5} {'effects':>7} {'msgs':>5} "
              f"{'untag':>5} {'lost':>4} {'dupl':>5} {'d.lost':>6} {'order':>5} {'unseen':>6} {'files':>7} "
              f"{'aside':>5} {'left':>4}")
    lines.append(header)
    for one in [*report.tallies, total]:
        lines.append(f"  {one.workshop:10} {sum(one.faults.values()):>7} {one.rounds:>6} {one.steps:>5} "
                     f"{one.effects_delivered:>7} {one.messages_accepted:>5} {one.untagged:>5} {one.taken_then_lost:>4} "
                     f"{one.duplicates:>5} {one.duplicates_after_lost_answer:>6} {one.out_of_order:>5} "
                     f"{one.never_seen:>6} {one.files_shared:>3}/{one.files_wanted:<3} "
                     f"{one.set_aside:>5} {one.left:>4}")
    lines.append("")
    lines.append("  calls failed by kind: " + ", ".join(f"{k} {total.faults.get(k, 0)}" for k in KINDS))
    for one in report.tallies:
        lines.append(f"    {one.workshop}: " + ", ".join(f"{k} {one.faults.get(k, 0)}" for k in KINDS))
    lines.append(f"  Slack ephemerals shown twice (taken, answer lost, posted again): {total.ephemerals_twice}")
    lines.append(f"  max backlog (/readyz waiting): {report.max_backlog}")
    lines.append("  drain after the last fault: " + (
        f"{report.drain_seconds:.1f} s" if report.drain_seconds is not None else "DID NOT DRAIN"))
    lines.append("  /readyz outbox detail while faulty:")
    for sample in faulty_samples(report.samples):
        lines.append(f"    t={sample.at:7.1f}s {sample.workshop:7} {sample.fault:14} "
                     + json.dumps(sample.outbox, ensure_ascii=False))
    for error in total.errors:
        lines.append(f"  ERROR {error}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long faults are injected")
    parser.add_argument("--database-url", default="", help="PostgreSQL base URL (a schema per workshop); "
                        "default: a SQLite file per workshop")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workshops", type=int, default=1, help="workshops per platform, side by side")
    parser.add_argument("--platform", choices=("slack", "teams", "both"), default="both")
    parser.add_argument("--fast", action="store_true", help="the suite's timing (seconds, a fast dispatcher clock)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    platforms: tuple[Platform, ...] = ("slack", "teams") if args.platform == "both" else (args.platform,)
    timing = FAST if args.fast else real_timing(args.minutes)
    report = asyncio.run(soak(args.minutes * 60, timing, seed=seed, platforms=platforms,
                              workshops=args.workshops, database_url=args.database_url or None))
    print(describe(report))
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "samples": [asdict(s) for s in report.samples]},
                                        default=str, indent=1))
    return 0 if clean(report) else 1


def clean(report: Report) -> bool:
    """Everything delivered once and in order; on Teams, whose connector cannot be asked what
    it did, a copy after a lost answer is allowed (and counted)."""
    total = report.totals()
    return (report.drain_seconds is not None and not total.errors and total.set_aside == 0
            and total.left == 0 and total.out_of_order == 0 and total.never_seen == 0
            and total.untagged == 0 and total.files_shared == total.files_wanted
            and all(t.duplicates == (t.duplicates_after_lost_answer if t.workshop.startswith("teams") else 0)
                    for t in report.tallies))


if __name__ == "__main__":
    sys.exit(main())
