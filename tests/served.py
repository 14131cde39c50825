"""Waiting for a served app to finish what it answered before it was handled."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from adapters.server import INTAKE

POLL_SECONDS = 0.01


async def caught_up(client: TestClient, timeout: float = 30) -> None:
    """Until every click, command and event the server acknowledged has been handled: it
    answers once it has kept one (adapters/intake.py), and handles it right after."""
    intake = client.app.get(INTAKE) if client.app is not None else None
    async with asyncio.timeout(timeout):
        while intake is not None and intake.pending():
            await asyncio.sleep(POLL_SECONDS)
