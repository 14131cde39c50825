"""Duplicates and races (issue #8), end to end through Slack and Teams, on SQLite and
PostgreSQL.

1. A whole workshop where every inbound request arrives twice, as a platform retry or as two
   requests at once, stores and shows exactly what the same workshop does with each request
   once (tests/e2e/replay.py sends them).
2. Two members who edit the same ambition sentence or SMART goal at once, or one after the
   other from forms opened on the same version: the first save stands, the second editor is
   told by name that someone changed it meanwhile, and gets their own text back.
3. A button or form from an earlier phase pressed again changes nothing and is answered only
   to the person who pressed it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.batching import Batcher
from bot.domain.model import Workshop
from bot.events import Action, Actor, Event
from bot.service import Result
from tests.e2e import replay
from tests.e2e import test_slack_workshop as slack_flow
from tests.e2e import test_teams_workshop as teams_flow
from tests.e2e.replay import MODES, Mode
from tests.e2e.slack_driver import user_id
from tests.e2e.teams_driver import DM, PLENUM

F = "Mette"
SHORT = ("E-energi", "S-tilfredshed", "G-kompetencer")


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Empty databases of one kind, as many as a test needs (see replay.fresh_databases)."""
    url = ""
    if request.param == "postgresql":
        url = os.environ.get("TEST_DATABASE_URL", "")
        if not url:
            pytest.skip("TEST_DATABASE_URL is not set: the PostgreSQL variant is skipped")
    with replay.fresh_databases(request.param, tmp_path, url) as make:
        yield make


# --- the platforms, side by side ----------------------------------------------------------

# Either platform's driver (ReplayingSlack or ReplayingTeams): the tests below drive both with
# what they share (press, fill, buttons, find_button, settle), and ask `On` for the rest.
Driver = Any


class On:
    """How the script and the checks below say things on a platform."""

    name: str
    flow: Any  # the platform's e2e test module: its play(), CHANNEL and goal()
    channel: Mapping[str, str]  # group code → where the group works
    plenum: str

    @staticmethod
    def dm(name: str) -> str:
        """Where `name`'s own chat with the bot is, for press and buttons."""
        raise NotImplementedError

    @staticmethod
    async def fill(driver: Driver, name: str, values: Mapping[str, Any]) -> None:
        """Submit `name`'s form and see it closed or saved (a refusal closes it too)."""
        raise NotImplementedError

    @staticmethod
    async def say(driver: Driver, name: str, where: str, text: str) -> None:
        raise NotImplementedError

    @staticmethod
    def told(driver: Driver, name: str, where: str) -> list[str]:
        """What only `name` was told, oldest first."""
        raise NotImplementedError

    @staticmethod
    def shown(driver: Driver) -> Any:
        """What the platform shows, per conversation (replay.slack_shown / teams_shown)."""
        raise NotImplementedError


class Slack(On):
    name = "slack"
    flow = slack_flow
    channel = slack_flow.CHANNEL
    plenum = slack_flow.PLENUM

    @staticmethod
    def dm(name: str) -> str:
        return user_id(name)  # the app's direct messages with someone are posted to their id

    @staticmethod
    async def fill(driver: Driver, name: str, values: Mapping[str, Any]) -> None:
        assert await driver.fill(name, values) == {}  # the modal closed

    @staticmethod
    async def say(driver: Driver, name: str, where: str, text: str) -> None:
        await driver.command(name, where, text)

    @staticmethod
    def told(driver: Driver, name: str, where: str) -> list[str]:
        """The ephemerals `name` got in the channel they acted in."""
        return list(driver.ephemerals(name, where))

    @staticmethod
    def shown(driver: Driver) -> Any:
        return replay.slack_shown(driver)


