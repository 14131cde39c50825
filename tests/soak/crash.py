"""The crash soak (issue #8): `ambition-bot serve` is killed with SIGKILL at random moments
while scripted workshops drive it through its Slack and Teams endpoints, and started again at
once; the workshops go on. Afterwards: no acknowledged input lost, no effect delivered twice,
every phase timer said its piece once, every workshop at its end.

    python -m tests.soak.crash --kills 50 [--database-url URL] [--seed N]

The fakes of Slack's Web API and of the Bot Connector run in this process, so they outlive the
kills. Workshops are played in rounds, a Slack one and a Teams one at a time, until the kills
are done. With a PostgreSQL URL the soak works in a schema of its own, made and dropped here.
Prints its figures; the exit code is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from adapters.app import open_store
from bot.domain.model import Phase
from tests.databases import throwaway_schema
from tests.e2e.slack_driver import SECRET, SlackWorkspace
from tests.e2e.teams_driver import TeamsService
from tests.fakes.slack_api import TOKEN
from tests.fakes.teams_api import APP_ID, APP_PASSWORD, TENANT_ID
from tests.soak.checks import Findings, check
from tests.soak.process import Serve, free_port, snapshot
from tests.soak.remote import Link, RemoteSlack, RemoteTeams, SoakTeamsService, Traffic
from tests.soak.script import DURATIONS, MEASURES, PEOPLE, SlackRun, TeamsRun, WorkshopRun
from tests.soak.serve import PORT_VARIABLE, UNPACED_VARIABLE

PLATFORMS = ("slack", "teams")
MAX_ROUNDS = 100  # a guard: rounds go on only while kills are still to come


@dataclass
class Options:
    kills: int = 50
    database_url: str = ""  # "": a SQLite file in the working directory
    own_schema: bool = True  # PostgreSQL: work in a schema made (and dropped) for the soak
    seed: int = field(default_factory=lambda: random.randrange(1_000_000))
    min_gap: float = 1.0  # seconds from /healthz answering to the next kill
    max_gap: float = 10.0
    time_scale: float = 120.0  # BOT_TIME_SCALE; the scheduler polls each second, so a reminder is
    # up to scale/60 workshop minutes late, and must stay well within the 5 minutes between marks
    measures: tuple[str, ...] = MEASURES
    durations: Mapping[Phase, int] = field(default_factory=lambda: dict(DURATIONS))
    people: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(PEOPLE))
    workdir: Path | None = None  # None: a temporary directory, removed unless the soak failed
    platforms: tuple[str, ...] = PLATFORMS
    paced: bool = True  # False: no spacing of messages per conversation (tests/soak/serve.py)


@dataclass
class Report:
    options: Options
    database: str = ""
    kills: int = 0
    downtimes: list[float] = field(default_factory=list)
    rounds: int = 0
    traffic: Traffic = field(default_factory=Traffic)
    error_bodies: list[str] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    failure: str = ""  # what stopped the script, if anything did
    elapsed: float = 0.0
    log: Path | None = None
    step_seconds: dict[str, float] = field(default_factory=dict)  # summed over the workshops

    @property
    def ok(self) -> bool:
        return not self.failure and self.findings.ok and self.kills >= self.options.kills

    def lines(self) -> list[str]:
        t, f, o = self.traffic, self.findings, self.options
        down = (f", down {sum(self.downtimes):.1f} s in all, longest {max(self.downtimes):.1f} s"
                if self.downtimes else "")
        return [
            f"crash soak: seed {o.seed}, {self.database}, BOT_TIME_SCALE={o.time_scale:g}, "
            f"kill {o.min_gap:g}-{o.max_gap:g} s after each start"
            + ("" if o.paced else ", unpaced"),
            f"kills survived: {self.kills}{down}",
            f"workshops: {self.rounds} rounds of {' and '.join(o.platforms)}, "
            f"unfinished {len(f.unfinished)}",
            f"requests sent: {t.sent}, accepted (2xx): {t.accepted}, unanswered (killed): {t.unanswered}, "
            f"answered 5xx: {t.errors}, needed a retry: {t.retried}; waited {t.request_seconds:.0f} s for "
            f"answers, {t.settle_seconds:.0f} s for deliveries (summed over workshops)",
            f"effects delivered: {f.effects} outbox items; {f.messages} messages at the platforms, "
            f"{f.identified} naming their outbox item",
            f"duplicates: {len(f.duplicates)}; Teams messages sent again after a kill cut off "
            f"their answer (logged, the connector cannot be asked): {len(f.sent_again)}",
            f"inputs acknowledged: {f.inputs}, lost: {len(f.lost)}",
            f"invariant violations: {len(f.violations)}",
            f"undelivered at the end: {len(f.undelivered)}",
            f"timers owed: {f.timers_owed}, fired once: {f.timers_fired}, problems: {len(f.timer_problems)}; "
            f"reminders that fired late, due while serve was down: {f.reminders_late}",
            f"elapsed: {self.elapsed:.1f} s (steps, summed over workshops: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in self.step_seconds.items()) + ")",
            *(f"  FAILED: {self.failure}" for _ in [0] if self.failure),
            *(f"  lost: {x}" for x in f.lost), *(f"  violation: {x}" for x in f.violations),
            *(f"  duplicate: {x}" for x in f.duplicates), *(f"  sent again: {x}" for x in f.sent_again), *(f"  undelivered: {x}" for x in f.undelivered),
            *(f"  timer: {x}" for x in f.timer_problems), *(f"  unfinished: {x}" for x in f.unfinished),
            *(f"  5xx: {x}" for x in self.error_bodies[:10]),
            *(f"  serve's log: {self.log}" for _ in [0] if self.log and not self.ok),
        ]


# --- the database -------------------------------------------------------------------------


@contextmanager
def database(options: Options, workdir: Path) -> Iterator[str]:
    """The URL serve and the checks use: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if not options.database_url:
        yield f"sqlite:///{workdir / 'soak.sqlite3'}"
        return
    if options.database_url.startswith("sqlite") or not options.own_schema:
        yield options.database_url
        return
    with throwaway_schema(options.database_url, "soak_") as url:
        yield url


