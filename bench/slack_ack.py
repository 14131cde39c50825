"""How fast Slack gets its answer when 200 people click at once.

    python bench/slack_ack.py [--database-url URL] [--clicks 200]

A workshop is in phase 1; `clicks` different people press "I would like group E" at the same
moment, each a signed block_actions request to `POST /slack/events` on loopback. The bot
answers after the click is stored (so nothing is lost if it dies the next instant). Next to
it, in the same run, a minimal slack-bolt app that only acknowledges gets the same burst.
Prints the time to the HTTP answer, p50 / p99 / max, for both; Slack gives up after 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import aiohttp
from aiohttp import web
from rich.console import Console
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import SignatureVerifier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.app import PlatformRouter, build_service, open_store, plan_files, start_runtime  # noqa: E402
from adapters.config import Settings  # noqa: E402
from adapters.console.chat import ConsoleChat  # noqa: E402
from adapters.console.files import PlanSaver  # noqa: E402
from adapters.server import build_app  # noqa: E402
from adapters.slack.app import slack_client  # noqa: E402
from adapters.slack.render import button_value  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.ui import Button  # noqa: E402
from tests.fakes.slack_api import FakeSlackApi  # noqa: E402

SECRET = "bench-signing-secret"
TEAM = "T-bench"


async def workshop_in_phase_one(chat: ConsoleChat) -> Button:
    """Set up through the engine (as the console does) and return the interest button."""
    mette = "Mette"
    await chat.say(mette, "slack:C-plenum", "ny Bench")
    await chat.press(mette, "slack:C-plenum", "setup_measures")
    await chat.fill(mette, {"measures": "E-energi,S-tilfredshed,G-indkoeb"})
    for group in ("E", "S", "G"):
        await chat.say(mette, f"slack:C-{group}", f"gruppe {group}")
    await chat.press(mette, "slack:C-plenum", "start")
    found = chat.deliverer.find_button("slack:C-plenum", chat.person(mette).id, "interest", {"area": "E"})
    assert found is not None, "no interest button"
    return found.button


def click(button: Button, user: int) -> tuple[str, dict[str, str]]:
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": f"U{user:04}", "name": f"p{user}"},
               "trigger_id": f"trig-{user}", "channel": {"id": "C-plenum"},
               "actions": [{"action_id": "interest:0", "value": button_value(button),
                            "action_ts": f"{time.time():.6f}-{user}", "type": "button"}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    return body, {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
                  "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)}


async def burst(url: str, button: Button, clicks: int) -> list[float]:
    requests = [click(button, n) for n in range(clicks)]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(body: str, headers: dict[str, str]) -> float:
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200, response.status
                await response.read()
            return time.perf_counter() - started
        return list(await asyncio.gather(*(one(body, headers) for body, headers in requests)))


def minimal_bolt(api_url: str) -> web.Application:
    """The same slack-bolt set-up as the bot's (signature check, the same fake Web API for its
    one auth.test), with a handler that only acknowledges."""
    bolt = AsyncApp(signing_secret=SECRET, token="xoxb-test", process_before_response=True,
                    client=slack_client("xoxb-test", api_url))

    @bolt.action("interest:0")
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    async def endpoint(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


def figures(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (f"{label:<34} p50 {statistics.median(times) * 1000:6.0f} ms · p99 {p99 * 1000:6.0f} ms · "
            f"max {max(times) * 1000:6.0f} ms")


async def run(url: str, clicks: int) -> None:
    with FakeSlackApi() as fake:
        settings = Settings(_env_file=None, database_url=url, slack_bot_token="xoxb-test",
                            slack_signing_secret=SECRET, slack_api_url=fake.url)
        store = open_store(url)
        runtime = start_runtime(store, settings, False, PlatformRouter({}))
        clock = SystemClock()
        chat = ConsoleChat(build_service(store, clock, settings), store.outbox, clock,  # type: ignore[arg-type]
                           Console(file=io.StringIO()), "da", TEAM,
                           PlanSaver(plan_files(store, clock), Path(tempfile.gettempdir())))
        button = await workshop_in_phase_one(chat)
        bot_runner, bot_url = await serve(build_app(store, settings, runtime))
        bare_runner, bare_url = await serve(minimal_bolt(fake.url))
        print(f"database: {store.engine.url.render_as_string()} · {clicks} clicks at once, loopback")
        print(figures("minimal slack-bolt app (ack only)", await burst(bare_url, button, clicks)))
        print(figures("ambition-bot (stored, then acked)", await burst(bot_url, button, clicks)))
        await bot_runner.cleanup()
        await bare_runner.cleanup()
        runtime.stop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--clicks", type=int, default=200)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(options.database_url or f"sqlite:///{folder}/bench.sqlite3", options.clicks))


if __name__ == "__main__":
    main()
