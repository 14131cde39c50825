"""The `ambition-bot` command line. It is an adapter too: it wires and runs, nothing more."""

from __future__ import annotations

import asyncio
import logging
import uuid
from enum import StrEnum

import typer
from pydantic import ValidationError
from aiohttp import web
from rich.console import Console

from adapters.app import open_store
from adapters.config import Settings
from adapters.console.chat import console_chat
from adapters.console.demo import Demo
from adapters.console.repl import Repl
from adapters.server import adapter_status, build_app
from bot.i18n import Translator

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
def demo(lang: Lang = typer.Option(Lang.da, help="The workshop's language.")) -> None:
    """Play a complete scripted workshop in the terminal (no credentials, embedded SQLite)."""
    settings = _settings(bot_language=lang.value)
    out = Console(highlight=False, soft_wrap=True)
    store = open_store(settings.database_url)
    try:
        chat = console_chat(settings, store, out, org=f"demo-{uuid.uuid4().hex[:8]}")
        workshop = asyncio.run(Demo(chat, out, lang.value).run())
        out.print(Translator(lang.value)("demo.done", id=workshop,
                                         database=store.engine.url.render_as_string()))
    finally:
        store.close()


@app.command()
def console(lang: Lang = typer.Option(None, help="Default language for new workshops.")) -> None:
    """Run a workshop interactively: act as anyone (`as <name>`), fast-forward time (`ff 10`)."""
    settings = _settings(**({"bot_language": lang.value} if lang else {}))
    out = Console(highlight=False, soft_wrap=True)
    store = open_store(settings.database_url)
    try:
        chat = console_chat(settings, store, out, org="console")
        asyncio.run(Repl(chat, out, input).run())
    finally:
        store.close()


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
          port: int = typer.Option(3978, help="Port to listen on.")) -> None:
    """Run the web server: /healthz, /readyz and the endpoints of the adapters that are on."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("ambition-bot")
    settings = _settings()
    store = open_store(settings.database_url)
    for line in adapter_status(settings):
        log.info(line)
    log.info("listening on http://%s:%s (/healthz, /readyz)", host, port)
    web.run_app(build_app(store, settings), host=host, port=port, print=None)
    store.close()


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the database named by DATABASE_URL to the newest schema."""
    settings = _settings()
    store = open_store(settings.database_url)
    store.close()
    typer.echo(f"Database is up to date: {store.engine.url.render_as_string()}")


def main() -> None:
    app()
