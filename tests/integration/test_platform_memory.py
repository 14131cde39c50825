"""The platform memory shared by a process's adapters: another process's writes are seen
once the kept value is old, and what it keeps stays bounded in a long-running server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.app import Store, open_store
from bot.store import memory as memory_module
from bot.store.memory import PlatformMemory


def test_a_value_written_by_another_process_is_seen_once_the_kept_one_is_old(
        store: Store, database_url: str) -> None:
    here = PlatformMemory(store.sessions, fresh_seconds=0.0)
    there = open_store(database_url)
    try:
        here.put("teams:place:x", "old service url")
        PlatformMemory(there.sessions).put("teams:place:x", "new service url")
        assert here.get("teams:place:x") == "new service url"
    finally:
        there.close()


def test_it_keeps_at_most_its_limit(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_module, "MAX_KEPT", 3)
    here = PlatformMemory(store.sessions)
    for n in range(5):
        here.put(f"k{n}", str(n))
    assert len(here._read) == 3 and here.get("k0") == "0"  # forgotten here, still in the store


class _WrittenDuringTheRead:
    """The memory's sessions, except that another thread's write lands while a read runs (after
    the read has looked, before it is kept): as when Teams sends a conversation's first
    message twice at once."""

    def __init__(self, sessions: Any, write: Callable[[], None]) -> None:
        self._sessions, self._write = sessions, write
        self.begin = sessions.begin

    @contextmanager
    def __call__(self) -> Iterator[Any]:
        with self._sessions() as session:
            yield session
        self._write()  # the read's transaction is over (on SQLite a write waits for it)


def test_a_read_overtaken_by_a_write_does_not_bring_the_old_value_back(store: Store) -> None:
    memory = PlatformMemory(store.sessions)
    memory._sessions = _WrittenDuringTheRead(store.sessions,  # type: ignore[assignment]
                                             lambda: memory.put("teams:place:x", "reference"))

    memory.get("teams:place:x")  # found nothing; meanwhile the reference was stored

    memory._sessions = store.sessions
    assert memory.get("teams:place:x") == "reference"
