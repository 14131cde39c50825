"""Shared fixtures: the databases the store is tested on, and a fixed start of the day."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.app import Store, open_store
from tests.databases import throwaway_schema

# 09:00 in Copenhagen on the day of the workshop
START = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: the PostgreSQL variant is skipped "
                    "(.ci/run sets it to this machine's PostgreSQL)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A fresh, empty database: a SQLite file, or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    with throwaway_schema(_postgres_url()) as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()
