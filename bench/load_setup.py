"""The Slack and Teams sides of bench/load.py: the loopback fakes (indexed, so that the load can
ask what the bot posted in a channel), and workshops set up through the bot's real endpoints.

Setting up goes through the e2e drivers (tests/e2e/slack_driver.py, teams_driver.py), pointed
at the bot's server in its own process instead of an in-process test client: they already know
how Slack and Teams send a slash command, a button press and a form, and where a person finds
a button. The outbox delivers to the fakes with the real deliverers, so the cards the load
presses later are the ones the bot drew.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from adapters.slack.render import parse_button
from adapters.teams.render import SUBMIT_KEY
from tests.e2e.slack_driver import SlackWorkshop, SlackWorkspace
from tests.e2e.teams_driver import DM, TeamsService, TeamsWorkshop, card_nodes, channel_of, user_id
from tests.fakes.teams_api import FakeTeamsApi
from tests.harness import MEASURES

T = TypeVar("T")
SLACK_TEAM = "T-load"
GROUPS = ("E", "S", "G")
GROUP_SIZE = 7
SETUP_TIMEOUT = 120.0  # seconds a workshop may take to reach phase 2 (deliveries are paced)
POLL = 0.3

Json = dict[str, Any]


# --- the fakes, indexed by channel ---------------------------------------------------------

class _Routed(list[Any]):
    """A list that also hands each item appended to `route` (None: it keeps nothing)."""

    def __init__(self, route: Callable[[Any], None]) -> None:
        super().__init__()
        self.route: Callable[[Any], None] | None = route

    def append(self, item: Any) -> None:
        if self.route is not None:
            super().append(item)
            self.route(item)


class View:
    """One workshop's share of a shared fake, for its driver: the drivers look through all of
    what a fake shows at every step, which for a hundred workshops at once starved the fakes."""

    def __init__(self, fake: object, **own: Any) -> None:
        self._fake = fake
        self.__dict__.update(own)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fake, name)


def tag_of(conversation: str) -> str:
    """The workshop a channel belongs to ("CW007E", "19:w007-E@thread.tacv2" → "007")."""
    return conversation[2:5] if conversation.startswith("CW") else conversation[4:7]


@dataclass
class LoadSlack(SlackWorkspace):
    """The fake Web API with each channel's messages in the order posted."""

    by_channel: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_workshop: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        super().__post_init__()
        self.timeline = self._routed = _Routed(lambda entry: self.by_workshop[tag_of(entry[1])].append(entry))

    def view(self, index: int) -> View:
        return View(self, timeline=self.by_workshop[f"{index:03d}"])

    def set_up(self) -> None:
        """Set-up is over: the drivers' timeline is no longer looked at, nor kept."""
        self._routed.route = None
        self._routed.clear()
        self.by_workshop.clear()

    def _chat_postMessage(self, params: Json) -> Json:
        answer = super()._chat_postMessage(params)
        self.by_channel[answer["channel"]].append(answer["ts"])
        return answer

    def buttons(self, channel: str, action: str, args: dict[str, str]) -> list[Json]:
        """The `action` buttons with these args in `channel`, on the newest message first."""
        found = []
        for ts in reversed(self.by_channel.get(channel, [])[-200:]):
            blocks = (self.messages.get((channel, ts)) or {}).get("blocks") or []
            for block in blocks:
                for element in block.get("elements") or ():
                    if element.get("type") != "button":
                        continue
                    try:
                        name, given = parse_button(str(element.get("value", "")))
                    except ValueError:
                        continue
                    if name == action and all(given.get(k) == v for k, v in args.items()):
                        found.append({"ts": ts, "element": element, "block_id": block.get("block_id", ""),
                                      "args": given})
        return found


