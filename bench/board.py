"""How soon the plenum board shows what happens in chat.

    python bench/board.py [--votes 40] [--screens 3] [--listeners 50]

A workshop of nine målepunkter runs through the real Slack endpoint (signed requests on
loopback, SQLite, the real outbox; tests/e2e/slack_driver.py). `screens` headless Chromium
pages (Debian's `chromium`) show its board, and `listeners` more screens are plain
server-sent-event streams, as a room full of laptops would hold. Then `votes` times a
participant sets or moves a dot in Slack, one after the other, and for each the time is
taken from the moment the click is sent to the moment every browser page shows the new
count (read in the page's DOM), and to the moment every other stream has the new board.

Prints p50 / p95 / max for: the Slack request's answer, the first and the last browser page,
and the last of the streams. The board polls the database every 0.25 s, so about half that
is the expected wait on top of the click itself. Each vote comes at a random moment.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.board_browser import CHANNEL, chromium, chromium_path, set_up, to_group_work  # noqa: E402
from tests.e2e.slack_driver import SlackWorkshop  # noqa: E402

LEVELS = ("ambitious", "medium", "minimum")
VOTERS = ("Anders", "Birgitte", "Carsten")


def spread(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"{label:<44} p50 {statistics.median(ordered) * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms"
            f"   max {ordered[-1] * 1000:6.0f} ms")


async def listen(session: aiohttp.ClientSession, url: str, seen: list[float]) -> None:
    """A screen that is only a stream: note when each board arrives."""
    async with session.get(url) as stream:
        async for line in stream.content:
            if line.startswith(b"event: board"):
                seen.append(time.monotonic())


async def main(votes: int, screens: int, listeners: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with SlackWorkshop(Path(folder)) as slack, chromium() as browser:
            path = await set_up(slack)
            await to_group_work(slack)
            url = str(slack.client.make_url(path))
            pages = [await browser.new_page(viewport={"width": 1920, "height": 1080}) for _ in range(screens)]
            for page in pages:
                await page.goto(url)
            seen: list[list[float]] = [[] for _ in range(listeners)]
            async with aiohttp.ClientSession() as session:
                streams = [asyncio.create_task(listen(session, url + "/events", s)) for s in seen]
                await asyncio.sleep(1.0)  # every stream has its first board
                answered, first, last, streamed = [], [], [], []
                for i in range(votes):
                    voter, level = VOTERS[i % len(VOTERS)], LEVELS[(i // len(VOTERS)) % len(LEVELS)]
                    # at a random moment of the board's poll, as people click (not just after one)
                    await asyncio.sleep(random.uniform(0, 0.3))
                    marks = [len(s) for s in seen]
                    clicked = time.time() * 1000  # the page stamps each board it draws with Date.now()
                    started = time.monotonic()
                    await slack.press(voter, CHANNEL["E"], "vote", m="E-energi", level=level, settle=False)
                    answered.append(time.monotonic() - started)
                    shown = []
                    for page in pages:  # every press changes the tally (a second press takes the dot back)
                        drawn = await page.wait_for_function(
                            "(clicked) => Number(document.body.dataset.updated) > clicked"
                            " && Number(document.body.dataset.updated)", arg=clicked, polling=5)
                        shown.append((await drawn.json_value() - clicked) / 1000)
                    first.append(min(shown))
                    last.append(max(shown))
                    while any(len(s) <= m for s, m in zip(seen, marks, strict=True)):
                        await asyncio.sleep(0.005)
                    streamed.append(max(s[m] for s, m in zip(seen, marks, strict=True)) - started)
                    await slack.settle()
                for task in streams:
                    task.cancel()
    print(f"{votes} votes through POST /slack/events, {screens} Chromium pages and {listeners} more "
          f"streams on one board (SQLite, loopback)")
    print(spread("Slack's request answered", answered))
    print(spread("vote shown on the first browser page", first))
    print(spread(f"vote shown on all {screens} browser pages", last))
    print(spread(f"new board on all {listeners} other streams", streamed))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=40)
    parser.add_argument("--screens", type=int, default=3)
    parser.add_argument("--listeners", type=int, default=50)
    options = parser.parse_args()
    if chromium_path() is None:
        sys.exit("no chromium on this machine: apt-get install chromium")
    asyncio.run(main(options.votes, options.screens, options.listeners))