class Teams(On):
    name = "teams"
    flow = teams_flow
    channel = teams_flow.CHANNEL
    plenum = PLENUM

    @staticmethod
    def dm(name: str) -> str:
        return DM

    @staticmethod
    async def fill(driver: Driver, name: str, values: Mapping[str, Any]) -> None:
        assert (await driver.fill(name, values)).submits() == []  # the card lost its button

    @staticmethod
    async def say(driver: Driver, name: str, where: str, text: str) -> None:
        await driver.say(name, where, text)

    @staticmethod
    def told(driver: Driver, name: str, where: str) -> list[str]:
        """Teams has no ephemerals: what only `name` is told comes in their chat with the bot."""
        return list(driver.dms(name))

    @staticmethod
    def shown(driver: Driver) -> Any:
        return replay.teams_shown(driver)


Platform = type[On]
PLATFORMS: dict[str, Platform] = {"slack": Slack, "teams": Teams}


# --- 1. every request twice ----------------------------------------------------------------


async def whole_workshop(driver: Driver, on: Platform) -> None:
    """The short workshop of the platform's e2e test (setup, groups, start, split, dots,
    sentences, agreement, break, SMART goals, owners, the end), with on the way: a dot and a
    sentence changed, a plenum comment, a goal backed and edited, and after it the owner's
    follow-up answers (a status button and the update form) and `status`; in Slack also a
    member joining a group's channel and an @mention (Events API callbacks)."""
    group_e = on.channel["E"]

    async def extras(step: str) -> None:
        if step == "ambitions_plenum":  # still in phase 2
            await driver.press("Birgitte", group_e, "vote", m="E-energi", level="medium")
            await driver.press("Birgitte", group_e, "edit_ambition", m="E-energi")
            await on.fill(driver, "Birgitte", {"sentence": "Vi halverer energiforbruget inden 2030."})
        elif step == "break":  # phase 3, the plenum
            await driver.press("Hanne", on.plenum, "comment", m="E-energi")
            await on.fill(driver, "Hanne", {"text": "Kan vi nå det på fem år?"})
        elif step == "goals_plenum":  # still in phase 4
            [goal_id] = [a["goal"] for a in driver.buttons("Anders", group_e, "support_goal")]
            await driver.press("Anders", group_e, "support_goal", goal=goal_id)
            await driver.press("Birgitte", group_e, "edit_goal", goal=goal_id)
            await on.fill(driver, "Birgitte", {"text": "Energirenovere 120 boliger i Fjordparken"})

    await on.flow.play(driver, SHORT, before=extras)
    goal_id = next(a["goal"] for a in driver.buttons("Anders", on.dm("Anders"), "followup_status"))
    await driver.press("Anders", on.dm("Anders"), "followup_status", goal=goal_id, status="in_progress")
    await driver.press("Anders", on.dm("Anders"), "followup_update", goal=goal_id)
    await on.fill(driver, "Anders", {"status": "delayed", "progress": "55", "comment": "Udbuddet trak ud."})
    await on.say(driver, F, on.plenum, "status")
    if on is Slack:  # and the Events API, which Slack itself retries
        await driver.joined("Pia", on.channel["G"])
        await driver.mention(F, on.plenum, "hjælp")
    await driver.settle()


_REFERENCE: dict[tuple[str, str], tuple[Any, Any]] = {}  # (platform, database) → the run with no replays


async def run_whole_workshop(on: Platform, mode: Mode, make: Callable[[str], str],
                             directory: Path) -> tuple[Any, Any]:
    """(what was stored, what the platform shows) after the whole workshop in `mode`."""
    async with replay.replaying(on.name, directory / mode, make(f"{on.name}_{mode}"), mode) as driver:
        await whole_workshop(driver, on)
        assert driver.set_aside() == [] and driver.store.outbox.backlog() == 0
        return replay.stored(driver.store), on.shown(driver)


