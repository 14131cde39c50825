"""The `ambition-bot` command line: its commands, `db upgrade`, the console, bad configuration.

Commands run in-process through typer's CliRunner, in a temporary directory with every
setting removed from the environment, so neither the repository's nor the developer's
configuration (.env, DATABASE_URL, tokens) can leak in. What a person sees when the
configuration is wrong is checked on the real entry point, in a subprocess, because
CliRunner swallows the exception that typer would print.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner, Result

from adapters.cli import app
from adapters.config import Settings
from bot.i18n import Translator

BAD_ZONE = "Mars/Olympus"
SETTING_VARIABLES = tuple(name.upper() for name in Settings.model_fields)


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean environment in an empty directory, with DATABASE_URL naming a new SQLite file."""
    monkeypatch.chdir(tmp_path)  # no .env from the repository is read
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def command_names(help_text: str) -> set[str]:
    """The commands a --help screen lists: a word at the start of a row, then a wide gap."""
    return {m.group(1) for m in re.finditer(r"^[│|\s]*([a-z][a-z-]*) {2,}\S", help_text, re.M)}


def run_entry_point(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `ambition-bot` exactly as a person would, outside CliRunner's exception catching."""
    return subprocess.run([sys.executable, "-c", "from adapters.cli import main; main()", *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def user_environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_VARIABLES}
    return {**env, **values}


# --- help --------------------------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = run("--help")

    assert result.exit_code == 0, result.output
    assert {"demo", "console", "serve", "db", "teams-package"} <= command_names(result.output)


def test_db_help_lists_upgrade() -> None:
    result = run("db", "--help")

    assert result.exit_code == 0, result.output
    assert "upgrade" in command_names(result.output)


# --- db upgrade --------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema(cli_database: str, tmp_path: Path) -> None:
    result = run("db", "upgrade")

    assert result.exit_code == 0, result.output
    assert "cli.sqlite3" in result.output
    engine = create_engine(cli_database)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"workshops", "outbox", "posted_messages"} <= tables
    assert not (tmp_path / ".env").exists()


def test_db_upgrade_twice_is_harmless(cli_database: str) -> None:
    assert run("db", "upgrade").exit_code == 0
    again = run("db", "upgrade")

    assert again.exit_code == 0, again.output


# --- console -----------------------------------------------------------------------------------


def test_console_prints_its_help_in_danish_by_default(cli_database: str) -> None:
    result = run("console", input="?\nquit\n")

    assert result.exit_code == 0, result.output
    assert Translator("da")("console.help") in result.output
    assert "Konsollens kommandoer" in result.output  # Danish, not English, is the default


def test_console_speaks_english_when_asked(cli_database: str) -> None:
    result = run("console", "--lang", "en", input="?\nquit\n")

    assert result.exit_code == 0, result.output
    assert Translator("en")("console.help") in result.output
    assert Translator("da")("console.help") not in result.output


def test_console_ends_quietly_at_end_of_input(cli_database: str) -> None:
    result = run("console", input="?\n")  # no "quit": stdin simply runs out (Ctrl-D)

    assert result.exit_code == 0, result.output
    assert result.exception is None


# --- bad configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["db", "upgrade"], ["console"]], ids=" ".join)
def test_an_unknown_time_zone_stops_the_command(command: list[str], cli_database: str,
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_TIMEZONE", BAD_ZONE)

    result = run(*command, input="quit\n")

    assert result.exit_code == 2
    assert BAD_ZONE in result.output and "BOT_TIMEZONE" in result.output
    assert not (tmp_path / "cli.sqlite3").exists()  # refused before touching the database


def test_a_person_is_told_which_time_zone_is_wrong(tmp_path: Path) -> None:
    secret = "xoxb-do-not-print-me"
    env = user_environment(BOT_TIMEZONE=BAD_ZONE, SLACK_BOT_TOKEN=secret,
                           DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}")

    done = run_entry_point("db", "upgrade", env=env, cwd=tmp_path)

    assert done.returncode != 0
    said = " ".join((done.stdout + done.stderr).split())  # undo the terminal's line wrapping
    assert BAD_ZONE in said
    assert "time zone" in said
    assert secret not in said
    assert not (tmp_path / "cli.sqlite3").exists()


def test_a_configuration_error_is_a_short_message_not_a_traceback(tmp_path: Path) -> None:
    env = user_environment(BOT_TIMEZONE=BAD_ZONE,
                           DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}")

    done = run_entry_point("db", "upgrade", env=env, cwd=tmp_path)

    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 5
    assert BAD_ZONE in done.stderr


def test_socket_mode_without_an_app_token_says_what_is_missing(tmp_path: Path) -> None:
    env = user_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
                           SLACK_BOT_TOKEN="xoxb-secret-bot-token", SLACK_SIGNING_SECRET="s3cret")

    done = run_entry_point("serve", "--slack-socket-mode", env=env, cwd=tmp_path)

    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "SLACK_APP_TOKEN" in done.stderr
    assert "xoxb-secret-bot-token" not in done.stderr + done.stdout


# --- teams-package -------------------------------------------------------------------------


def test_teams_package_writes_the_app_for_this_bot(cli_database: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app_id = "2f1b0c9e-1111-4222-8333-444455556666"
    monkeypatch.setenv("MICROSOFT_APP_ID", app_id)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://ambition.boligselskab.dk")

    result = run("teams-package", "--out", str(tmp_path / "app.zip"))

    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "app.zip") as package:
        manifest = json.loads(package.read("manifest.json"))
    assert manifest["id"] == app_id and manifest["bots"][0]["botId"] == app_id
    assert manifest["validDomains"] == ["ambition.boligselskab.dk"]


@pytest.mark.parametrize(("app_id", "url"), [("", "https://a.dk"), ("not-a-guid", "https://a.dk"),
                                             ("2f1b0c9e-1111-4222-8333-444455556666", "")])
def test_teams_package_says_which_setting_is_missing_or_wrong(
        cli_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_id: str, url: str) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", app_id)
    monkeypatch.setenv("PUBLIC_BASE_URL", url)

    result = run("teams-package", "--out", str(tmp_path / "app.zip"))

    assert result.exit_code == 2
    assert ("MICROSOFT_APP_ID" if app_id != "2f1b0c9e-1111-4222-8333-444455556666"
            else "PUBLIC_BASE_URL") in result.output
    assert not (tmp_path / "app.zip").exists()


def test_serve_claims_the_outbox_under_a_name_its_column_keeps_and_a_restart_finds_again() -> None:
    from adapters.cli import serve_owner

    long_host = "ambition-bot-7d9f8c6b5-xk2lp." + "cluster-node." * 10 + "example.org"
    assert serve_owner("web-1", 3978) == "serve@web-1:3978"
    assert len(serve_owner(long_host, 3978)) <= 64
    assert serve_owner(long_host, 3978) == serve_owner(long_host, 3978) != serve_owner(long_host, 3979)
