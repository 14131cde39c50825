"""Driving the plenum board in a real browser: Debian's Chromium under Playwright, and a
workshop of nine målepunkter run through Slack to put on it (also used by bench/board.py).

Playwright's own browser download needs the internet; the system's `chromium` package
(installed by .ci/run) is launched instead. Without it the browser tests skip, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.e2e.slack_driver import SlackWorkshop
from tests.e2e.test_slack_workshop import CHANNEL, in_the_future

ROOT = Path(__file__).resolve().parents[2]
# Screenshots and the printed PDF, for people to look at after a run (git-ignored).
ARTIFACTS = Path(os.environ.get("BOARD_ARTIFACTS", ROOT / "tests" / "artifacts" / "board"))
F = "Mette"
PLENUM = "C-plenum"
TITLE = "Boligselskabet Fjordly"
MEASURES = ("E-energi", "E-co2", "E-vand", "S-tilfredshed", "S-udsaettelser", "S-tryghed",
            "G-kompetencer", "G-indkoeb", "G-whistleblower")
PEOPLE = {"E": ("Anders", "Birgitte", "Carsten"), "S": ("Hanne", "Ib", "Jonas"),
          "G": ("Maja", "Niels", "Pia")}
# Real sentences of the lengths groups write, one near the 280-character limit.
SENTENCES = {
    "E-energi": "Vi halverer energiforbruget i de ældste afdelinger inden 2035.",
    "E-co2": "Al varme og el er fossilfri, når vi runder 2035, og vi fortæller beboerne hvert år, "
             "hvor langt vi er nået, og hvad det har betydet for deres husleje og for klimaet.",
    "E-vand": "Vandforbruget pr. beboer falder med en fjerdedel.",
    "S-tilfredshed": "Alle beboere skal føle sig hørt og trives – også de nye.",
    "S-udsaettelser": "Ingen bliver sat ud på grund af restance uden at have fået et tilbud om hjælp "
                      "i god tid, og vi samarbejder med kommunen, gældsrådgivningen og afdelingernes "
                      "bestyrelser, så beboere i økonomiske problemer bliver fanget tidligt og får "
                      "en plan.",
    "S-tryghed": "Beboerne føler sig trygge i deres bolig og i området, også om aftenen.",
    "G-kompetencer": "Organisationsbestyrelsen kan selv læse og udfordre en ESG-rapport.",
    "G-indkoeb": "Alle større indkøb vurderes på miljø og arbejdsforhold.",
    "G-whistleblower": "Alle ved, hvordan de siger fra, og ingen frygter at gøre det.",
}
LEVEL = {"E-energi": "ambitious", "E-co2": "ambitious", "E-vand": "medium", "S-tilfredshed": "medium",
         "S-udsaettelser": "ambitious", "S-tryghed": "medium", "G-kompetencer": "medium",
         "G-indkoeb": "minimum", "G-whistleblower": "medium"}
GOALS = {
    "E-energi": ["Energirenovere 120 boliger i afdeling Fjordparken", "Skifte 400 ventilationsanlæg "
                 "til nye med varmegenvinding i afdelingerne fra før 1975"],
    "E-co2": ["Lægge solceller på tagene i fem afdelinger"],
    "E-vand": ["Sætte vandmålere op i alle lejligheder"],
    "S-tilfredshed": ["Holde beboermøde i hver afdeling to gange om året", "Måle trivslen hvert år"],
    "S-udsaettelser": ["Ringe til hver beboer i restance inden for fem dage"],
    "S-tryghed": ["Sætte lys op på alle stier mellem blokkene"],
    "G-kompetencer": ["Give hele bestyrelsen et ESG-kursus"],
    "G-indkoeb": ["Skrive miljø- og arbejdskrav ind i alle udbud over 500.000 kr."],
    "G-whistleblower": ["Indføre en whistleblowerordning med en ekstern modtager"],
}


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (the system's), closed afterwards."""
    from playwright.async_api import async_playwright

    path = chromium_path()
    assert path, "no chromium on this machine"
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start.
        browser = await playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


def board_path(slack: SlackWorkshop) -> str:
    """The board's path, from the link the facilitator was shown in Slack."""
    found = re.findall(r"/board/[\w-]+", "\n".join(slack.ephemerals(F)))
    assert found, slack.ephemerals(F)
    return found[-1]


def who(measure: str) -> tuple[str, ...]:
    return PEOPLE[measure.partition("-")[0]]


async def set_up(slack: SlackWorkshop) -> str:
    """A workshop with nine målepunkter, its groups' channels bound, and the board's link."""
    await slack.command(F, PLENUM, f"ny {TITLE}")
    await slack.press(F, PLENUM, "setup_measures")
    assert await slack.fill(F, {"measures": list(MEASURES)}) == {}
    for code, channel in CHANNEL.items():
        await slack.command(F, channel, f"gruppe {code}")
    await slack.command(F, PLENUM, "tavle")
    return board_path(slack)


async def to_group_work(slack: SlackWorkshop) -> None:
    await slack.press(F, PLENUM, "start")
    for code, names in PEOPLE.items():
        for name in names:
            await slack.press(name, PLENUM, "interest", area=code)
    await slack.press(F, PLENUM, "propose_split")
    await slack.press(F, PLENUM, "approve_split")
    await slack.command(F, PLENUM, "næste")


async def vote_and_write(slack: SlackWorkshop, skip: tuple[str, ...] = ()) -> None:
    """Each group's dots and sentences (a målepunkt in `skip` gets neither)."""
    for measure in MEASURES:
        if measure in skip:
            continue
        channel = CHANNEL[measure.partition("-")[0]]
        for i, name in enumerate(who(measure)):
            level = LEVEL[measure] if i < 2 else "medium"
            await slack.press(name, channel, "vote", m=measure, level=level)
        await slack.press(who(measure)[0], channel, "edit_ambition", m=measure)
        assert await slack.fill(who(measure)[0], {"sentence": SENTENCES[measure], "level": LEVEL[measure]}) == {}


async def agree_all(slack: SlackWorkshop) -> None:
    await slack.command(F, PLENUM, "næste")
    for measure in MEASURES:
        await slack.press(F, PLENUM, "agree", m=measure)
    await slack.command(F, PLENUM, "næste")  # the break
    await slack.command(F, PLENUM, "næste")  # SMART goals


async def write_goals(slack: SlackWorkshop, only: tuple[str, ...] = MEASURES) -> None:
    for measure in only:
        channel = CHANNEL[measure.partition("-")[0]]
        for text in GOALS[measure]:
            await slack.press(who(measure)[1], channel, "add_goal", m=measure)
            assert await slack.fill(who(measure)[1], {
                "text": text, "indicator": "Andel i procent", "baseline": "40 %", "target": "80 %",
                "deadline": in_the_future()}) == {}


async def set_owners(slack: SlackWorkshop) -> None:
    owners = ("Anders", "Hanne", "Maja", "Birgitte", "Ib", "Niels")
    for i, args in enumerate(slack.buttons(F, PLENUM, "set_owner")):
        await slack.press(F, PLENUM, "set_owner", goal=args["goal"])
        assert await slack.fill(F, {"owner": owners[i % len(owners)]}) == {}
