"""The crash soak of issue #8, short: `serve` killed with SIGKILL three times at random moments
while a Slack and a Teams workshop run through it, on SQLite and (with TEST_DATABASE_URL) on
PostgreSQL. The long run is `python -m tests.soak.crash --kills 50`.

Phases are short here, the clock fast and the deliverers unpaced (the fakes take any pace),
so that a whole workshop takes seconds; one phase keeps 20 minutes, to be owed its 10-minute
reminder too. Set SOAK_SEED to replay a run's kills (the seed is in every failure's message).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from adapters.app import PlatformRouter, open_store, start_runtime
from adapters.config import Settings
from bot.domain.model import Phase
from bot.store.repository import SqlWorkshops
from bot.store.tables import WorkshopRow
from tests.e2e.slack_driver import SlackWorkspace
from tests.soak.crash import Options, serve_environment, soak
from tests.soak.process import Serve, free_port
from tests.soak.remote import Link, RemoteTeams, SoakTeamsService
from tests.soak.script import MEASURES, TeamsRun

KILLS = 3
SHORT = {Phase.INTRO: 20, Phase.AMBITIONS: 6, Phase.AMBITIONS_PLENUM: 6, Phase.BREAK: 1,
         Phase.SMART_GOALS: 6, Phase.GOALS_PLENUM: 6, Phase.WRAP_UP: 6}


async def test_serve_killed_at_random_loses_nothing_and_sends_nothing_twice(database_url: str,
                                                                             tmp_path: Path) -> None:
    seed = int(os.environ.get("SOAK_SEED") or random.randrange(1_000_000))
    options = Options(kills=KILLS, database_url=database_url, own_schema=False, seed=seed,
                      min_gap=0.5, max_gap=3.0, time_scale=240, durations=SHORT, paced=False,
                      workdir=tmp_path)
    report = await soak(options)
    said = "\n".join(report.lines())
    findings = report.findings
    assert not report.failure, said
    assert report.kills == KILLS, said
    assert findings.lost == [] and findings.inputs > 0, said
    assert findings.violations == [], said
    assert findings.duplicates == [], said
    assert findings.undelivered == [], said
    assert findings.timer_problems == [] and findings.timers_fired == findings.timers_owed > 0, said
    assert findings.unfinished == [], said


def test_a_restart_under_bot_time_scale_does_not_turn_the_workshop_clock_back(tmp_path: Path) -> None:
    """What the soak sees as a phase whose end comes late after each restart, by about as long
    as the killed process had run: its timers were set on a clock that ran ahead of real time,
    and the new process's clock starts at real time again (adapters/app.start_runtime)."""
    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        database_url=f"sqlite:///{tmp_path / 'clock.sqlite3'}", bot_time_scale=600)
    store = open_store(settings.database_url)
    try:
        first = start_runtime(store, settings, False, PlatformRouter({}))
        time.sleep(1)  # ten workshop minutes
        stored = first.clock.now()  # what the process stamps a phase's start and end with
        first.stop()  # SIGKILL or not: nothing of the clock is kept
        second = start_runtime(store, settings, False, PlatformRouter({}))
        try:
            assert second.clock.now() >= stored, (
                f"the clock went back {stored - second.clock.now()} across the restart")
        finally:
            second.stop()
    finally:
        store.close()