@dataclass
class LoadTeams(TeamsService):
    """The fake Bot Connector with each channel's posts (threads included) in the order posted."""

    by_channel: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    by_workshop: dict[str, dict[tuple[str, str], Any]] = field(default_factory=lambda: defaultdict(dict))
    owners: dict[str, str] = field(default_factory=dict)  # a person's own chat → their workshop

    def view(self, index: int) -> View:
        return View(self, posted=self.by_workshop[f"{index:03d}"])

    def set_up(self) -> None:
        self.by_workshop.clear()
        self.owners.clear()

    def _post(self, conversation_id: str, activity: Json, reply_to_id: str | None = None,
              *more: Any, **named: Any) -> str:
        # TeamsService's bookkeeping, around the plain fake's (whose signature grows now and then)
        activity_id: str = FakeTeamsApi._post(self, conversation_id, activity, reply_to_id, *more, **named)
        self.touched[(conversation_id, activity_id)] = next(self._ticks)
        self.by_channel[channel_of(conversation_id)].append((conversation_id, activity_id))
        tag = self.owners.get(conversation_id) or tag_of(conversation_id)
        if self.owners:  # still setting up
            self.by_workshop[tag][(conversation_id, activity_id)] = self.posted[(conversation_id, activity_id)]
        return activity_id

    def buttons(self, channel: str, action: str, args: dict[str, str]) -> list[Json]:
        """The Action.Submit doing `action` with these args in `channel`, newest card first (a
        saved form card is drawn again without its button, so only open forms are found)."""
        found = []
        for key in reversed(self.by_channel.get(channel, [])[-300:]):
            posted = self.posted.get(key)
            if posted is None or posted.deleted:
                continue
            for card in posted.cards:
                for node in card_nodes(card, "Action.Submit"):
                    data = node.get("data") or {}
                    inner = data.get(SUBMIT_KEY) or {}
                    given = inner.get("args") or {}
                    if inner.get("action") == action and all(given.get(k) == v for k, v in args.items()):
                        found.append({"id": key[1], "conversation": key[0], "data": data, "args": given})
        return found


def take_calls(fake: LoadSlack | LoadTeams) -> Counter[str]:
    """What the bot asked of the fake since the last look, by method and outcome; the record is
    dropped (it would grow by hundreds of requests a second, with their bodies)."""
    calls, fake.calls = fake.calls, []
    counts: Counter[str] = Counter()
    for call in calls:
        method = str(getattr(call, "method" if isinstance(fake, LoadSlack) else "route", ""))
        failed = getattr(call, "error", "") or (str(call.status) if call.status not in (200, 201) else "")
        counts[f"{method} {failed}".strip()] += 1
    if isinstance(fake, LoadSlack):
        fake.opened.clear()
    return counts


def control_app(slack: LoadSlack, teams: LoadTeams) -> web.Application:
    """GET /buttons?platform=&channel=&action=&<arg>=…: what the load generator's people see."""

    async def buttons(request: web.Request) -> web.Response:
        query = dict(request.query)
        platform, channel, action = query.pop("platform"), query.pop("channel"), query.pop("action")
        fake: LoadSlack | LoadTeams = slack if platform == "slack" else teams
        return web.json_response(fake.buttons(channel, action, query)[:10])

    app = web.Application()
    app.router.add_get("/buttons", buttons)
    return app


# --- a workshop, as the load sees it ---------------------------------------------------------

