"""A board server beside the console's chat, on this machine only, so `ambition-bot console`
and a browser show the whole experience without Slack or Teams."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from adapters.web.routes import board_app
from bot.ports import Clock
from bot.store.repository import WorkshopCache

HOST = "127.0.0.1"


def listen(port: int, host: str = HOST) -> socket.socket:
    """A socket bound to `port`, or to a free one if another program has it: the console
    still starts (and says where the board is)."""
    for candidate in (port, 0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError:
            sock.close()
            if candidate == 0:
                raise
            continue
        return sock
    raise AssertionError("unreachable")


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@asynccontextmanager
async def board_server(sock: socket.socket, sessions: sessionmaker[Session], cache: WorkshopCache | None,
                       clock: Clock, language: str) -> AsyncIterator[None]:
    runner = web.AppRunner(board_app(sessions, cache, clock, language), shutdown_timeout=1.0,
                           access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield
    finally:
        await runner.cleanup()
