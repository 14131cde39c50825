"""The plenum board's web routes, with a workshop run through the console adapter on SQLite
and PostgreSQL: the page, its live events, a closed link, and the headers that keep it a
read-only page for one workshop. (tests/e2e/test_board_browser.py drives a real browser.)"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from rich.console import Console

from adapters.app import Store
from adapters.config import Settings
from adapters.console.chat import ConsoleChat, console_chat
from adapters.web.routes import board_app

F = "Mette"
EVENT_WAIT = 5.0  # generous: the board polls every 0.25 s; timing is measured by bench/board.py


@dataclass
class Running:
    chat: ConsoleChat
    out: io.StringIO
    client: TestClient
    path: str  # /board/<token>, as the facilitator's link says


def link(out: io.StringIO) -> str:
    found = re.findall(r"(?:http://[\d.:]+)?(/board/[\w-]+)", out.getvalue())
    assert found, out.getvalue()
    return found[-1]


async def new_workshop(chat: ConsoleChat, title: str = "Boligselskabet Fjordly") -> None:
    await chat.say(F, "plenum", f"ny {title}")
    await chat.press(F, "plenum", "setup_measures")
    await chat.fill(F, {"measures": "E-energi,E-co2,S-tilfredshed,G-kompetencer"})
    for code in "ESG":
        await chat.say(F, code, f"gruppe {code}")


async def to_group_work(chat: ConsoleChat) -> None:
    await chat.press(F, "plenum", "start")
    for name, area in (("Anders", "E"), ("Birgitte", "E"), ("Hanne", "S"), ("Maja", "G")):
        await chat.press(name, "plenum", "interest", area=area)
    await chat.press(F, "plenum", "propose_split")
    await chat.press(F, "plenum", "approve_split")
    await chat.say(F, "plenum", "næste")


@pytest.fixture
async def running(store: Store) -> AsyncIterator[Running]:
    out = io.StringIO()
    settings = Settings(_env_file=None, bot_language="da")  # type: ignore[call-arg]
    chat = console_chat(settings, store, Console(file=out, width=200, soft_wrap=True), org="board",
                        public_url="http://127.0.0.1:3978")
    await new_workshop(chat)
    await chat.say(F, "plenum", "tavle")
    async with TestClient(TestServer(board_app(store.sessions, store.workshops, chat.clock, "da"),
                                     host="127.0.0.1")) as client:
        yield Running(chat, out, client, link(out))


async def next_event(response: ClientResponse) -> tuple[str, dict]:
    """The next named event of a server-sent event stream (comments and `retry` skipped)."""
    name, data = "", ""
    async with asyncio.timeout(EVENT_WAIT):
        while True:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif not line and name:
                return name, json.loads(data)


def posters(board: dict) -> dict[str, dict]:
    return {p["id"]: p for column in board["columns"] for p in column["posters"]}


async def test_the_page_shows_the_workshop_read_only_with_headers_for_a_projected_page(running: Running) -> None:
    response = await running.client.get(running.path)

    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    assert "Boligselskabet Fjordly" in page and "Opsætning" in page and 'lang="da"' in page
    assert "<form" not in page and "<input" not in page and "<button" not in page
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert response.headers["Cache-Control"] == "no-store"
    for asset in re.findall(r'(?:href|src)="(/board-static/[^"]+)"', page):
        fetched = await running.client.get(asset)
        assert fetched.status == 200 and "default-src 'none'" in fetched.headers["Content-Security-Policy"]
    data = json.loads(re.search(r'<script id="board-data" type="application/json">(.*?)</script>', page, re.S)[1])
    assert [len(c["posters"]) for c in data["columns"]] == [2, 1, 1] and data["phase"] == "setup"


async def test_text_people_typed_stays_text_on_the_page(store: Store) -> None:
    out = io.StringIO()
    chat = console_chat(Settings(_env_file=None), store, Console(file=out, width=200), org="xss")  # type: ignore[call-arg]
    await new_workshop(chat, title="</script><script>alert(1)</script> & Co")
    await chat.say(F, "plenum", "tavle")
    async with TestClient(TestServer(board_app(store.sessions, store.workshops, chat.clock, "da"),
                                     host="127.0.0.1")) as client:
        page = await (await client.get(link(out))).text()
    assert "<script>alert(1)" not in page and "</script><script>" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page  # the heading, escaped


async def test_an_unknown_or_closed_link_shows_a_clear_message_and_nothing_of_any_workshop(running: Running) -> None:
    for path in ("/board/guessed-token-000000000000000000", "/board/" + "x" * 500):
        response = await running.client.get(path)
        assert response.status == 404
        assert "Tavlen er lukket" in await response.text()

    await running.chat.say(F, "plenum", "tavle luk")
    for path in (running.path, running.path + "/events"):
        response = await running.client.get(path)
        text = await response.text()
        assert response.status == 404 and "Bed tovholderen om et nyt link" in text
        assert "Fjordly" not in text


async def test_changes_in_chat_reach_an_open_stream_and_closing_the_link_ends_it(running: Running) -> None:
    chat = running.chat
    async with running.client.get(running.path + "/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        name, board = await next_event(stream)
        assert name == "board" and board["phase"] == "setup" and board["rate"] == 0

        await to_group_work(chat)
        await chat.press("Anders", "E", "vote", m="E-energi", level="ambitious")
        while board["phase"] != "ambitions" or not posters(board)["E-energi"]["voters"]:
            name, board = await next_event(stream)
        energy = posters(board)["E-energi"]
        assert [(d["label"], d["count"]) for d in energy["dots"]] == [("Minimum", 0), ("Mellem", 0), ("Ambitiøst", 1)]
        assert board["progress"] == "E 0/2 · S 0/1 · G 0/1" and board["ends_at"]

        await chat.say(F, "plenum", "tavle luk")
        while name == "board":
            name, said = await next_event(stream)
        assert name == "gone" and said["title"] == "Tavlen er lukket"


async def test_the_countdown_follows_the_servers_clock_when_it_jumps(running: Running) -> None:
    chat = running.chat
    await to_group_work(chat)
    async with running.client.get(running.path + "/events") as stream:
        _, before = await next_event(stream)
        await chat.advance(3)  # `ff 3`: no timer fires, only the clock moves
        _, after = await next_event(stream)
    assert before["ends_at"] == after["ends_at"]  # the phase's end did not move; the server's now did
    assert datetime.fromisoformat(after["now"]) - datetime.fromisoformat(before["now"]) == timedelta(minutes=3)


async def test_the_access_log_never_holds_a_boards_key(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    await running.client.get(running.path)
    token = running.path.rsplit("/", 1)[1]
    assert "GET /board/…" in caplog.text and token not in caplog.text