@dataclass
class Workshop:
    index: int
    platform: str  # "slack" or "teams"
    id: str = ""
    seq: int = 0  # phase_seq in phase 2; each "next" adds one
    plenum: str = ""
    channels: dict[str, str] = field(default_factory=dict)  # group → channel id
    facilitator: str = ""
    members: list[str] = field(default_factory=list)  # GROUP_SIZE per group, in GROUPS order
    measures: dict[str, list[str]] = field(default_factory=dict)  # group → its målepunkter
    # the buttons on the phase 2 cards, by (measure, level) and (measure, "edit"): for Slack the
    # button element with its message, for Teams the card's id and the submit data
    buttons: dict[str, Json] = field(default_factory=dict)

    def group_of(self, member: int) -> str:
        return GROUPS[member // GROUP_SIZE]


def new_workshop(index: int, platform: str) -> Workshop:
    tag = f"w{index:03d}"
    if platform == "slack":
        plenum, channels = f"C{tag.upper()}P", {g: f"C{tag.upper()}{g}" for g in GROUPS}
    else:
        plenum, channels = f"19:{tag}-plenum@thread.tacv2", {g: f"19:{tag}-{g}@thread.tacv2" for g in GROUPS}
    by_group: dict[str, list[str]] = {g: [] for g in GROUPS}
    for measure in MEASURES:
        by_group[measure.partition("-")[0]].append(measure)
    return Workshop(index, platform, plenum=plenum, channels=channels, facilitator=f"W{index:03d}F",
                    members=[f"W{index:03d}M{n:02d}" for n in range(GROUP_SIZE * len(GROUPS))],
                    measures=by_group)


class Http:
    """What the drivers expect of aiohttp's TestClient (`post` to a path), against a real URL."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.session.post(self.base + path, **kwargs)


async def until(step: Callable[[], Awaitable[T]], what: str, timeout: float = SETUP_TIMEOUT) -> T:
    """`step` once what it looks for has been delivered (it raises LookupError until then)."""
    ends = time.monotonic() + timeout
    while True:
        try:
            return await step()
        except LookupError:
            if time.monotonic() > ends:
                raise TimeoutError(f"not delivered after {timeout:.0f} s: {what}") from None
            await asyncio.sleep(POLL)


_numbers = itertools.count(1)


def slack_driver(ws: Workshop, fake: LoadSlack, http: Http) -> SlackWorkshop:
    driver = SlackWorkshop(Path("."), team=SLACK_TEAM)
    driver.fake, driver.client = fake.view(ws.index), http  # type: ignore[assignment]
    driver._numbers = _numbers  # trigger ids unique across all the drivers
    return driver


def teams_driver(ws: Workshop, fake: LoadTeams, http: Http) -> TeamsWorkshop:
    driver = TeamsWorkshop(Path("."))
    driver.fake, driver.client = fake.view(ws.index), http  # type: ignore[assignment]
    fake.owners[fake.personal_conversation_id(user_id(ws.facilitator))] = f"{ws.index:03d}"
    return driver


async def set_up_slack(ws: Workshop, fake: LoadSlack, http: Http) -> None:
    """From `/ambition ny` to phase 2, as people in Slack do it (tests/e2e/test_slack_workshop.py)."""
    d, f, plenum = slack_driver(ws, fake, http), ws.facilitator, ws.plenum
    await d.command(f, plenum, f"ny Load {ws.index:03d}", settle=False)
    await until(lambda: d.press(f, plenum, "setup_measures", settle=False), "the setup card")
    answer = await until(lambda: d.fill(f, {"measures": list(MEASURES)}, settle=False), "the measures modal")
    assert answer == {}, answer
    for code, channel in ws.channels.items():
        await d.command(f, channel, f"gruppe {code}", settle=False)
    await d.press(f, plenum, "start", settle=False)
    for number, name in enumerate(ws.members):
        await until(lambda: d.press(name, plenum, "interest", settle=False, area=ws.group_of(number)),
                    "the interest card")
    await until(lambda: d.press(f, plenum, "propose_split", settle=False), "the facilitator's split button")
    await until(lambda: d.press(f, plenum, "approve_split", settle=False), "the split card")
    await d.command(f, plenum, "næste", settle=False)
    for code, channel in ws.channels.items():
        member = ws.members[GROUPS.index(code) * GROUP_SIZE]
        for measure in ws.measures[code]:
            for level in ("minimum", "medium", "ambitious", "edit"):
                action, args = ("edit_ambition", {"m": measure}) if level == "edit" else \
                    ("vote", {"m": measure, "level": level})
                shown, element = await until(_found(lambda: d.find_button(member, channel, action, **args)),
                                             f"the vote card of {measure} in {channel}")
                ws.buttons[f"{measure}|{level}"] = {"ts": shown.ts, "blocks": shown.blocks, "element": element,
                                                    "block_id": d._block_of(shown, element)}
    _, args = parse_button(ws.buttons[f"{ws.measures['E'][0]}|edit"]["element"]["value"])
    ws.id, ws.seq = args["workshop"], int(args["seq"])


async def set_up_teams(ws: Workshop, fake: LoadTeams, http: Http) -> None:
    """From `@Ambition ny` to phase 2, as people in Teams do it (tests/e2e/test_teams_workshop.py)."""
    d, f, plenum = teams_driver(ws, fake, http), ws.facilitator, ws.plenum
    await d.say(f, plenum, f"ny Load {ws.index:03d}", settle=False)
    await until(lambda: d.press(f, plenum, "setup_measures", settle=False), "the setup card")
    await until(lambda: d.fill(f, {"measures": list(MEASURES)}, settle=False), "the measures form")
    for code, channel in ws.channels.items():
        await d.say(f, channel, f"gruppe {code}", settle=False)
    await d.press(f, plenum, "start", settle=False)
    for number, name in enumerate(ws.members):
        await until(lambda: d.press(name, plenum, "interest", settle=False, area=ws.group_of(number)),
                    "the interest card")
    await until(lambda: d.press(f, DM, "propose_split", settle=False), "the facilitator's split button")
    await until(lambda: d.press(f, plenum, "approve_split", settle=False), "the split card")
    await d.say(f, plenum, "næste", settle=False)
    for code, channel in ws.channels.items():
        member = ws.members[GROUPS.index(code) * GROUP_SIZE]
        for measure in ws.measures[code]:
            for level in ("minimum", "medium", "ambitious", "edit"):
                action, args = ("edit_ambition", {"m": measure}) if level == "edit" else \
                    ("vote", {"m": measure, "level": level})
                shown, button = await until(_found(lambda: d.find_button(member, channel, action, **args)),
                                            f"the vote card of {measure} in {channel}")
                ws.buttons[f"{measure}|{level}"] = {"id": shown.id, "data": button["data"]}
    inner = ws.buttons[f"{ws.measures['E'][0]}|edit"]["data"][SUBMIT_KEY]["args"]
    ws.id, ws.seq = inner["workshop"], int(inner["seq"])


def _found(look: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    async def step() -> T:
        return look()
    return step

