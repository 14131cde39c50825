"""`ambition-bot serve`: one aiohttp server; platform adapters mount their endpoints here."""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aiohttp import web
from sqlalchemy import text

from adapters.app import Runtime, Store, plan_files
from adapters.batching import Batcher
from adapters.config import Settings
from adapters.intake import Intake, handled_here, sweeping
from adapters.web.routes import mount_board
from bot.clock import SystemClock
from bot.store.inbox import SqlInbox
from bot.store.outbox import OutboxState

if TYPE_CHECKING:
    from adapters.handling_process import HandlingProcess
    from adapters.teams.auth import Endpoints

log = logging.getLogger("ambition-bot")
STORE: web.AppKey[Store] = web.AppKey("store", Store)
INTAKE: web.AppKey[Intake] = web.AppKey("intake", Intake)
# serve's own processes (adapters/background.py): without one, it answers what it cannot do
PROCESSES: web.AppKey[dict[str, Forked]] = web.AppKey("processes")


@runtime_checkable
class Forked(Protocol):
    def alive(self) -> bool: ...


def adapter_status(settings: Settings, teams_without_auth: bool = False) -> list[str]:
    """One line per adapter, saying whether it is on and, if not, what would turn it on."""
    slack = ("Slack: on (POST /slack/events)" if settings.slack_on else
             "Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on)")
    teams = ("Teams: on (POST /api/messages)" if settings.teams_on else
             "Teams: ON WITHOUT AUTHENTICATION (POST /api/messages, local testing only)"
             if teams_without_auth else
             "Teams: off (set MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and "
             "MICROSOFT_APP_TENANT_ID to turn it on)")
    return [slack, teams]


async def healthz(request: web.Request) -> web.Response:
    for name, process in request.app.get(PROCESSES, {}).items():
        if not process.alive():
            # It would go on keeping clicks it can no longer handle, or messages it can no
            # longer deliver: restart it (what was kept is taken up at the next start).
            return web.json_response({"status": f"the {name} process has stopped"}, status=503)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    store = request.app[STORE]
    intake = request.app.get(INTAKE)

    def check() -> tuple[OutboxState, int]:
        with store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        # The inbox first: an event leaves it once its effects are in the outbox, so both
        # empty means nothing answered is still on its way.
        kept = intake.inbox.count() if intake else 0
        return store.outbox.state(datetime.now(UTC)), kept

    try:
        outbox, kept = await asyncio.to_thread(check)
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness check failed: %s", type(error).__name__)
        return web.json_response({"status": "unavailable", "database": type(error).__name__},
                                 status=503)
    return web.json_response({
        "status": "ready", "database": "ok", "outbox_backlog": outbox.waiting,
        "outbox": {"waiting": outbox.waiting, "retrying": outbox.retrying, "set_aside": outbox.set_aside,
                   "oldest_seconds": round(outbox.oldest_seconds, 1),
                   "next_retry_at": outbox.next_retry_at.isoformat() if outbox.next_retry_at else None,
                   "last_error": outbox.last_error[:300]},
        "inbox": {"waiting": kept}})  # answered, and not handled yet


def build_app(store: Store, settings: Settings, runtime: Runtime | None = None,
              slack_socket_mode: bool = False, teams_without_auth: bool = False,
              teams_endpoints: Endpoints | None = None,
              handling: HandlingProcess | None = None) -> web.Application:
    """`teams_without_auth`: Teams on without MICROSOFT_APP_ID, for local testing only;
    `teams_endpoints`: Microsoft's login and metadata URLs (tests point them at a fake);
    `handling`: the process that handles the platforms' events (else `runtime`, here)."""
    app = web.Application(client_max_size=1024 * 1024)
    app[STORE] = store
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    # The plenum board: on every server, so any process can show any workshop's board.
    mount_board(app, store.sessions, store.workshops, runtime.clock if runtime else SystemClock(),
                settings.bot_language)
    candidates: dict[str, object] = {"handling": handling, "dispatcher": runtime.worker if runtime else None}
    forked: dict[str, Forked] = {name: p for name, p in candidates.items() if isinstance(p, Forked)}
    app[PROCESSES] = forked
    if runtime is not None and (settings.slack_on or settings.teams_on or teams_without_auth):
        intake = Intake(handling.handle if handling else handled_here(Batcher(runtime.service), runtime.worker.wake),
                        SqlInbox.beside(store.engine))
        app[INTAKE] = intake
        start, stop = sweeping(intake)
        app.on_startup.append(start)
        app.on_cleanup.append(stop)
        if settings.slack_on:
            _mount_slack(app, settings, intake, slack_socket_mode)
        if settings.teams_on or teams_without_auth:
            _mount_teams(app, store, settings, intake, teams_endpoints)
    if handling is not None:  # after the intake's clean-up: what is being handled finishes first
        app.on_startup.append(_frozen)
        app.on_cleanup.append(lambda _: handling.stop())
    return app


async def _frozen(_: web.Application) -> None:
    """What the server holds at start (modules, the SDKs' models, the schema) lasts as long as
    it does: kept out of the garbage collector's full passes, which otherwise stopped every
    request for 100 ms and more now and then (bench/load.py)."""
    gc.collect()
    gc.freeze()


def _mount_teams(app: web.Application, store: Store, settings: Settings, intake: Intake,
                 endpoints: Endpoints | None) -> None:
    from adapters.teams.app import (
        TeamsBot,
        cloud_adapter,
        file_links,
        log_auth,
        teams_route,
    )
    from adapters.teams.auth import close_connections
    from adapters.teams.conversations import Conversations
    from adapters.teams.files import plan_download, tenant_plans

    log_auth(settings)
    files = plan_files(store, SystemClock())
    bot = TeamsBot(intake, Conversations(store.memory), tenant_plans(store.sessions, files))
    adapter = cloud_adapter(settings, endpoints)
    app.router.add_post("/api/messages", teams_route(adapter, bot))

    async def close(_: web.Application) -> None:
        await close_connections(adapter)

    app.on_cleanup.append(close)
    links = file_links(settings)
    if links is not None:
        app.router.add_get("/files/{token}", plan_download(links, files, settings.bot_language))


def _mount_slack(app: web.Application, settings: Settings, intake: Intake, socket_mode: bool) -> None:
    from adapters.slack.app import (  # only where Slack is on
        build_slack_app,
        slack_route,
    )

    assert settings.slack_bot_token and settings.slack_signing_secret
    secret = settings.slack_signing_secret.get_secret_value()
    slack = build_slack_app(intake, settings.slack_bot_token.get_secret_value(), secret,
                            settings.slack_api_url)
    if not socket_mode:
        app.router.add_post("/slack/events", slack_route(slack, secret))
        return
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    assert settings.slack_app_token
    handler = AsyncSocketModeHandler(slack, settings.slack_app_token.get_secret_value())

    async def connect(_: web.Application) -> None:
        await handler.connect_async()

    async def close(_: web.Application) -> None:
        await handler.close_async()

    app.on_startup.append(connect)
    app.on_cleanup.append(close)
