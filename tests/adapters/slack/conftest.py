"""The Slack endpoint served for real: the aiohttp server of `ambition-bot serve` with the
Slack adapter on, the real service on a SQLite file, and the loopback fake of the Slack Web
API. Shared by the endpoint tests and the hostile-input fuzzing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from adapters.app import PlatformRouter, Runtime, Store, open_store, start_runtime
from adapters.config import Settings
from adapters.server import build_app
from tests.fakes.slack_api import FakeSlackApi

SECRET = "test-signing-secret"

Served = tuple[Store, Runtime, Settings]
Router = Callable[[Store, FakeSlackApi], PlatformRouter]


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def router() -> Router:
    """What the outbox is delivered with: nothing by default, so that tests read the outbox.
    A test module that wants the fake Slack to receive it overrides this fixture."""
    return lambda store, api: PlatformRouter({})


@pytest.fixture
def slack_database(tmp_path: Path) -> str:
    """The database the served app uses: a SQLite file, unless a test module says otherwise."""
    return f"sqlite:///{tmp_path / 'slack.sqlite3'}"


@pytest.fixture
def served(slack_database: str, slack_api: FakeSlackApi, router: Router) -> Iterator[Served]:
    config = Settings(_env_file=None, database_url=slack_database,
                      slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                      slack_api_url=slack_api.url)
    store = open_store(config.database_url)
    runtime = start_runtime(store, config, False, router(store, slack_api))
    yield store, runtime, config
    runtime.stop()
    store.close()


@pytest.fixture
async def client(served: Served) -> AsyncIterator[TestClient]:
    store, runtime, config = served
    async with TestClient(TestServer(build_app(store, config, runtime), host="127.0.0.1")) as test_client:
        yield test_client


def signed(body: str, content_type: str, secret: str = SECRET, age: int = 0) -> dict[str, str]:
    """The headers Slack sends with `body`: its content type, a timestamp and the signature."""
    stamp = str(int(time.time()) - age)
    return {"X-Slack-Request-Timestamp": stamp, "Content-Type": content_type,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)}
