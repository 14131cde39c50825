"""GET /board/<token> (the page), /board/<token>/events (its live updates, server-sent events)
and the page's CSS and JS. Read-only and without login: the token is the only key, it opens
one workshop's board and nothing else, and a closed token opens nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from functools import partial

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from adapters.web.page import ASSET_PATH, ASSETS, asset, board_page, gone_page, payload
from adapters.web.watch import BoardWatch, Closing
from bot.domain.model import Workshop
from bot.flow import board_view
from bot.i18n import Translator
from bot.ports import Clock
from bot.store import boards
from bot.store.repository import WorkshopCache

log = logging.getLogger("ambition-bot.board")
WATCH: web.AppKey[BoardWatch] = web.AppKey("board_watch", BoardWatch)
KEEPALIVE = 15.0  # seconds: a comment line now and then keeps proxies from closing the stream
RETRY_MS = 1000  # how soon a browser reconnects after the stream broke

# Nothing from elsewhere, nothing to submit, no address handed on; not for search engines.
# (No frame-ancestors: nothing on the board can be clicked, and a Teams tab may embed it.)
HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
NO_STORE = {**HEADERS, "Cache-Control": "no-store"}
_TOKEN_IN_PATH = re.compile(r"/board/[^/\s?\"]+")


class HideTokens(logging.Filter):
    """The access log names requests, not the board's key: whoever reads the log must not be
    able to open the board with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "/board/" in str(record.msg):
            record.msg = _TOKEN_IN_PATH.sub("/board/…", record.getMessage())
            record.args = ()
        return True


HIDE_TOKENS = HideTokens()


class Boards:
    """The database side of the board, each call on a worker thread."""

    def __init__(self, sessions: sessionmaker[Session], cache: WorkshopCache | None) -> None:
        self.sessions = sessions
        self.cache = cache

    def open(self, token: str) -> Workshop | None:
        """The workshop whose board `token` opens now."""
        found = boards.find(self.sessions, token)
        workshop = boards.read(self.sessions, self.cache, found) if found else None
        return workshop if workshop is not None and workshop.board_token == token else None

    def versions(self, ids: list[str]) -> Mapping[str, int]:
        return boards.versions(self.sessions, ids)

    def load(self, workshop_id: str) -> Workshop | None:
        return boards.read(self.sessions, self.cache, workshop_id)


def mount_board(app: web.Application, sessions: sessionmaker[Session], cache: WorkshopCache | None,
                clock: Clock, language: str) -> None:
    """The board's routes on `app`; `language`: for a link that opens no workshop."""
    logging.getLogger("aiohttp.access").addFilter(HIDE_TOKENS)  # the same filter once, however often mounted
    store = Boards(sessions, cache)
    watch = BoardWatch(lambda ids: store.versions(list(ids)), store.load, clock)
    app[WATCH] = watch
    app.router.add_get("/board/{token}", partial(_page, store, watch, clock, language))
    app.router.add_get("/board/{token}/events", partial(_events, store, watch, clock, language))
    for name in ASSETS:
        app.router.add_get(ASSET_PATH + name, partial(_asset, name))

    async def close(_: web.Application) -> None:
        await watch.close()  # open streams end now, not when the shutdown's grace runs out

    app.on_shutdown.append(close)


def board_app(sessions: sessionmaker[Session], cache: WorkshopCache | None, clock: Clock,
              language: str) -> web.Application:
    """A server of the board alone (the console runs one beside its chat)."""
    app = web.Application()
    mount_board(app, sessions, cache, clock, language)
    return app


def _gone(language: str) -> web.Response:
    return web.Response(status=404, text=gone_page(language), content_type="text/html", headers=NO_STORE)


async def _page(store: Boards, watch: BoardWatch, clock: Clock, language: str,
                request: web.Request) -> web.Response:
    workshop = await asyncio.to_thread(store.open, request.match_info["token"])
    if workshop is None:
        return _gone(language)
    board = board_view.build(workshop)
    return web.Response(text=board_page(board, payload(board, clock.now(), watch.rate)),
                        content_type="text/html", headers=NO_STORE)


def _event(name: str, data: object) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _events(store: Boards, watch: BoardWatch, clock: Clock, language: str,
                  request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    workshop = await asyncio.to_thread(store.open, token)
    if workshop is None:
        return _gone(language)
    response = web.StreamResponse(headers={**NO_STORE, "Content-Type": "text/event-stream",
                                           "X-Accel-Buffering": "no"})  # nginx: pass each event on at once
    await response.prepare(request)
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        async with watch.subscribe(workshop.id) as updates:
            while True:
                try:
                    item = await asyncio.wait_for(updates.get(), KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if isinstance(item, Closing):
                    break
                if item is None or item.board_token != token:  # closed, or the workshop is gone
                    t = Translator(item.language if item else language)
                    await response.write(_event("gone", {"title": t("board.gone_title"), "text": t("board.gone")}))
                    break
                board = board_view.build(item)
                await response.write(_event("board", payload(board, clock.now(), watch.rate)))
    except ConnectionResetError:  # the screen went away
        pass
    return response


async def _asset(name: str, request: web.Request) -> web.Response:
    kind = "text/css" if name.endswith(".css") else "text/javascript"
    return web.Response(body=asset(name), content_type=kind, charset="utf-8",
                        headers={**HEADERS, "Cache-Control": "public, max-age=86400"})
