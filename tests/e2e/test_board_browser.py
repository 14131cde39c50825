"""The plenum board in a real browser (headless Chromium), next to a workshop run through Slack.

What the room sees: the phase, the countdown (paused, extended), one poster per målepunkt
under E, S and G, a vote made in Slack appearing within a second without a reload, the whole
of nine målepunkter on a 1920×1080 projector and a laptop without scrolling, a closed link,
and a board that finds its server again after a restart. Screenshots and the printed A4 go
to tests/artifacts/board/ for people to look at.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from adapters.app import Store
from adapters.config import Settings
from adapters.console.chat import console_chat
from adapters.web.local import board_server, listen, url_of
from tests.e2e.board_browser import (
    ARTIFACTS,
    F,
    PLENUM,
    agree_all,
    chromium,
    chromium_path,
    set_owners,
    set_up,
    to_group_work,
    vote_and_write,
    write_goals,
)
from tests.e2e.slack_driver import SlackWorkshop
from tests.e2e.test_slack_workshop import CHANNEL

pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="no chromium on this machine (.ci/run installs Debian's)")

SECOND = 1000  # ms: the promise for a change in chat to reach the board
FULL_HD = {"width": 1920, "height": 1080}
LAPTOP = {"width": 1366, "height": 768}
READABLE_PX = 14  # at 1920×1080 the smallest text must stay readable from the back of a room


async def fits(page: Any) -> dict[str, Any]:
    """Whether the page scrolls or any column cuts a poster off, and its type sizes."""
    return await page.evaluate("""() => ({
        scrolls: document.documentElement.scrollHeight > innerHeight + 1
                 || document.documentElement.scrollWidth > innerWidth + 1,
        cut: [...document.querySelectorAll('.area')].some(a => a.scrollHeight > a.clientHeight + 1),
        root: parseFloat(getComputedStyle(document.documentElement).fontSize),
        smallest: Math.min(...[...document.querySelectorAll('.poster p, .poster li, .goal-meta')]
                            .map(e => parseFloat(getComputedStyle(e).fontSize))),
    })""")


async def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    sizes = await fits(page) if await page.locator(".areas").count() else {}
    print(f"board screenshot: {path}"
          + (f" (type {sizes['root']:.1f} px, smallest {sizes['smallest']:.1f} px)" if sizes else ""))
    return path


def countdown_seconds(text: str) -> int:
    parts = [int(p) for p in text.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


async def test_the_board_follows_a_whole_workshop_run_in_slack(tmp_path: Path) -> None:
    from playwright.async_api import expect

    async with SlackWorkshop(tmp_path) as slack, chromium() as browser:
        path = await set_up(slack)
        page = await browser.new_page(viewport=FULL_HD)
        await page.goto(str(slack.client.make_url(path)))

        await expect(page.locator("#phase")).to_have_text("Opsætning")
        await expect(page.locator(".poster")).to_have_count(9)
        for area, name in (("E", "Miljø"), ("S", "Sociale forhold"), ("G", "Governance")):
            column = page.locator(f'.area[data-area="{area}"]')
            await expect(column.locator("h2")).to_contain_text(name)
            await expect(column.locator(".poster")).to_have_count(3)
        await expect(page.locator("#clock")).to_be_hidden()

        await to_group_work(slack)
        await expect(page.locator("#phase")).to_have_text(
            "Fase 2 af 6: Gruppearbejde: ambitionsniveau og ambitionssætning")
        await expect(page.locator("#clock-label")).to_have_text("Tid tilbage")
        await expect(page.locator("#countdown")).to_have_text(re.compile(r"^(25:00|24:5\d)$"))

        # A dot set in Slack is on the board within a second, without reloading the page.
        await page.evaluate("window.sameDocument = true")
        energy = page.locator('[data-measure="E-energi"] [data-level="ambitious"] .count')
        await expect(page.locator('[data-measure="E-energi"] .dots')).to_have_text("Ingen prikker endnu")
        started = time.monotonic()
        await slack.press("Anders", CHANNEL["E"], "vote", m="E-energi", level="ambitious", settle=False)
        await expect(energy).to_have_text("1", timeout=SECOND)
        print(f"board: a vote in Slack was on the page {time.monotonic() - started:.3f} s after the click")
        assert await page.evaluate("window.sameDocument") is True
        await slack.settle()

        await vote_and_write(slack, skip=("G-whistleblower",))
        await expect(page.locator("#progress")).to_have_text("Ambitionssætninger skrevet: E 3/3 · S 3/3 · G 2/3")
        poster = page.locator('[data-measure="S-tilfredshed"]')
        await expect(poster.locator(".ambition")).to_contain_text("Alle beboere skal føle sig hørt")
        await expect(poster.locator('[data-level="medium"]')).to_contain_text("Mellem")

        # The clock: paused it stands still, extended it has five minutes more, on every screen.
        await slack.command(F, PLENUM, "pause")
        await expect(page.locator("#clock-label")).to_have_text("Pause – uret står stille")
        paused = await page.locator("#countdown").text_content()
        await page.wait_for_timeout(1500)
        assert await page.locator("#countdown").text_content() == paused
        await slack.command(F, PLENUM, "fortsæt")
        await expect(page.locator("#clock-label")).to_have_text("Tid tilbage")
        before = countdown_seconds(await page.locator("#countdown").text_content() or "")
        await slack.command(F, PLENUM, "forlæng 5")
        await expect(page.locator("#countdown")).not_to_have_text(re.compile(rf"^{before // 60:02d}:"))
        after = countdown_seconds(await page.locator("#countdown").text_content() or "")
        assert 295 <= after - before <= 305
        second = await browser.new_page(viewport=LAPTOP)  # another screen agrees to the second
        await second.goto(page.url)
        both = await asyncio.gather(page.locator("#countdown").text_content(),
                                    second.locator("#countdown").text_content())
        assert abs(countdown_seconds(both[0] or "") - countdown_seconds(both[1] or "")) <= 1

        measured = await fits(page)
        assert not measured["scrolls"] and not measured["cut"], measured
        assert measured["smallest"] >= READABLE_PX, measured
        await shot(page, "board-1920x1080-group-work-ambitions")
        assert not (await fits(second))["scrolls"] and not (await fits(second))["cut"]
        await shot(second, "board-1366x768-group-work-ambitions")

        # The plenum agrees (said in words, not only by a border), then the SMART goals.
        await agree_all(slack)
        await expect(page.locator('[data-measure="E-energi"] .status')).to_have_text("✓ Vedtaget i plenum")
        await write_goals(slack, only=("E-energi", "E-co2", "E-vand", "S-tilfredshed", "G-kompetencer"))
        await expect(page.locator("#progress")).to_have_text("Målepunkter med SMART-mål: E 3/3 · S 1/3 · G 1/3")
        await expect(page.locator('[data-measure="E-energi"] .goals li')).to_have_count(2)
        measured = await fits(page)
        assert not measured["scrolls"] and not measured["cut"], measured
        await shot(page, "board-1920x1080-group-work-smart-goals")

        # The end: every goal with its owner and deadline, on the screen and on A4 paper.
        await write_goals(slack, only=("S-udsaettelser", "S-tryghed", "G-indkoeb", "G-whistleblower"))
        await slack.command(F, PLENUM, "næste")
        await slack.command(F, PLENUM, "næste")
        await set_owners(slack)
        await expect(page.locator('[data-measure="E-energi"] .goal-meta').first).to_contain_text("Ansvarlig: ")
        await slack.command(F, PLENUM, "næste")
        await expect(page.locator("#phase")).to_have_text("Opfølgning")
        await expect(page.locator(".goal-meta", has_text="Ansvarlig")).to_have_count(11)
        measured = await fits(page)
        assert not measured["scrolls"] and not measured["cut"], measured
        assert measured["smallest"] >= READABLE_PX, measured
        await shot(page, "board-1920x1080-end")
        await second.reload()
        assert not (await fits(second))["cut"]
        await shot(second, "board-1366x768-end")
        pdf = await page.pdf(prefer_css_page_size=True, print_background=True)
        (ARTIFACTS / "board-end-A4-landscape.pdf").write_bytes(pdf)
        print(f"board printed: {ARTIFACTS / 'board-end-A4-landscape.pdf'}")
        assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1  # one clean page
        assert re.search(rb"/MediaBox\s*\[\s*0 0 84[12][.\d]* 59[45][.\d]*\s*\]", pdf)  # A4 landscape, in points
        paper = await browser.new_page(viewport={"width": 1123, "height": 794})  # A4 at 96 dpi, to look at
        await paper.emulate_media(media="print")
        await paper.goto(page.url)
        await expect(paper.locator(".goal-meta", has_text="Ansvarlig")).to_have_count(11)
        await paper.screenshot(path=str(ARTIFACTS / "board-end-print-preview.png"), full_page=True)

        # Closed: the screens say so at once, and the link opens nothing any more.
        await slack.command(F, PLENUM, "tavle luk")
        await expect(page.locator("h1")).to_have_text("Tavlen er lukket", timeout=SECOND * 2)
        await expect(second.locator("h1")).to_have_text("Tavlen er lukket", timeout=SECOND * 2)
        response = await page.goto(page.url)
        assert response is not None and response.status == 404
        await expect(page.locator("p")).to_have_text(
            "Linket til denne tavle er lukket eller findes ikke. Bed tovholderen om et nyt link.")
        await shot(page, "board-closed")


async def test_the_board_finds_its_server_again_after_a_restart(store: Store) -> None:
    """The server goes away mid-workshop; the screen says it lost the connection, and once a
    server is back on the same address it shows what happened meanwhile, without a reload."""
    from playwright.async_api import expect

    out = io.StringIO()
    sock = listen(0)
    port = sock.getsockname()[1]
    chat = console_chat(Settings(_env_file=None), store, Console(file=out, width=200), org="restart",  # type: ignore[call-arg]
                        public_url=url_of(sock))
    await chat.say(F, "plenum", "ny Fjordly")
    await chat.press(F, "plenum", "setup_measures")
    await chat.fill(F, {"measures": "E-energi,S-tilfredshed,G-kompetencer"})
    await chat.say(F, "plenum", "tavle")
    link = re.findall(r"http://[\d.:]+/board/[\w-]+", out.getvalue())[-1]

    async with chromium() as browser:
        page = await browser.new_page(viewport=FULL_HD)
        async with board_server(sock, store.sessions, store.workshops, chat.clock, "da"):
            await page.goto(link)
            await expect(page.locator(".poster")).to_have_count(3)
            await page.evaluate("window.sameDocument = true")
        await expect(page.locator("#offline")).to_be_visible()
        await expect(page.locator("#offline")).to_contain_text("Forbindelsen er afbrudt")

        await chat.press(F, "plenum", "setup_measures")  # meanwhile, in chat
        await chat.fill(F, {"measures": "E-energi,E-co2,S-tilfredshed,G-kompetencer"})
        async with board_server(listen(port), store.sessions, store.workshops, chat.clock, "da"):
            await expect(page.locator(".poster")).to_have_count(4, timeout=10 * SECOND)
            await expect(page.locator("#offline")).to_be_hidden()
            assert await page.evaluate("window.sameDocument") is True