def describe(url: str) -> str:
    return "SQLite" if url.startswith("sqlite") else "PostgreSQL"


# --- the soak -----------------------------------------------------------------------------


def serve_environment(url: str, port: int, slack: SlackWorkspace, teams: TeamsService,
                      scale: float, paced: bool = True) -> dict[str, str]:
    return {UNPACED_VARIABLE: "0" if paced else "1", "DATABASE_URL": url, "BOT_LANGUAGE": "da", "BOT_TIMEZONE": "Europe/Copenhagen",
            "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.url,
            "MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": APP_PASSWORD,
            "MICROSOFT_APP_TENANT_ID": TENANT_ID, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "BOT_TIME_SCALE": f"{scale:g}", "REQUESTS_CA_BUNDLE": teams.ca_file,
            PORT_VARIABLE: str(teams.port)}


async def kill_at_random(serve: Serve, session: aiohttp.ClientSession, rng: random.Random,
                         options: Options, done: asyncio.Event, report: Report) -> None:
    """Kill `options.kills` times, each a random while after the process answered /healthz,
    and start it again at once."""
    while report.kills < options.kills:
        try:
            await asyncio.wait_for(done.wait(), rng.uniform(options.min_gap, options.max_gap))
            return  # the script ended first
        except TimeoutError:
            pass
        report.downtimes.append(await serve.restart(session))
        report.kills += 1


async def play_rounds(link: Link, slack: SlackWorkspace, teams: TeamsService, options: Options,
                      report: Report, runs: list[WorkshopRun]) -> None:
    """Rounds of a Slack and a Teams workshop side by side, until the kills are done."""
    tag = str(options.seed)
    for number in range(1, MAX_ROUNDS + 1):
        pair: list[WorkshopRun] = []
        if "slack" in options.platforms:
            pair.append(SlackRun(RemoteSlack(link, slack), number, tag, measures=options.measures,
                                 durations=options.durations, people=options.people))
        if "teams" in options.platforms:
            pair.append(TeamsRun(RemoteTeams(link, teams), number, tag, measures=options.measures,
                                 durations=options.durations, people=options.people))
        runs += pair
        report.rounds = number
        try:
            await asyncio.gather(*(run.play() for run in pair))
        finally:
            for run in pair:
                for step, seconds in run.timings.items():
                    report.step_seconds[step] = report.step_seconds.get(step, 0.0) + seconds
        if report.kills >= options.kills:
            return


