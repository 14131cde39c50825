"""The `ambition-bot` command line. It is an adapter too: it wires and runs, nothing more."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import uuid
from enum import StrEnum
from pathlib import Path

import typer
from pydantic import ValidationError
from aiohttp import web
from rich.console import Console

from adapters.app import Store, open_store, plan_files, platforms, start_runtime, units
from adapters.config import Settings
from adapters.console.chat import ConsoleChat, console_chat
from adapters.console.demo import Demo
from adapters.console.demo_own import OwnMeasuresDemo
from adapters.console.repl import Repl
from adapters.background import Serving, start_background
from adapters.server import adapter_status, build_app
from adapters.web.local import board_server, listen
from adapters.web.local import url_of as board_url
from bot.clock import SystemClock
from bot.events import SharedFile
from bot.flow.imported import describe as describe_measures
from bot.plan.measures_file import read_measures
from bot.i18n import Translator
from bot.plan.files import UnknownWorkshop
from bot.plan.returned import NotAPlan, describe, import_plan

app = typer.Typer(help="The AlmenKompas ambition workshop bot.", no_args_is_help=True,
                  add_completion=False)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db, name="db")


class Lang(StrEnum):
    da = "da"
    en = "en"


def _settings(**overrides: str) -> Settings:
    """The configuration, or a short message naming each bad setting (never its value)."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        for problem in error.errors():
            name = "_".join(str(part) for part in problem["loc"]).upper()
            typer.echo(f"Configuration error: {name}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None


@app.command()
def demo(lang: Lang = typer.Option(Lang.da, help="The workshop's language."),
         out_file: Path = typer.Option(None, "--out", help="Where to write the action plan "
                                       "(default: its own name in this folder).", dir_okay=False),
         measures: Path = typer.Option(None, help="A CSV or XLSX file of your own målepunkter "
                                       "to run the workshop on.", exists=True, dir_okay=False)) -> None:
    """Play a complete scripted workshop in the terminal (no credentials, embedded SQLite)."""
    settings = _settings(bot_language=lang.value)
    out = Console(highlight=False, soft_wrap=True)
    store = open_store(settings.database_url)
    try:
        chat = console_chat(settings, store, out, org=f"demo-{uuid.uuid4().hex[:8]}", plan_out=out_file)
        script = _own_measures_demo(chat, out, lang.value, measures) if measures else Demo(chat, out, lang.value)
        workshop = asyncio.run(script.run())
        out.print(Translator(lang.value)("demo.done", id=workshop,
                                         database=store.engine.url.render_as_string()))
    finally:
        store.close()


def _own_measures_demo(chat: ConsoleChat, out: Console, language: str, path: Path) -> Demo:
    """The demo on the file's målepunkter, once the file is known to be good."""
    shared = SharedFile(path.name, path.read_bytes())
    checked = read_measures(shared.name, shared.data)
    if not checked.ok:
        t = Translator(language)
        typer.echo(t("measures_file.refused", name=shared.name, problems=describe_measures(t, checked.problems)),
                   err=True)
        raise typer.Exit(2)
    return OwnMeasuresDemo(chat, out, language, measures=shared)


@app.command()
def console(lang: Lang = typer.Option(None, help="Default language for new workshops."),
            board_port: int = typer.Option(3978, help="Where the plenum board is served, on "
                                           "127.0.0.1 (a free port if this one is taken)."),
            board: bool = typer.Option(True, "--board/--no-board",
                                       help="Serve the plenum board beside the console.")) -> None:
    """Run a workshop interactively: act as anyone (`as <name>`), fast-forward time (`ff 10`)."""
    settings = _settings(**({"bot_language": lang.value} if lang else {}))
    out = Console(highlight=False, soft_wrap=True)
    store = open_store(settings.database_url)
    try:
        asyncio.run(_console(settings, store, out, board_port if board else None))
    finally:
        store.close()


async def _console(settings: Settings, store: Store, out: Console, board_port: int | None) -> None:
    """The console's chat, and beside it on this machine the board its links open."""
    if board_port is None:
        await Repl(console_chat(settings, store, out, org="console"), out, input).run()
        return
    sock = listen(board_port)
    url = board_url(sock)
    chat = console_chat(settings, store, out, org="console", public_url=url)
    async with board_server(sock, store.sessions, store.workshops, chat.clock, settings.bot_language):
        out.print(chat.t("console.board", url=url, word=chat.t("command.board")))
        await Repl(chat, out, input).run()


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
          port: int = typer.Option(3978, help="Port to listen on."),
          scheduler: bool = typer.Option(True, "--scheduler/--no-scheduler",
                                         help="Run the phase timers here. Exactly one process "
                                              "should; the others only schedule them."),
          slack_socket_mode: bool = typer.Option(False, "--slack-socket-mode",
                                                 help="Reach Slack over Socket Mode (SLACK_APP_TOKEN) "
                                                      "instead of a public /slack/events URL."),
          teams_without_auth: bool = typer.Option(False, "--teams-without-auth",
                                                  help="Turn Teams on without MICROSOFT_APP_ID and "
                                                       "accept unauthenticated activities: local "
                                                       "testing (Bot Framework Emulator) only.")) -> None:
    """Run the web server: /healthz, /readyz and the endpoints of the adapters that are on."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    log = logging.getLogger("ambition-bot")
    settings = _settings()
    if slack_socket_mode and not (settings.slack_on and settings.slack_app_token):
        typer.echo("Configuration error: --slack-socket-mode needs SLACK_BOT_TOKEN, "
                   "SLACK_SIGNING_SECRET and SLACK_APP_TOKEN (an xapp- token with connections:write)",
                   err=True)
        raise typer.Exit(2)
    if teams_without_auth and settings.teams_on:
        typer.echo("Configuration error: --teams-without-auth is for local testing without "
                   "MICROSOFT_APP_ID, which is set", err=True)
        raise typer.Exit(2)
    # The same process restarted (after a crash, a deploy) takes over its own unfinished
    # deliveries at once, instead of waiting out the claims of its former life.
    owner = serve_owner(socket.gethostname(), port)
    public_url = settings.public_base_url or f"http://{_reachable(host)}:{port}"
    open_store(settings.database_url).close()  # migrated, and no connection left to fork
    dispatcher, handling = start_background(Serving(settings, owner, public_url, teams_without_auth), scheduler)
    store = open_store(settings.database_url, migrate=False, owner=owner)
    for line in adapter_status(settings, teams_without_auth):
        log.info(line)
    runtime = start_runtime(store, settings, scheduler and handling is None, public_url=public_url,
                            worker=dispatcher, deliver_to=platforms(store, settings, teams_without_auth))
    if handling is None or not scheduler:
        log.info("timers: %s", f"running here ({runtime.restored} restored)" if scheduler
                 else "scheduled here, run by the process started with --scheduler")
    if settings.bot_time_scale:
        log.info("time runs %sx as fast as real time (BOT_TIME_SCALE)", settings.bot_time_scale)
    log.info("listening on http://%s:%s (/healthz, /readyz, /board/<token>)", host, port)
    if not settings.public_base_url:
        log.info("board links point at %s (set PUBLIC_BASE_URL to the address people's browsers "
                 "reach)", public_url)
    try:
        web.run_app(build_app(store, settings, runtime, slack_socket_mode, teams_without_auth,
                              handling=handling), host=host, port=port, print=None)
    finally:
        runtime.stop()
        store.close()


def _reachable(host: str) -> str:
    """A host for links: listening on every interface, this machine's name is the best guess."""
    return socket.gethostname() if host in ("", "0.0.0.0", "::") else host


