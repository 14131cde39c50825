"""The servers bench/load.py puts under load, each in a process of its own.

    python bench/load_server.py bot  --slack-api URL --teams-fake-port PORT --database-url URL
    python bench/load_server.py bare --slack-api URL

`bot` is what `ambition-bot serve` runs (adapters/cli.py: store, runtime with the scheduler and
the outbox dispatcher, the platform deliverers, `build_app`), with one difference `serve` has no
option for: Microsoft's login and metadata URLs point at the loopback fake of Teams. `bare` is a
slack-bolt AsyncApp that only acknowledges every command, button and form (as the one in
bench/slack_ack.py, for every kind of request the load sends). Each prints `listening <url>` on
stdout once it takes requests, and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.slack_ack import serve  # noqa: E402
from tests.e2e.slack_driver import SECRET  # noqa: E402  # the drivers sign the set-up with it

ANY = re.compile(".*")


def bare_app(api_url: str) -> web.Application:
    """slack-bolt's signature check and dispatch, and an ack for every listener: nothing else."""
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncAck, AsyncApp

    from adapters.slack.app import slack_client

    bolt = AsyncApp(signing_secret=SECRET, token="xoxb-test", process_before_response=True,
                    client=slack_client("xoxb-test", api_url))

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    bolt.command("/ambition")(only_ack)
    bolt.action(ANY)(only_ack)
    bolt.view(ANY)(only_ack)

    async def endpoint(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    return app


async def run_bot(options: argparse.Namespace) -> None:
    """As adapters/cli.py `serve` wires it, with the timers on (the one process of a deployment)."""
    from adapters.app import open_store, start_runtime
    from adapters.background import Serving, start_background
    from adapters.config import Settings
    from adapters.server import build_app
    from tests.fakes.teams_api import APP_ID, APP_PASSWORD, TENANT_ID, FakeTeamsApi

    endpoints = FakeTeamsApi(port=options.teams_fake_port).endpoints()  # the fake's URLs, not started here
    settings = Settings(_env_file=None, database_url=options.database_url,  # type: ignore[call-arg]
                        slack_bot_token=SecretStr("xoxb-test"), slack_signing_secret=SecretStr(SECRET),
                        slack_api_url=options.slack_api, microsoft_app_id=APP_ID,
                        microsoft_app_password=SecretStr(APP_PASSWORD), microsoft_app_tenant_id=TENANT_ID)
    open_store(settings.database_url).close()
    dispatcher, handling = start_background(Serving(settings, "bench", "", teams_endpoints=endpoints), True)
    store = open_store(settings.database_url, migrate=False)
    runtime = start_runtime(store, settings, handling is None, None, worker=dispatcher)
    runner, url = await serve(build_app(store, settings, runtime, teams_endpoints=endpoints, handling=handling))
    try:
        await _until_stopped(url.removesuffix("/slack/events"))
    finally:
        await runner.cleanup()
        runtime.stop()
        store.close()


async def run_bare(options: argparse.Namespace) -> None:
    runner, url = await serve(bare_app(options.slack_api))
    try:
        await _until_stopped(url.removesuffix("/slack/events"))
    finally:
        await runner.cleanup()


async def _until_stopped(base_url: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening {base_url}", flush=True)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("which", choices=("bot", "bare"))
    parser.add_argument("--slack-api", required=True, help="the fake Slack Web API's URL")
    parser.add_argument("--teams-fake-port", type=int, default=0, help="the fake Microsoft's port")
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    # Warnings and errors only: a failed delivery or request is what the load run looks for.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    asyncio.run(run_bot(options) if options.which == "bot" else run_bare(options))


if __name__ == "__main__":
    main()
