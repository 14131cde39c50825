"""How many Teams activities a second the bot handles with its reply out, and how fast it answers.

    python bench/teams.py [--database-url URL] [--seconds 10] [--senders 32] [--rate 50] [--people 400]

Everything Microsoft does runs on loopback (tests/fakes/teams_api.py), with authentication on:
the Bot Connector signs each activity, and the bots get their own token from the fake Entra ID
and reply to the fake Bot Connector. Two bots, in the same run, each behind its own aiohttp
server:

- ambition-bot, the real stack (`build_app`, and the outbox dispatcher with the Teams
  deliverer): a workshop is in the ambitions phase and `people` different people take turns
  typing `@Ambition status` in the plenum channel, each in a new post. Each one loads the
  workshop and is answered privately: the answer goes out through the outbox as a direct
  message (made on the person's first status, in the warm-up);
- a minimal botbuilder CloudAdapter bot, the SDK's own authentication, that replies "ok" within
  its turn.

For each bot: the activities a second whose reply reached the fake Bot Connector, with
`senders` posting back to back for `seconds` (a closed loop; for ambition-bot, counted until
its outbox has sent the last reply), and beside it how many a second got their HTTP answer;
then the time to the HTTP answer, p50 / p99 / max, at a steady `rate` a second for `seconds`
(an open loop). The senders run in a process of their own, so that making requests does not
take the bots' CPU; the fake Microsoft shares the bots' process, as in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botbuilder.core import ActivityHandler, TurnContext  # noqa: E402
from botbuilder.integration.aiohttp import (  # noqa: E402
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from pydantic import SecretStr  # noqa: E402
from rich.console import Console  # noqa: E402

from adapters.app import (  # noqa: E402
    Store,
    build_service,
    open_store,
    plan_files,
    platforms,
    start_runtime,
)
from adapters.config import Settings  # noqa: E402
from adapters.console.chat import ConsoleChat  # noqa: E402
from adapters.console.files import PlanSaver  # noqa: E402
from adapters.server import build_app  # noqa: E402
from adapters.teams.auth import _SingleTenantCredentials, sdk_configuration  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from tests.fakes.teams_api import (  # noqa: E402
    APP_ID,
    APP_PASSWORD,
    CHANNEL,
    TENANT_ID,
    FakeTeamsApi,
    Person,
)

PLENUM = "teams:" + CHANNEL
FIRST_ID = 1_800_000_000_000  # above the fake's own activity ids (1_790_000_000_000 + n)
IDS_PER_JOB = 1_000_000
DRAIN_SECONDS = 30  # how long ambition-bot's outbox may take to send what it was given


# --- the senders, in a process of their own ----------------------------------------------------

@dataclass(frozen=True)
class Job:
    url: str
    authorization: str  # the Bot Connector's token: it names the service URL, not the activity
    activities: list[dict[str, Any]]  # one per person, sent in turn, each time with a fresh id
    first_id: int
    seconds: float = 0
    senders: int = 0  # closed loop: this many, each posting as soon as its last was answered
    count: int = 0  # closed loop: stop after this many instead of after `seconds`
    rate: float = 0  # open loop: this many a second, whatever the answers


# (posted at, answered at, HTTP status) in time.monotonic(), which is one clock for both
# processes and for the fake's record of each reply; status 0: no answer.
Sent = tuple[float, float, int]


def _sender_process(connection: Connection) -> None:
    while (job := connection.recv()) is not None:
        connection.send(asyncio.run(_send(job)))


async def _send(job: Job) -> list[Sent]:
    done: list[Sent] = []
    headers = {"Authorization": job.authorization, "Content-Type": "application/json"}

    def body(number: int) -> bytes:
        """A new top-level post, as Teams sends it: a thread of its own, whose id is the post's."""
        activity_id = str(job.first_id + number)
        template = job.activities[number % len(job.activities)]
        conversation = {**template["conversation"], "id": f"{CHANNEL};messageid={activity_id}"}
        return json.dumps({**template, "id": activity_id, "conversation": conversation}).encode()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def post(number: int) -> None:
            data = body(number)
            posted = time.monotonic()
            try:
                async with session.post(job.url, data=data, headers=headers) as response:
                    await response.read()
                    status = response.status
            except aiohttp.ClientError:
                status = 0
            done.append((posted, time.monotonic(), status))

        if job.senders:
            numbers = iter(range(IDS_PER_JOB))
            ends = time.monotonic() + job.seconds

            async def sender() -> None:
                while (number := next(numbers)) < (job.count or IDS_PER_JOB):
                    if not job.count and time.monotonic() >= ends:
                        return
                    await post(number)

            await asyncio.gather(*(sender() for _ in range(job.senders)))
        else:
            started, tasks = time.monotonic(), []
            for number in range(int(job.rate * job.seconds)):
                await asyncio.sleep(max(0.0, started + number / job.rate - time.monotonic()))
                tasks.append(asyncio.create_task(post(number)))
            await asyncio.gather(*tasks)
    return done


