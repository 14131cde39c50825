"""The web server's own endpoints (/healthz, /readyz) and the adapter status lines at start-up.

The server runs in-process on a loopback port picked by aiohttp's TestServer. /readyz is what
a load balancer or Kubernetes asks, so it must say "not ready" without leaking the database
URL or a stack trace to whoever can reach the port.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine, select

from adapters.app import Store, open_store, platforms, start_runtime
from adapters.config import Settings
from adapters.server import adapter_status, build_app
from bot.effects import Post
from bot.store.tables import OutboxRow
from bot.store.uow import SqlUnitOfWork
from bot.ui import Message, Text
from tests.conftest import START
from tests.fakes.slack_api import FakeSlackApi

# Nothing listens on port 1, so connecting is refused at once (no waiting on a timeout).
UNREACHABLE = "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none"
CREDENTIAL_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
                        "MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "MICROSOFT_APP_TENANT_ID")


def settings(**values: object) -> Settings:
    """Settings from the given values only: no .env file (the environment is cleaned below)."""
    return Settings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def no_credentials_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's shell may hold real tokens; they must not switch adapters on here.
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@asynccontextmanager
async def client_for(store: Store) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_app(store, settings()), host="127.0.0.1")) as client:
        yield client


@pytest.fixture
def unreachable_store(tmp_path: Path) -> Iterator[Store]:
    """A store whose database has gone away: a real, migrated store with a dead engine."""
    opened = open_store(f"sqlite:///{tmp_path / 'gone.sqlite3'}")
    dead = dataclasses.replace(opened, engine=create_engine(UNREACHABLE))
    yield dead
    dead.close()
    opened.close()


# --- /healthz and /readyz ----------------------------------------------------------------------


async def test_healthz_says_ok(store: Store) -> None:
    async with client_for(store) as client:
        response = await client.get("/healthz")

        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_readyz_reports_the_database_and_an_empty_backlog(store: Store) -> None:
    async with client_for(store) as client:
        response = await client.get("/readyz")

        assert response.status == 200
        body = await response.json()
    assert body["database"] == "ok"
    assert type(body["outbox_backlog"]) is int
    assert body["outbox_backlog"] == 0


async def test_readyz_counts_the_undelivered_effects(store: Store) -> None:
    with SqlUnitOfWork(store.sessions) as unit:
        unit.add_effects("ws-1", [Post("plenum", Message((Text(str(n)),))) for n in range(3)],
                         START)
        unit.commit()

    async with client_for(store) as client:
        body = await (await client.get("/readyz")).json()

    assert body["outbox_backlog"] == 3
    assert body["outbox"]["waiting"] == 3 and body["outbox"]["retrying"] == 0
    assert body["outbox"]["set_aside"] == 0 and body["outbox"]["last_error"] == ""


async def test_readyz_is_503_when_the_database_is_unreachable(unreachable_store: Store) -> None:
    async with client_for(unreachable_store) as client:
        response = await client.get("/readyz")

        assert response.status == 503
        assert response.content_type == "application/json"
        raw = await response.text()
        body = await response.json()

    assert body["status"] != "ready"
    assert "outbox_backlog" not in body
    # Nothing an outsider could use: no trace, no URL, no host, user or password.
    for secret in ("Traceback", 'File "', "postgresql", "psycopg://", "127.0.0.1", "nobody",
                   "hunter2", "/none"):
        assert secret not in raw, f"/readyz leaks {secret!r}: {raw}"


async def test_healthz_stays_ok_when_the_database_is_unreachable(unreachable_store: Store) -> None:
    """Liveness must not depend on the database, or an outage restarts every replica."""
    async with client_for(unreachable_store) as client:
        response = await client.get("/healthz")

        assert response.status == 200


# --- adapter_status ----------------------------------------------------------------------------


def test_without_credentials_both_adapters_are_off_and_say_what_to_set() -> None:
    slack, teams = adapter_status(settings())

    assert slack.startswith("Slack: off")
    assert "SLACK_BOT_TOKEN" in slack and "SLACK_SIGNING_SECRET" in slack
    assert teams.startswith("Teams: off")
    assert "MICROSOFT_APP_ID" in teams and "MICROSOFT_APP_PASSWORD" in teams


def test_half_of_the_slack_credentials_leaves_slack_off() -> None:
    slack, _ = adapter_status(settings(slack_bot_token="xoxb-test"))

    assert slack.startswith("Slack: off")
    assert "xoxb-test" not in slack


def test_with_slack_credentials_slack_is_on_and_no_secret_is_shown() -> None:
    lines = adapter_status(settings(slack_bot_token="xoxb-test",
                                    slack_signing_secret="signing-secret-value"))
    slack, teams = lines

    assert slack.startswith("Slack: on")
    assert teams.startswith("Teams: off")
    for line in lines:
        assert "xoxb-test" not in line
        assert "signing-secret-value" not in line


def test_with_teams_credentials_teams_is_on_and_no_secret_is_shown() -> None:
    lines = adapter_status(settings(microsoft_app_id="app-id",
                                    microsoft_app_password="teams-password-value",
                                    microsoft_app_tenant_id="tenant-id"))

    assert lines[1].startswith("Teams: on")
    assert not any("teams-password-value" in line for line in lines)


def test_credentials_from_the_environment_turn_slack_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")

    slack, _ = adapter_status(settings())

    assert slack.startswith("Slack: on")
    assert "xoxb-from-env" not in slack


def test_what_waited_for_the_server_goes_out_on_its_first_try(tmp_path: Path) -> None:
    """A restarted server finds messages waiting. Its platforms' deliverers must be ready before
    its dispatcher looks: one started without them failed each waiting message once ("no
    adapter is on") and sent it a second late."""
    with FakeSlackApi() as slack:
        config = settings(database_url=f"sqlite:///{tmp_path / 'restart.sqlite3'}",
                          slack_bot_token="xoxb-test", slack_signing_secret="s", slack_api_url=slack.url)
        store = open_store(config.database_url)
        with SqlUnitOfWork(store.sessions) as uow:
            uow.add_effects("w1", [Post(f"slack:C{n}", Message((Text(f"Besked {n}"),), f"Besked {n}"))
                                   for n in range(5)], START)
            uow.commit()
        runtime = start_runtime(store, config, False, deliver_to=platforms(store, config))
        try:
            deadline = time.monotonic() + 30
            while store.outbox.backlog() and time.monotonic() < deadline:
                time.sleep(0.05)
            with store.sessions() as session:
                tries = session.execute(select(OutboxRow.attempts, OutboxRow.last_error)).all()
        finally:
            runtime.stop()
            store.close()

    assert sorted(tries) == [(1, "")] * 5
    assert sorted(call.params["text"] for call in slack.calls_to("chat.postMessage", ok_only=True)) \
        == [f"Besked {n}" for n in range(5)]
