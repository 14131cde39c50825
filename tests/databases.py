"""Throwaway PostgreSQL schemas for tests, soaks and benches: a database of their own on the
machine's server, with nothing left behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def throwaway_schema(base: str, prefix: str = "t_") -> Iterator[str]:
    """The URL of `base` with a new, empty schema as its search path; the schema and all in
    it are dropped afterwards."""
    schema = prefix + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
