"""The platform memory shared by a process's adapters: another process's writes are seen
once the kept value is old, and what it keeps stays bounded in a long-running server."""

from __future__ import annotations

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
