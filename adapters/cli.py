"""The `ambition-bot` command line. It is an adapter too: it wires and runs, nothing more."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

import typer
from aiohttp import web
from rich.console import Console

from adapters.app import Store, build_service, open_store
from adapters.config import Settings
from adapters.console.chat import ConsoleChat
from adapters.console.demo import Demo
from adapters.console.repl import Repl
from adapters.server import adapter_status, build_app
from bot.clock import ManualClock
from bot.i18n import Translator

app = typer.Typer(help="The AlmenKompas ambition workshop bot.", no_args_is_help=True,
                  add_completion=False)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db, name="db")


class Lang(StrEnum):
    da = "da"
    en = "en"


def _console_chat(settings: Settings, store: Store, out: Console, org: str) -> ConsoleChat:
    zone = ZoneInfo(settings.bot_timezone)
    # The console's day starts at nine, local time: phases then end at readable times.
    clock = ManualClock(datetime.combine(datetime.now(zone).date(), time(9), zone))
    return ConsoleChat(build_service(store, clock, settings), store.outbox, clock, out,
                       settings.bot_language, org)


@app.command()
def demo(lang: Lang = typer.Option(Lang.da, help="The workshop's language.")) -> None:
    """Play a complete scripted workshop in the terminal (no credentials, embedded SQLite)."""
    settings = Settings(bot_language=lang.value)
    out = Console(highlight=False, soft_wrap=True)
    store = open_store(settings.database_url)
    try:
        chat = _console_chat(settings, store, out, org=f"demo-{uuid.uuid4().hex[:8]}")
        workshop = asyncio.run(Demo(chat, out, lang.value).run())
        out.print(Translator(lang.value)("demo.done", id=workshop,
                                         database=store.engine.url.render_as_string()))
    finally:
        store.close()


@app.command()
def console(lang: Lang = typer.Option(None, help="Default language for new workshops.")) -> None:
    """Run a workshop interactively: act as anyone (`as <name>`), fast-forward time (`ff 10`)."""
    settings = Settings(**({"bot_language": lang.value} if lang else {}))
    out = Console(highlight=False, soft_wrap=True)
    store = open_store(settings.database_url)
    try:
        chat = _console_chat(settings, store, out, org="console")
        asyncio.run(Repl(chat, out, input).run())
    finally:
        store.close()


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
          port: int = typer.Option(3978, help="Port to listen on.")) -> None:
    """Run the web server: /healthz, /readyz and the endpoints of the adapters that are on."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("ambition-bot")
    settings = Settings()
    store = open_store(settings.database_url)
    for line in adapter_status(settings):
        log.info(line)
    web.run_app(build_app(store, settings), host=host, port=port, print=None)
    store.close()


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the database named by DATABASE_URL to the newest schema."""
    settings = Settings()
    store = open_store(settings.database_url)
    store.close()
    typer.echo(f"Database is up to date: {store.engine.url.render_as_string()}")


def main() -> None:
    app()