def serve_owner(host: str, port: int) -> str:
    """This server's name to the outbox's claims: the same after a restart, and short enough
    for their column (64) however long the host's name is."""
    name = f"serve@{host}:{port}"
    return name if len(name) <= 64 else f"serve@{hashlib.sha256(host.encode()).hexdigest()[:32]}:{port}"


@app.command()
def export(workshop: str = typer.Argument(..., help="The workshop's id (the bot says it when the "
                                          "workshop is created)."),
           out_file: Path = typer.Option(None, "--out", help="Where to write the .xlsx "
                                         "(default: its own name in this folder).", dir_okay=False)) -> None:
    """Write a stored workshop's action plan (handlingsplan) as an Excel workbook."""
    settings = _settings()
    t = Translator(settings.bot_language)
    store = open_store(settings.database_url)
    try:
        attachment = plan_files(store, SystemClock()).build(workshop)
    except UnknownWorkshop:
        typer.echo(t("plan_import.unknown_workshop", id=workshop), err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    path = out_file or Path(attachment.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(attachment.data)
    typer.echo(t("plan_file.saved", path=path.resolve()))


@app.command("import-plan")
def import_plan_command(
        workshop: str = typer.Argument(..., help="The workshop's id."),
        file: Path = typer.Argument(..., help="The action plan, as returned by its owners.",
                                    exists=True, dir_okay=False)) -> None:
    """Read status, progress and comments edited in Excel back in, as follow-up entries."""
    settings = _settings()
    t = Translator(settings.bot_language)
    store = open_store(settings.database_url)
    try:
        result = import_plan(units(store), workshop, file.read_bytes(), SystemClock().now())
    except LookupError:
        typer.echo(t("plan_import.unknown_workshop", id=workshop), err=True)
        raise typer.Exit(2) from None
    except NotAPlan as error:
        typer.echo(describe([error.problem], t)[0], err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(t("plan_import.recorded", count=len(result.recorded)))
    typer.echo(t("plan_import.unchanged", count=result.unchanged))
    if result.problems:
        typer.echo(t("plan_import.refused", count=len(result.problems)))
        for line in describe(result.problems, t):
            typer.echo(f"  {line}")
        raise typer.Exit(1)


@app.command("teams-package")
def teams_package(out_file: Path = typer.Option(Path("ambition-teams-app.zip"), "--out",
                                                help="Where to write the app package (.zip).",
                                                dir_okay=False)) -> None:
    """Write the Teams app package (manifest and icons) for MICROSOFT_APP_ID and PUBLIC_BASE_URL,
    ready to upload in Teams (Apps → Manage your apps → Upload an app)."""
    from adapters.teams.package import build_package  # only here: it reads the icons

    settings = _settings()
    if not settings.microsoft_app_id or not settings.public_base_url:
        typer.echo("Configuration error: teams-package needs MICROSOFT_APP_ID (the Azure Bot's "
                   "app id) and PUBLIC_BASE_URL (https://… where `serve` is reached)", err=True)
        raise typer.Exit(2)
    try:
        path = build_package(settings.microsoft_app_id, settings.public_base_url, out_file)
    except ValueError as error:
        typer.echo(f"Configuration error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Teams app package written: {path.resolve()}")


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the database named by DATABASE_URL to the newest schema."""
    settings = _settings()
    store = open_store(settings.database_url)
    store.close()
    typer.echo(f"Database is up to date: {store.engine.url.render_as_string()}")


def main() -> None:
    app()