@pytest.mark.parametrize("mode", [m for m in MODES if m != "once"])
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_every_request_sent_twice_stores_and_shows_what_one_would(
        platform: str, mode: Mode, databases: Callable[[str], str], tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    on = PLATFORMS[platform]
    kind = request.node.callspec.params["databases"]
    if (on.name, kind) not in _REFERENCE:  # computed once per platform and database
        _REFERENCE[(on.name, kind)] = await run_whole_workshop(on, "once", databases, tmp_path)
    stored_once, shown_once = _REFERENCE[(on.name, kind)]
    stored_twice, shown_twice = await run_whole_workshop(on, mode, databases, tmp_path)
    assert differences(stored_twice, stored_once) == []
    assert differences(shown_twice, shown_once) == []


def differences(got: Any, wanted: Any, path: str = "") -> list[str]:
    """Where `got` differs from `wanted`, as paths with both values (the first dozen): a
    readable failure where a plain == would print two dumps of a whole workshop."""
    found: list[str] = []
    if isinstance(got, dict) and isinstance(wanted, dict):
        for key in sorted(set(got) | set(wanted), key=str):
            if key not in wanted:
                found.append(f"{path}/{key}: extra {short(got[key])}")
            elif key not in got:
                found.append(f"{path}/{key}: missing {short(wanted[key])}")
            else:
                found += differences(got[key], wanted[key], f"{path}/{key}")
    elif isinstance(got, list) and isinstance(wanted, list):
        for index, (mine, theirs) in enumerate(zip(got, wanted, strict=False)):
            found += differences(mine, theirs, f"{path}[{index}]")
        if len(got) != len(wanted):
            extra = got[len(wanted):] or wanted[len(got):]
            found.append(f"{path}: {len(got)} items, wanted {len(wanted)}; "
                         f"{'extra' if len(got) > len(wanted) else 'missing'}: {short(extra)}")
    elif got != wanted:
        found.append(f"{path}: {short(got)}, wanted {short(wanted)}")
    return found[:40]


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "…"


# --- 2. two editors, one item ----------------------------------------------------------------


def the_workshop(driver: Driver) -> Workshop:
    [ws] = replay.workshops(driver.store)
    return ws


async def race(first: Awaitable[None], second: Awaitable[None]) -> None:
    await asyncio.gather(first, second)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_two_members_saving_one_ambition_sentence_at_once_one_wins_the_other_is_told(
        platform: str, databases: Callable[[str], str], tmp_path: Path) -> None:
    on = PLATFORMS[platform]
    group_e = on.channel["E"]
    texts = {"Anders": "Vi halverer energiforbruget inden 2035.",
             "Birgitte": "Alle afdelinger er fossilfri i 2030."}
    async with replay.replaying(on.name, tmp_path, databases("race_ambition"), "once") as driver:
        await on.flow.play(driver, SHORT, until="ambitions_plenum")  # E-energi has Anders' sentence
        before = the_workshop(driver).ambitions["E-energi"]
        for name in texts:  # both open the form on the sentence as it is now
            await driver.press(name, group_e, "edit_ambition", m="E-energi")
        told_before = {name: len(on.told(driver, name, group_e)) for name in texts}
        await race(*(on.fill(driver, name, {"sentence": text}) for name, text in texts.items()))
        await driver.settle()

        after = the_workshop(driver).ambitions["E-energi"]
        winner = "Anders" if after.updated_by.endswith("anders") else "Birgitte"
        loser = next(name for name in texts if name != winner)
        assert after.sentence == texts[winner] and after.version == before.version + 1
        assert_told_of_conflict(on, driver, loser, winner, group_e, told_before[loser], texts[loser])
        assert on.told(driver, winner, group_e)[told_before[winner]:] == []  # the winner hears nothing
        card, _ = driver.find_button("Anders", group_e, "vote", m="E-energi", level="medium")
        assert texts[winner] in card.texts and texts[loser] not in card.texts


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_goal_saved_from_a_form_opened_before_someone_elses_save_is_refused_by_name(
        platform: str, databases: Callable[[str], str], tmp_path: Path) -> None:
    """A opens, B opens, B saves, A saves: A is told B changed it, and gets A's text back."""
    on = PLATFORMS[platform]
    group_e = on.channel["E"]
    async with replay.replaying(on.name, tmp_path, databases("stale_goal"), "once") as driver:
        await on.flow.play(driver, SHORT, until="goals_plenum")  # Birgitte wrote E-energi's goal
        [goal_id] = [a["goal"] for a in driver.buttons("Anders", group_e, "edit_goal")]
        await driver.press("Anders", group_e, "edit_goal", goal=goal_id)
        await driver.press("Birgitte", group_e, "edit_goal", goal=goal_id)
        await on.fill(driver, "Birgitte", {"text": "Birgittes mål: 200 boliger energirenoveret"})
        told = len(on.told(driver, "Anders", group_e))
        await on.fill(driver, "Anders", {"text": "Anders' mål: 150 boliger energirenoveret"})
        await driver.settle()

        goal = the_workshop(driver).goals[goal_id]
        assert goal.text == "Birgittes mål: 200 boliger energirenoveret"
        assert_told_of_conflict(on, driver, "Anders", "Birgitte", group_e, told,
                                "Anders' mål: 150 boliger energirenoveret")
        card, _ = driver.find_button("Anders", group_e, "support_goal", goal=goal_id)
        assert "Birgittes mål" in card.texts and "Anders' mål" not in card.texts


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_two_members_saving_one_goal_at_once_one_wins_the_other_is_told(
        platform: str, databases: Callable[[str], str], tmp_path: Path) -> None:
    on = PLATFORMS[platform]
    group_e = on.channel["E"]
    texts = {"Anders": "Anders' udgave: 150 boliger", "Birgitte": "Birgittes udgave: 200 boliger"}
    async with replay.replaying(on.name, tmp_path, databases("race_goal"), "once") as driver:
        await on.flow.play(driver, SHORT, until="goals_plenum")
        [goal_id] = [a["goal"] for a in driver.buttons("Anders", group_e, "edit_goal")]
        for name in texts:
            await driver.press(name, group_e, "edit_goal", goal=goal_id)
        told_before = {name: len(on.told(driver, name, group_e)) for name in texts}
        await race(*(driver.fill(name, {"text": text}) for name, text in texts.items()))
        await driver.settle()

        goal = the_workshop(driver).goals[goal_id]
        winner = "Anders" if goal.updated_by.endswith("anders") else "Birgitte"
        loser = next(name for name in texts if name != winner)
        assert goal.text == texts[winner]
        assert_told_of_conflict(on, driver, loser, winner, group_e, told_before[loser], texts[loser])


@pytest.mark.parametrize("form", [
    "edit_goal",
    "add_goal",
])
async def test_one_goal_card_submitted_by_two_members_at_once_saves_one_goal_in_teams(
        form: str, databases: Callable[[str], str], tmp_path: Path) -> None:
    """In Teams a form card is posted in the channel, so two members can submit the very same
    card, each with their own text, at the same moment."""
    group_e = Teams.channel["E"]
    texts = {"Anders": "Anders' udgave: 150 boliger", "Birgitte": "Birgittes udgave: 200 boliger"}
    async with replay.replaying("teams", tmp_path, databases("same_card"), "once") as driver:
        await teams_flow.play(driver, SHORT, until="goals_plenum")
        [goal_id] = [a["goal"] for a in driver.buttons("Anders", group_e, "edit_goal")]
        args = {"goal": goal_id} if form == "edit_goal" else {"m": "E-energi"}
        await driver.press("Anders", group_e, form, **args)
        goals_before = set(the_workshop(driver).goals)
        told_before = {name: len(Teams.told(driver, name, group_e)) for name in texts}
        values = {name: teams_flow.goal(text) for name, text in texts.items()}
        await race(driver.fill("Anders", values["Anders"]),
                   driver.fill_card_of("Anders", "Birgitte", values["Birgitte"]))
        await driver.settle()

        goals = the_workshop(driver).goals
        assert len(set(goals) - goals_before) == (1 if form == "add_goal" else 0)  # one card, one goal
        [saved] = [g for g in goals.values() if g.text in texts.values()]
        winner = "Anders" if saved.updated_by.endswith("anders") else "Birgitte"
        loser = next(name for name in texts if name != winner)
        assert_told_of_conflict(Teams, driver, loser, winner, group_e, told_before[loser], texts[loser])


def assert_told_of_conflict(on: Platform, driver: Driver, loser: str, winner: str, where: str,
                            since: int, typed: str) -> None:
    """`loser` alone was told, once, that `winner` changed it meanwhile, with what they typed."""
    [told] = on.told(driver, loser, where)[since:]
    assert f"{winner} har ændret det samme imens" in told, told
    assert "Det du skrev, er ikke gemt" in told and typed in told, told


# --- 3. stale buttons and forms -------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_buttons_and_forms_of_an_earlier_phase_change_nothing_when_pressed_again(
        platform: str, databases: Callable[[str], str], tmp_path: Path) -> None:
    on = PLATFORMS[platform]
    group_e = on.channel["E"]
    async with replay.replaying(on.name, tmp_path, databases("stale"), "once") as driver:
        await on.flow.play(driver, SHORT, until="ambitions_plenum")
        await driver.press("Anders", group_e, "edit_ambition", m="E-energi")  # opened in phase 2 …
        await on.say(driver, F, on.plenum, "næste")  # … and phase 3 begins
        before = the_records(driver)
        told = {name: len(on.told(driver, name, where)) for name, where in (("Anders", group_e), (F, on.plenum))}

        # a dot on the phase 2 card, the start and the split as the cards showed them before,
        # and the phase 2 form sent now
        await driver.press_drawn_before("Anders", group_e, "vote", m="E-energi", level="minimum")
        await driver.press_drawn_before(F, on.plenum, "start")
        await driver.press_drawn_before(F, on.plenum, "approve_split")
        await on.fill(driver, "Anders", {"sentence": "For sent: en ny sætning"})
        await driver.settle()

        assert the_records(driver) == before
        anders = on.told(driver, "Anders", group_e)[told["Anders"]:]
        mette = on.told(driver, F, on.plenum)[told[F]:]
        assert len(anders) == 2 and len(mette) == 2, (anders, mette)
        assert all("Knappen hører til en fase, der er slut" in text for text in anders), anders
        assert "Workshoppen er allerede i gang" in mette[0], mette
        assert "Knappen hører til en fase, der er slut" in mette[1], mette
        assert "For sent: en ny sætning" in anders[-1]  # what he typed comes back to him


