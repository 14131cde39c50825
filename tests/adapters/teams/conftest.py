"""Each test closes the Bot Connector connections its adapters opened on its event loop, as
`serve` does when it stops (adapters/teams/transport.py); the tests make adapters freely."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.teams.transport import LoopSessions


@pytest.fixture(autouse=True)
async def _connections_closed(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    made: list[LoopSessions] = []
    make = LoopSessions.__init__

    def recording(self: LoopSessions) -> None:
        make(self)
        made.append(self)

    monkeypatch.setattr(LoopSessions, "__init__", recording)
    yield
    for sender in made:
        await sender.close()