class Senders:
    """The sending process. Spawned, not forked: the bots' process runs threads already."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_sender_process, args=(child,), daemon=True)
        self._process.start()
        self._ids = iter(range(FIRST_ID, FIRST_ID + 1000 * IDS_PER_JOB, IDS_PER_JOB))

    async def run(self, job: Job) -> list[Sent]:
        """Run `job` with activity ids no earlier job used (the bot drops a repeated id)."""
        self._connection.send(replace(job, first_id=next(self._ids)))
        sent: list[Sent] = await asyncio.to_thread(self._connection.recv)
        return sent

    def close(self) -> None:
        self._connection.send(None)
        self._process.join(10)


# --- the two bots ------------------------------------------------------------------------------

class OkBot(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity("ok")


def minimal_bot(fake: FakeTeamsApi) -> web.Application:
    """The SDK's own authentication and CloudAdapter. Only the credentials are the bot's
    (adapters/teams/auth.py): as shipped, the SDK would ask login.microsoftonline.com whether
    the fake's login URL is an Entra ID instance, and fetch a new token on every turn."""
    authentication = ConfigurationBotFrameworkAuthentication(
        sdk_configuration(TENANT_ID, fake.endpoints()),
        credentials_factory=_SingleTenantCredentials(APP_ID, APP_PASSWORD, TENANT_ID))
    adapter, bot = CloudAdapter(authentication), OkBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        return await adapter.process(request, bot) or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/api/messages"


async def workshop_in_ambitions(store: Store, settings: Settings, folder: Path) -> None:
    """Set up through the engine, as the console does (its messages shown nowhere), in the
    Teams conversations the bench then writes in: three målepunkter, 12 people in groups."""
    clock = SystemClock()
    chat = ConsoleChat(build_service(store, clock, settings), store.outbox, clock,  # type: ignore[arg-type]
                       Console(file=io.StringIO()), "da", TENANT_ID, PlanSaver(plan_files(store, clock), folder))
    mette = "Mette"
    await chat.say(mette, PLENUM, "ny Bench")
    await chat.press(mette, PLENUM, "setup_measures")
    await chat.fill(mette, {"measures": "E-energi,S-tilfredshed,G-indkoeb"})
    for group in ("E", "S", "G"):
        await chat.say(mette, f"teams:19:{group}@thread.tacv2", f"gruppe {group}")
    await chat.press(mette, PLENUM, "start")
    for n in range(12):
        await chat.press(f"Deltager {n}", PLENUM, "interest", area="ESG"[n % 3])
    await chat.press(mette, PLENUM, "propose_split")
    await chat.press(mette, PLENUM, "approve_split")
    await chat.say(mette, PLENUM, "næste")
    assert not store.outbox.backlog(), "the set-up left messages undelivered"


# --- measuring ---------------------------------------------------------------------------------

class Replies:
    """The replies that reached the fake Bot Connector, by when they arrived."""

    def __init__(self, fake: FakeTeamsApi, route: str, mine: Callable[[str], bool]) -> None:
        self.fake, self.route, self.mine = fake, route, mine
        self.seen = 0  # how far into fake.calls (which only grows) is looked at
        self.arrived: list[float] = []

    def since(self, moment: float) -> list[float]:
        calls = self.fake.calls
        new, self.seen = calls[self.seen:len(calls)], len(calls)
        self.arrived += [call.at for call in new if call.route == self.route and call.status == 200
                         and self.mine(call.conversation_id)]
        return [at for at in self.arrived if at >= moment]

    async def wait(self, moment: float, expected: int) -> list[float]:
        """Those since `moment`, once `expected` are in or DRAIN_SECONDS have passed."""
        ends = time.monotonic() + DRAIN_SECONDS
        while len(found := self.since(moment)) < expected and time.monotonic() < ends:
            await asyncio.sleep(0.1)
        return found


@dataclass
class Figures:
    label: str
    with_reply: float  # activities a second whose reply arrived
    answered: float  # activities a second that got their HTTP answer
    latency: Sequence[float]  # seconds to the HTTP answer, at the steady rate

    def p99(self) -> float:
        ordered = sorted(self.latency)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def row(self) -> str:
        return (f"{self.label:<40} {self.with_reply:5.0f}/s with a reply ({self.answered:4.0f}/s answered) · "
                f"p50 {statistics.median(self.latency) * 1000:5.0f} ms · p99 {self.p99() * 1000:5.0f} ms · "
                f"max {max(self.latency) * 1000:5.0f} ms")