def the_records(driver: Driver) -> Any:
    """The workshop as stored and its history, without the outbox (refusals are messages)."""
    state = replay.stored(driver.store)
    return state["workshops"], state["history"]


# --- a request given up while its batch runs ---------------------------------------------------


class HeldService:
    """Stands in for WorkshopService: each batch waits until `release` is set, so that a
    request can be given up while its batch is in the service."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def handle_batch(self, events: list[Event]) -> list[Result]:
        self.release.wait(10)
        return [Result(workshop_id="w1") for _ in events]

    def handle(self, event: Event) -> Result:
        return self.handle_batch([event])[0]


def press_on_w1(number: int) -> Event:
    return Action(event_id=f"e{number}", org="T", conversation="slack:C-E",
                  actor=Actor("slack:U-anders", "Anders"), workshop_id="w1", action="vote")


async def test_a_request_given_up_while_its_batch_runs_leaves_the_others_answered() -> None:
    """A request whose handler is cancelled while its click is in a batch (the connection went
    away; the server shutting down): the other clicks of that batch are answered, and so is
    every later one on the workshop. Before, the batch's loop died setting the cancelled
    request's answer (InvalidStateError), and every later click on it waited for ever."""
    service = HeldService()
    batcher = Batcher(service)  # type: ignore[arg-type]
    running = asyncio.create_task(batcher.handle(press_on_w1(1)))
    await asyncio.sleep(0.05)  # its batch is in the service now; the next two wait together
    given_up = asyncio.create_task(batcher.handle(press_on_w1(2)))
    kept = asyncio.create_task(batcher.handle(press_on_w1(3)))
    await asyncio.sleep(0)
    given_up.cancel()
    service.release.set()
    assert (await asyncio.wait_for(running, 5)).workshop_id == "w1"
    assert (await asyncio.wait_for(kept, 5)).workshop_id == "w1"
    assert (await asyncio.wait_for(batcher.handle(press_on_w1(4)), 5)).workshop_id == "w1"
