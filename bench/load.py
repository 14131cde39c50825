"""Issue #8's load run: many workshops clicking and submitting through Slack and Teams at once.

    python bench/load.py [--workshops 100] [--minutes 5] [--database-url URL] [--think 8]
                         [--bare-minutes M] [--drain-minutes M] [--only-slack] [--py-spy FILE]

Half of the workshops run in Slack (signed requests to `POST /slack/events`: buttons, modal
submissions, slash commands), the other half in Teams (activities to `POST /api/messages`,
authenticated as the Bot Connector signs them): 22 people each, a facilitator and three groups
of seven, each person acting every `think` seconds on average (bench/load_traffic.py: dots and
ambition sentences, then SMART goals and backing them, and `status`). Everything Slack and
Microsoft do runs on loopback (tests/fakes/), with the bot's real outbox dispatcher delivering
to them at the platforms' pace.

Three processes share the machine: the bot (bench/load_server.py, wired as `ambition-bot
serve`), the sender (spawned; it times each request from posting it to the end of its answer),
and this one, which holds the fakes and sets the workshops up through the bot's endpoints.

In the same run, before the bot's turn, the identical Slack request stream at the same rate (its
first `--bare-minutes`) goes to a minimal slack-bolt app that only acknowledges, in a process of
its own. With `--only-slack` the bot gets only that stream too (the Teams workshops sit idle):
the same requests, with no Teams traffic sharing the cores. Printed: per endpoint the
requests, errors (non-2xx, no answer within 10 s), the share answered within Slack's 3
seconds, p50 / p99 / max; the bare app's p50 / p99 and ours over it; the outbox backlog when
the load stops and how long it takes to drain.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.app import Store, open_store  # noqa: E402
from bench.load_server import SECRET  # noqa: E402
from tests.databases import throwaway_schema  # noqa: E402
from bench.load_setup import (  # noqa: E402
    Http,
    LoadSlack,
    LoadTeams,
    Workshop,
    control_app,
    new_workshop,
    set_up_slack,
    set_up_teams,
    take_calls,
)
from bench.load_traffic import Job, Planned, Report, Sample, Senders, plan  # noqa: E402
from bench.slack_ack import serve  # noqa: E402
from bot.store.outbox import OutboxState  # noqa: E402
from bot.store.tables import AmbitionRow, OutboxRow, SmartGoalRow, VoteRow  # noqa: E402

SERVER = Path(__file__).resolve().parent / "load_server.py"
ACK_SECONDS = 3.0  # Slack's limit
GOAL_P99 = 0.100
GOAL_RATIO = 3.0
SETUP_AT_ONCE = 20  # workshops set up side by side


# --- the database ------------------------------------------------------------------------------

@contextmanager
def database(url: str, folder: Path) -> Iterator[str]:
    """SQLite in `folder`, or a throwaway schema on PostgreSQL, dropped afterwards."""
    if not url:
        yield f"sqlite:///{folder}/load.sqlite3"
        return
    with throwaway_schema(url, "bench_load_") as schema_url:
        yield schema_url


# --- the servers, each a process of its own --------------------------------------------------

class Server:
    def __init__(self, process: asyncio.subprocess.Process, url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def complaints(self) -> list[str]:
        """The warnings and errors it logged, one line each."""
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if " WARNING " in line or " ERROR " in line or line.startswith("Traceback")]


async def start_server(which: str, folder: Path, *arguments: str, env: dict[str, str] | None = None) -> Server:
    log = folder / f"{which}.log"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER), which, *arguments, stdout=subprocess.PIPE, stderr=log.open("w"),
        env={**os.environ, **(env or {})})
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode().strip()
    except TimeoutError:
        line = ""
    if not line.startswith("listening "):
        raise RuntimeError(f"the {which} server did not start: {log.read_text()[-2000:]}")
    return Server(process, line.removeprefix("listening "), log)


@asynccontextmanager
async def control(slack: LoadSlack, teams: LoadTeams) -> AsyncIterator[str]:
    runner, url = await serve(control_app(slack, teams))
    try:
        yield url.removesuffix("/slack/events")
    finally:
        await runner.cleanup()


# --- setting up ------------------------------------------------------------------------------

async def set_up(count: int, bot: Server, slack: LoadSlack, teams: LoadTeams) -> list[Workshop]:
    workshops = [new_workshop(n, "slack" if n % 2 == 0 else "teams") for n in range(count)]
    at_once = asyncio.Semaphore(SETUP_AT_ONCE)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        http = Http(session, bot.url)

        async def one(ws: Workshop) -> None:
            async with at_once:
                if ws.platform == "slack":
                    await set_up_slack(ws, slack, http)
                else:
                    await set_up_teams(ws, teams, http)

        await asyncio.gather(*(one(ws) for ws in workshops))
    return workshops


async def drained(store: Store, timeout: float) -> float | None:
    """Seconds until the outbox has nothing left to deliver (None: not within `timeout`)."""
    started = time.monotonic()
    while await asyncio.to_thread(store.outbox.backlog):
        if time.monotonic() - started > timeout:
            return None
        await asyncio.sleep(0.5)
    return time.monotonic() - started


# --- figures -------------------------------------------------------------------------------------

BURST_SECONDS = 30
FORMS = frozenset({"ambition", "goal"})  # the kinds of request that submit a form


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def row(label: str, samples: Sequence[Sample], seconds: float) -> str:
    answered = [s.seconds for s in samples if s.status]
    ok = [s for s in samples if 200 <= s.status < 300]
    errors = len(samples) - len(ok)
    timeouts = sum(1 for s in samples if not s.status)
    in_time = sum(1 for s in ok if s.seconds <= ACK_SECONDS) / len(samples) if samples else 0.0
    if not answered:
        return f"{label:<30} {len(samples):6d} requests · no answers"
    return (f"{label:<30} {len(samples):6d} requests ({len(samples) / seconds:5.1f}/s) · errors {errors} "
            f"(timeouts {timeouts}) · within 3 s {in_time:7.3%} · p50 {ms(statistics.median(answered))} · "
            f"p99 {ms(percentile(answered, 0.99))} · max {ms(max(answered))}")


def kinds(samples: Sequence[Sample]) -> list[str]:
    """p50 / p99 per platform and kind of request: where the slow ones are."""
    lines = []
    for platform in ("slack", "teams"):
        for kind in sorted({s.kind for s in samples if s.platform == platform}):
            sent = [s for s in samples if s.platform == platform and s.kind == kind]
            times = [s.seconds for s in sent if s.status]
            if times:
                lines.append(f"    {platform:<6}{kind:<14} {len(times):6d} answered of {len(sent):6d} · "
                             f"p50 {ms(statistics.median(times))} · p99 {ms(percentile(times, 0.99))} · "
                             f"max {ms(max(times))}")
    return lines


def lag(report: Report) -> str:
    lags = [s.lag for s in report.samples]
    return f"sent late by p50 {ms(statistics.median(lags))} · p99 {ms(percentile(lags, 0.99))} · max {ms(max(lags))}"


def outbox_mark(store: Store) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.max(OutboxRow.id))) or 0


def outbox_since(store: Store, mark: int) -> tuple[int, Counter[str]]:
    """How many effects were stored after `mark`, and those still waiting by kind (the codec
    writes each as {"$":"<kind>",…})."""
    kind = func.substr(OutboxRow.payload, 7, 16)
    with store.sessions() as session:
        made = session.scalar(select(func.count()).where(OutboxRow.id > mark)) or 0
        rows = session.execute(select(kind, func.count()).where(
            OutboxRow.delivered_at.is_(None), OutboxRow.failed_at.is_(None)).group_by(kind))
        return made, Counter({str(name).partition('"')[0]: count for name, count in rows})


def stored(store: Store) -> str:
    """What the load left in the database: dots, ambition sentences and goals."""
    with store.sessions() as session:
        votes, ambitions, goals = (session.scalar(select(func.count()).select_from(table))
                                   for table in (VoteRow, AmbitionRow, SmartGoalRow))
    return f"stored: {votes} dots, {ambitions} ambition sentences, {goals} SMART goals"


# --- the run -------------------------------------------------------------------------------------

@dataclass
class Ours:
    """What the bot's turn measured, besides the requests' times."""

    report: Report
    cpu: dict[str, float]  # seconds, by process
    outbox: OutboxState  # when the load stopped
    made: int  # effects stored during the load
    waiting: Counter[str]  # by kind, when the load stopped
    drain: float | None  # seconds until nothing was left (None: not within --drain-minutes)
    left: int  # waiting after --drain-minutes, if it did not drain


async def run(url: str, folder: Path, options: argparse.Namespace) -> None:
    seconds, bare_seconds = options.minutes * 60, min(options.bare_minutes, options.minutes) * 60
    senders = Senders()  # first: the process takes a moment to import
    with LoadSlack() as slack, LoadTeams() as teams:
        env = {"REQUESTS_CA_BUNDLE": teams.ca_file}  # requests, under MSAL and msrest, trust the fake
        bot = await start_server("bot", folder, "--slack-api", slack.url, "--teams-fake-port", str(teams.port),
                                 "--database-url", url, env=env)
        store = open_store(url, migrate=False)  # the bot made the schema
        try:
            async with control(slack, teams) as control_url:
                begun = time.monotonic()
                workshops = await set_up(options.workshops, bot, slack, teams)
                await drained(store, options.drain_minutes * 60)
                print(f"set up {len(workshops)} workshops to phase 2 through the endpoints in "
                      f"{time.monotonic() - begun:.0f} s", flush=True)
                take_calls(slack), take_calls(teams)
                slack.set_up()
                teams.set_up()
                planned = plan(workshops, seconds, options.think)
                _print_setup(store, workshops, planned, seconds, options)
                job = Job(workshops, planned, bot.url, control_url, SECRET,
                          teams.sign_activity(teams.channel_message("status")), teams.port,
                          only_slack=options.only_slack)
                bare = replace(job, planned=[p for p in planned if p[0] < bare_seconds], teams_authorization="",
                               only_slack=True, bare=True)
                bare_report, bare_cpu = await measure_bare(senders, bare, folder, slack.url)
                take_calls(slack)
                ours = await measure_ours(senders, job, bot, store, seconds, options)
                _print(ours.report, bare_report, seconds, bare_seconds)
                _print_outbox(ours, seconds, options.drain_minutes)
                _print_cpu(ours.cpu, seconds, bare_cpu, bare_seconds)
                print(stored(store))
                calls = take_calls(slack) + take_calls(teams)
                print("the bot's calls to the fakes during and after the load: "
                      + ", ".join(f"{name} {count}" for name, count in calls.most_common()))
        finally:
            await bot.stop()
            store.close()
            senders.close()
        complaints = bot.complaints()
        print(f"the bot logged {len(complaints)} warnings or errors"
              + "".join(f"\n  {line[:240]}" for line in complaints[:8]))


async def measure_bare(senders: Senders, job: Job, folder: Path, slack_api: str) -> tuple[Report, float]:
    """The Slack stream against the minimal slack-bolt app; and the CPU seconds it used."""
    bare = await start_server("bare", folder, "--slack-api", slack_api)
    try:
        cpu = cpu_seconds(bare.process.pid)
        report = await senders.run(replace(job, bot_url=bare.url))
        return report, cpu_seconds(bare.process.pid) - cpu
    finally:
        await bare.stop()


async def measure_ours(senders: Senders, job: Job, bot: Server, store: Store, seconds: float,
                       options: argparse.Namespace) -> Ours:
    """The whole stream against the bot, then its outbox until drained."""
    profiler = _py_spy(bot, seconds, options.py_spy) if options.py_spy else None
    # serve forks its dispatcher, then its handling process (adapters/background.py)
    forked = zip(("its dispatcher", "its handling process"), sorted(children(bot.process.pid)), strict=False)
    processes = {"bot": bot.process.pid, **dict(forked),
                 "sender": senders.pid, "fakes and set-up (this one)": os.getpid()}
    mark = await asyncio.to_thread(outbox_mark, store)
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    report = await senders.run(job)
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in processes.items()}
    state = await asyncio.to_thread(store.outbox.state, datetime.now(UTC))
    made, waiting = await asyncio.to_thread(outbox_since, store, mark)
    drain = await drained(store, options.drain_minutes * 60)
    left = await asyncio.to_thread(store.outbox.backlog) if drain is None else 0
    if profiler is not None:
        profiler.wait()
    return Ours(report, cpu, state, made, waiting, drain, left)


def _print_setup(store: Store, workshops: list[Workshop], planned: list[Planned], seconds: float,
                 options: argparse.Namespace) -> None:
    per = Counter(workshops[p[1]].platform for p in planned)
    print(f"database: {store.engine.url.render_as_string()} · {len(workshops)} workshops "
          f"({sum(1 for w in workshops if w.platform == 'slack')} Slack, "
          f"{sum(1 for w in workshops if w.platform == 'teams')} Teams) × 22 people · "
          f"{options.minutes:g} min · offered {len(planned) / seconds:.0f} requests/s "
          f"(Slack {per['slack'] / seconds:.0f}/s, Teams {per['teams'] / seconds:.0f}/s; "
          f"one action per person every {options.think:g} s on average)"
          + (" · --only-slack: the bot gets only the Slack workshops' requests" if options.only_slack else ""))
    print(f"setup: bot in its own process (bench/load_server.py, wired as `ambition-bot serve`, "
          f"scheduler on, production pacing), sender in its own process (one aiohttp session), "
          f"fakes of Slack and Microsoft in this one · load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores before the run", flush=True)


def _print_outbox(ours: Ours, seconds: float, drain_minutes: float) -> None:
    state = ours.outbox
    print(f"outbox when the load stopped: {state.waiting} waiting ({state.retrying} being retried, "
          f"{state.set_aside} set aside, oldest {state.oldest_seconds:.0f} s); "
          + (f"drained {ours.drain:.1f} s later" if ours.drain is not None else
             f"{ours.left} still waiting {drain_minutes:g} min later (delivered "
             f"{(state.waiting - ours.left) / (drain_minutes * 60):.0f}/s meanwhile)"))
    print(f"  the load made {ours.made} effects ({ours.made / seconds:.0f}/s); waiting when it stopped: "
          + ", ".join(f"{name} {count}" for name, count in ours.waiting.most_common()))
    if state.last_error:
        print(f"  newest error: {state.last_error[:300]}")


def _print_cpu(cpu: dict[str, float], seconds: float, bare_cpu: float, bare_seconds: float) -> None:
    print(f"CPU during the load ({seconds:.0f} s, {os.cpu_count()} cores): "
          + ", ".join(f"{name} {used:.0f} s ({used / seconds:.0%} of a core)" for name, used in cpu.items())
          + f"; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"  the minimal slack-bolt app used {bare_cpu:.0f} s ({bare_cpu / bare_seconds:.0%} of a core) "
          f"for its {bare_seconds:.0f} s")


def _print(report: Report, bare: Report, seconds: float, bare_seconds: float) -> None:
    ours = report.samples
    slack = [s for s in ours if s.platform == "slack"]
    print(row("ambition-bot, Slack", slack, seconds))
    print(row("ambition-bot, Teams", [s for s in ours if s.platform == "teams"], seconds))
    print(row("ambition-bot, both", ours, seconds))
    # Every facilitator types `næste` at half time, at once: 100 phase changes that redraw every
    # card. Apart, what that burst costs the requests around it, and what the rest see.
    half = seconds / 2
    burst = [s for s in ours if half <= s.at < half + BURST_SECONDS]
    print(row(f"  in the {BURST_SECONDS} s from half time", burst, BURST_SECONDS))
    rest = [s for s in ours if not half <= s.at < half + BURST_SECONDS]
    print(row("  the rest of the run", rest, seconds - BURST_SECONDS))
    print("\n".join(kinds(ours)))
    print(row("minimal slack-bolt (ack only)", bare.samples, bare_seconds))
    print("\n".join(kinds(bare.samples)))
    mine = [s.seconds for s in slack if s.status]
    theirs = [s.seconds for s in bare.samples if s.status]
    if mine and theirs:
        p50, p99 = statistics.median(mine) / statistics.median(theirs), percentile(mine, 0.99) / percentile(theirs, 0.99)
        every = [s.seconds for s in ours if s.status]
        print(f"Slack, ours over bare slack-bolt: p50 {p50:.1f}×, p99 {p99:.1f}× (goal: within {GOAL_RATIO:g}×) · "
              f"our p99 over both endpoints {ms(percentile(every, 0.99)).strip()} (goal: under {GOAL_P99 * 1000:.0f} ms)")
        # A form's answer carries its errors, so it waits for the engine; the rest are answered
        # once kept. Apart, how far each is from the bare app's answer to the same requests.
        for label, forms in (("forms", True), ("the rest", False)):
            own = [s.seconds for s in slack if s.status and (s.kind in FORMS) == forms]
            base = [s.seconds for s in bare.samples if s.status and (s.kind in FORMS) == forms]
            if own and base:
                print(f"  Slack {label} ({len(own)}): ours p50 {ms(statistics.median(own)).strip()}, p99 "
                      f"{ms(percentile(own, 0.99)).strip()}; over bare p50 "
                      f"{statistics.median(own) / statistics.median(base):.1f}×, p99 "
                      f"{percentile(own, 0.99) / percentile(base, 0.99):.1f}×")
    print(f"sender: ours {lag(report)}; bare {lag(bare)}")
    if report.missing_cards or report.no_goals:
        print(f"  {report.missing_cards} Teams presses or form submissions found their card not shown yet (sent "
              f"as drawn, with an unknown card id); {report.no_goals} backings found no goal shown yet (sent "
              f"`status` instead)")


def children(pid: int) -> list[int]:
    return [int(p) for task in Path(f"/proc/{pid}/task").iterdir() for p in (task / "children").read_text().split()]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _py_spy(bot: Server, seconds: float, out: str) -> subprocess.Popen[bytes]:
    """py-spy on the bot for the length of the load: only the threads that hold the GIL."""
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen([str(spy), "record", "--gil", "--subprocesses", "--format", "raw", "--rate", "50", "--duration",
                             str(int(seconds)), "--pid", str(bot.process.pid), "--output", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--workshops", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    parser.add_argument("--think", type=float, default=8, help="seconds between one person's actions, on average")
    parser.add_argument("--bare-minutes", type=float, default=None,
                        help="of the same stream sent to the minimal slack-bolt app (default: --minutes)")
    parser.add_argument("--drain-minutes", type=float, default=15,
                        help="how long to wait for the outbox to drain after the load")
    parser.add_argument("--only-slack", action="store_true",
                        help="send the bot only the Slack workshops' requests, as the bare app gets: request "
                             "for request the same work, with no Teams traffic on the same cores")
    parser.add_argument("--py-spy", default="", help="record the bot with py-spy --gil into this file (raw)")
    options = parser.parse_args()
    if options.bare_minutes is None:
        options.bare_minutes = options.minutes
    with tempfile.TemporaryDirectory() as folder, database(options.database_url, Path(folder)) as url:
        asyncio.run(run(url, Path(folder), options))


if __name__ == "__main__":
    main()