async def test_a_form_saved_as_serve_is_killed_loses_its_button_once_teams_sends_it_again(
        tmp_path: Path) -> None:
    """The submission is stored, then the turn redraws the card (without its button) before
    answering Teams; the process dies in between. Teams sends the activity again, the bot
    knows it (a duplicate: nothing is saved twice) and answers, but nobody redraws the card: it
    keeps its Save button, as if nothing had been saved (adapters/teams/app.TeamsBot.on_turn)."""
    with _serving(tmp_path, "form.sqlite3") as (serve, teams_fake):
        async with aiohttp.ClientSession() as session:
            await serve.healthy(session)
            teams = RemoteTeams(Link(serve, session), teams_fake)
            run = TeamsRun(teams, 1, "form")
            await run.say(run.facilitator, run.plenum, f"ny {run.expected.title}")
            await run.press(run.facilitator, run.plenum, "setup_measures")
            card = teams.form(run.facilitator)
            teams_fake.fail_next("update", timeout=30, times=3)  # the redraw hangs: the turn is open
            saving = asyncio.create_task(teams.fill(run.facilitator, {"measures": list(MEASURES)}, settle=False))
            await _until(lambda: any(c.route == "update" and c.activity_id == card.id and c.status == 0
                                     for c in teams_fake.calls))
            teams_fake.recover()
            serve.kill()
            serve.start()  # the driver sends the activity again once /healthz answers
            await saving
            await teams.settle()
            assert _measures_saved(tmp_path / "form.sqlite3"), "the submission itself was lost"
            assert teams.current(card).submits() == [], "the saved form card still has its button"


@contextmanager
def _serving(tmp_path: Path, database: str) -> Iterator[tuple[Serve, SoakTeamsService]]:
    """serve on a SQLite file, unpaced, beside fakes of Slack and Teams; stopped at the end."""
    slack_fake, teams_fake = SlackWorkspace().start(), SoakTeamsService().start()
    port = free_port()
    serve = Serve(serve_environment(f"sqlite:///{tmp_path / database}", port, slack_fake, teams_fake,
                                    60, paced=False), tmp_path, port)
    serve.start()
    try:
        yield serve, teams_fake
    finally:
        serve.stop()
        slack_fake.stop()
        teams_fake.stop()


async def _until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition never held")
        await asyncio.sleep(0.05)


def _measures_saved(path: Path) -> bool:
    store = open_store(f"sqlite:///{path}", migrate=False)
    try:
        with store.sessions() as session:
            loaded = [SqlWorkshops(session).get(i) for i in session.scalars(select(WorkshopRow.id))]
        return any(ws is not None and set(ws.measures) == set(MEASURES) for ws in loaded)
    finally:
        store.close()


def _children(pid: int) -> set[int]:
    return {int(p) for task in Path(f"/proc/{pid}/task").iterdir()
            for p in (task / "children").read_text().split()}


def _running(pid: int) -> bool:
    """Alive, and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_killed_server_leaves_no_process_of_its_own_behind(tmp_path: Path) -> None:
    """serve delivers the outbox, and handles events, in processes of its own
    (adapters/background.py). A dispatcher left running after its server was killed would
    deliver beside the restarted server's, under the same name: the same message twice; a
    handling process would run the timers twice."""
    with _serving(tmp_path, "kill.sqlite3") as (serve, _):
        async with aiohttp.ClientSession() as session:
            await serve.healthy(session)
            assert serve.pid is not None
            children = _children(serve.pid)
            assert len(children) == 2, f"serve started {len(children)} processes, not a dispatcher and a handler"
            serve.kill()
            await _until(lambda: not any(map(_running, children)), timeout=5)


@pytest.mark.parametrize("dead", ["dispatcher", "handling"])
async def test_a_server_whose_own_process_died_says_it_is_unhealthy(tmp_path: Path, dead: str) -> None:
    """It would go on answering clicks (keeping them) that nothing handles, or whose messages
    nothing delivers; unhealthy, its supervisor restarts it, and the next start takes up what
    was kept."""
    with _serving(tmp_path, "lost.sqlite3") as (serve, _):
        async with aiohttp.ClientSession() as session:
            await serve.healthy(session)
            assert serve.pid is not None
            dispatcher, handling = sorted(_children(serve.pid))  # forked in that order
            os.kill(dispatcher if dead == "dispatcher" else handling, signal.SIGKILL)

            async def status() -> int:
                async with session.get(f"{serve.url}/healthz") as response:
                    return response.status

            deadline = time.monotonic() + 10
            while await status() == 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert await status() == 503