async def measure(label: str, senders: Senders, url: str, authorization: str,
                  activities: list[dict[str, Any]], replies: Replies, options: argparse.Namespace) -> Figures:
    closed = await senders.run(Job(url, authorization, activities, 0, options.seconds, senders=options.senders))
    answered = [sent for sent in closed if 200 <= sent[2] < 300]
    started = min(posted for posted, _, _ in closed)
    came = await replies.wait(started, len(answered))
    if len(came) < len(answered):
        print(f"  {label}: {len(answered) - len(came)} of {len(answered)} replies had not arrived "
              f"{DRAIN_SECONDS} s after the closed loop", file=sys.stderr)
    # The fake Microsoft keeps a record of every call, in the bots' process: thousands by now,
    # which a full garbage collection would scan (pauses of 70-200 ms were seen here, in both
    # bots' p99). Frozen, what exists so far is left out of collections; the bots' own
    # garbage from here on is still collected as usual.
    gc.freeze()
    steady = await senders.run(Job(url, authorization, activities, 0, options.seconds, rate=options.rate))
    timed = [sent for sent in steady if 200 <= sent[2] < 300]
    for what, run, ok in (("closed loop", closed, answered), ("steady rate", steady, timed)):
        if len(ok) < len(run):
            print(f"  {label}, {what}: {len(run) - len(ok)} of {len(run)} activities were refused", file=sys.stderr)
    await replies.wait(min(posted for posted, _, _ in steady), len(timed))  # before the next bot runs
    return Figures(label, len(came) / (max(came, default=started + 1) - started),
                   len(answered) / (max(done for _, done, _ in closed) - started),
                   [done - posted for posted, done, _ in timed])


async def run(url: str, options: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)  # a refused or failed activity is counted, not logged
    senders = Senders()  # first: the process takes a moment to import
    with FakeTeamsApi() as fake, tempfile.TemporaryDirectory() as folder:
        os.environ["REQUESTS_CA_BUNDLE"] = fake.ca_file  # requests, under MSAL and msrest, trusts the fake
        settings = Settings(_env_file=None, database_url=url, microsoft_app_id=APP_ID,
                            microsoft_app_password=SecretStr(APP_PASSWORD), microsoft_app_tenant_id=TENANT_ID)
        store = open_store(url)
        await workshop_in_ambitions(store, settings, Path(folder))
        runtime = start_runtime(store, settings, False,
                                deliver_to=platforms(store, settings, teams_endpoints=fake.endpoints()))
        bot_runner, bot_url = await serve(build_app(store, settings, runtime, teams_endpoints=fake.endpoints()))
        bare_runner, bare_url = await serve(minimal_bot(fake))

        crowd = [Person(f"29:1bench-{n:04}", f"Deltager {n}", f"aad-bench-{n:04}") for n in range(options.people)]
        activities = [fake.channel_message("status", person=person) for person in crowd]
        authorization = fake.sign_activity(activities[0])  # valid for an hour, as the Bot Connector's
        direct_chats = {fake.personal_conversation_id(person) for person in crowd}
        ours = Replies(fake, "send", direct_chats.__contains__)
        theirs = Replies(fake, "reply", lambda conversation: conversation.split(";")[0] == CHANNEL)
        load = os.getloadavg()[0]
        print(f"database: {store.engine.url.render_as_string()} · loopback, authentication on · "
              f"{options.people} people type \"@Ambition status\" in turn · {options.senders} senders for "
              f"{options.seconds:g} s, then {options.rate:g}/s for {options.seconds:g} s · "
              f"load average {load:.1f} on {os.cpu_count()} cores")

        # Warm-up: tokens, signing keys, connections; for ambition-bot also each person's direct
        # chat, made on their first reply, so that the runs measure the steady state.
        warm = await senders.run(Job(bot_url, authorization, activities, 0, senders=options.senders,
                                     count=options.people))
        await ours.wait(min(posted for posted, _, _ in warm), options.people)
        await senders.run(Job(bare_url, authorization, activities, 0, senders=options.senders, count=100))

        minimal = await measure("minimal CloudAdapter bot (replies \"ok\")", senders, bare_url, authorization,
                                activities, theirs, options)
        bot = await measure("ambition-bot (status, reply via outbox)", senders, bot_url, authorization,
                            activities, ours, options)
        print(minimal.row())
        print(bot.row())
        print(f"ambition-bot: {bot.with_reply / minimal.with_reply:.1f}× the minimal bot's activities a second "
              f"with a reply; p99 {bot.p99() * 1000:.0f} ms at {options.rate:g}/s")

        senders.close()
        await bot_runner.cleanup()
        await bare_runner.cleanup()
        runtime.stop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    parser.add_argument("--seconds", type=float, default=10, help="of the closed loop, and of the steady rate")
    parser.add_argument("--senders", type=int, default=32, help="posting back to back in the closed loop")
    parser.add_argument("--rate", type=float, default=50, help="activities a second at the steady rate")
    parser.add_argument("--people", type=int, default=400,
                        help="taking turns (Teams takes about two messages a second per chat)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(options.database_url or f"sqlite:///{folder}/bench.sqlite3", options))


if __name__ == "__main__":
    main()