async def soak(options: Options) -> Report:
    report = Report(options)
    began = time.monotonic()
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="crash-soak-"))
    slack, teams = SlackWorkspace().start(), SoakTeamsService().start()
    runs: list[WorkshopRun] = []
    try:
        with database(options, workdir) as url:
            report.database = describe(url)
            port = free_port()
            code = snapshot(workdir / "code")
            serve = Serve(serve_environment(url, port, slack, teams, options.time_scale, options.paced),
                          workdir, port, code)
            report.log = serve.log
            await _run(serve, slack, teams, options, report, runs)
            store = open_store(url, migrate=False)
            try:
                report.findings = check(store, runs, slack, teams, serve.log)
            finally:
                store.close()
    finally:
        slack.stop()
        teams.stop()
        report.elapsed = time.monotonic() - began
    if options.workdir is None and report.ok:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


async def _run(serve: Serve, slack: SlackWorkspace, teams: TeamsService, options: Options,
               report: Report, runs: list[WorkshopRun]) -> None:
    rng = random.Random(options.seed)
    serve.start()
    try:
        async with aiohttp.ClientSession() as session:
            await serve.healthy(session)
            link = Link(serve, session)
            done = asyncio.Event()
            killer = asyncio.create_task(kill_at_random(serve, session, rng, options, done, report))
            play = asyncio.create_task(play_rounds(link, slack, teams, options, report, runs))
            # A process that cannot start again (the killer fails) ends the soak at once, rather
            # than leaving the script waiting for answers that cannot come
            await asyncio.wait([killer, play], return_when=asyncio.FIRST_EXCEPTION)
            if killer.done() and killer.exception() is not None:
                play.cancel()
            report.failure += await _outcome(play, "the script")
            done.set()
            report.failure += await _outcome(killer, "the killer")  # a restart under way finishes first
            if not report.failure:
                await link.settle()
            report.traffic, report.error_bodies = link.traffic, link.error_bodies
    finally:
        serve.stop()


async def _outcome(task: asyncio.Task[None], what: str) -> str:
    """"" if the task ended well, else what stopped it (the checks still say what was lost)."""
    try:
        await task
    except BaseException as error:  # noqa: BLE001 - a cancelled script is a failure too
        return f"{what}: {type(error).__name__}: {error}\n{traceback.format_exc(limit=6)}"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.crash", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="how many SIGKILLs (default 50)")
    parser.add_argument("--database-url", default="", help="PostgreSQL to soak on (in a schema of "
                        "its own); default: a SQLite file")
    parser.add_argument("--seed", type=int, default=None, help="the random seed (printed)")
    parser.add_argument("--min-gap", type=float, default=1.0, help="seconds after a start, at least")
    parser.add_argument("--max-gap", type=float, default=10.0, help="seconds after a start, at most")
    parser.add_argument("--time-scale", type=float, default=120.0, help="BOT_TIME_SCALE (default 120)")
    parser.add_argument("--platforms", default=",".join(PLATFORMS), help="slack,teams (default both)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the database and serve's log here")
    args = parser.parse_args(argv)
    options = Options(kills=args.kills, database_url=args.database_url, min_gap=args.min_gap,
                      max_gap=args.max_gap, time_scale=args.time_scale, workdir=args.workdir,
                      platforms=tuple(p.strip() for p in args.platforms.split(",") if p.strip()))
    if args.seed is not None:
        options.seed = args.seed
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"crash soak: seed {options.seed}, {options.kills} kills ...", flush=True)
    report = asyncio.run(soak(options))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
