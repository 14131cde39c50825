"""A whole workshop played over HTTP against a separate `serve` process, through Slack or
Teams (tests/soak/remote.py), for soaks that hurt the process while it runs.

The facilitator moves on only when a phase's time is up (she waits for the bot's private
"time is up" with its choice), so every phase timer is owed and fires during the play: the
10-minute reminder (phases of 20 minutes or more), the 5-minute one and the end. Each input
that the platform got a 2xx for is noted in `Expected`, to be looked for in the database
afterwards (tests/soak/checks.py).

Each round plays with people and channels of its own (names end in the round's number), so
that rounds never see each other's messages and can run one after another on one fake.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from bot.domain import agenda
from bot.domain.model import Phase
from bot.i18n import Translator
from tests.e2e import slack_driver, teams_driver
from tests.soak.remote import RemoteSlack, RemoteTeams

T = Translator("da")
MEASURES = ("E-energi", "S-tilfredshed", "G-kompetencer")  # one målepunkt a group
PEOPLE = {"E": ("Anders", "Birgitte"), "S": ("Hanne", "Ib"), "G": ("Maja", "Niels")}
FACILITATOR = "Mette"
OWNER = "Anders"  # takes every goal in phase 6, and answers on each after the workshop
PHASES = (Phase.INTRO, Phase.AMBITIONS, Phase.AMBITIONS_PLENUM, Phase.BREAK, Phase.SMART_GOALS,
          Phase.GOALS_PLENUM, Phase.WRAP_UP)
# Workshop minutes: 20 gets all three timers, 6 the 5-minute one and the end, the break its end
DURATIONS: Mapping[Phase, int] = {Phase.INTRO: 20, Phase.AMBITIONS: 20, Phase.AMBITIONS_PLENUM: 6,
                                  Phase.BREAK: 2, Phase.SMART_GOALS: 20, Phase.GOALS_PLENUM: 6,
                                  Phase.WRAP_UP: 6}
TIME_UP_SECONDS = 600.0  # a restart may hold a phase up (see the report of tests/soak/crash.py)
POLL_SECONDS = 0.1
SENTENCE = "Vi når niveauet for {measure} inden 2030 ({title})."
GOAL = "Et SMART-mål for {measure} ({title})"
FOLLOW_UP_STATUS = "in_progress"


def area(measure: str) -> str:
    return measure.partition("-")[0]


def marks(phase: Phase, minutes: int) -> tuple[str, ...]:
    """The phase timers a phase of `minutes` is armed with (bot/flow/phases.phase_timers)."""
    if phase == Phase.BREAK:
        return ("end",)
    wanted = [("10", 10), ("5", 5)] if minutes >= 20 else [("5", 5)]
    return (*(mark for mark, before in wanted if minutes > before), "end")


def phase_title(phase: Phase) -> str:
    """The heading of the phase's announcement (bot/flow/views.phase_title)."""
    name = T(f"phase.{phase}.name")
    number = agenda.number(phase)
    return name if number is None else T("phase.numbered", number=number, total=6, name=name)


def time_up_text(phase: Phase) -> str:
    return T("clock.time_up", phase=T(f"phase.{phase}.name"))


@dataclass
class Expected:
    """What the platform handed the bot and got a 2xx for: it must be in the database."""

    platform: str
    title: str
    measures: tuple[str, ...]
    durations: Mapping[Phase, int]
    facilitator: str
    owner: str
    votes: dict[tuple[str, str], str] = field(default_factory=dict)  # (measure, user id) → level
    sentences: dict[str, str] = field(default_factory=dict)  # measure → ambition sentence
    agreed: set[str] = field(default_factory=set)  # measures the plenum agreed on
    goals: dict[str, str] = field(default_factory=dict)  # measure → SMART goal text
    owned: set[str] = field(default_factory=set)  # goal ids given to `owner`
    followups: dict[str, str] = field(default_factory=dict)  # goal id → status reported
    phases_done: list[Phase] = field(default_factory=list)  # whose time-up the facilitator saw
    finished: bool = False  # the facilitator closed phase 6 and the owner answered


class WorkshopRun(ABC):
    """One workshop, played from `ny` to the owner's first follow-up answer."""

    platform = ""

    def __init__(self, round_number: int, tag: str = "",
                 measures: tuple[str, ...] = MEASURES,
                 durations: Mapping[Phase, int] = DURATIONS,
                 people: Mapping[str, tuple[str, ...]] = PEOPLE) -> None:
        self.round = round_number
        self.facilitator = self.person(FACILITATOR)
        self.owner = self.person(OWNER)
        self.measures = measures
        # Each group as the bot's split will make it: the split evens groups out, so the people
        # given must already be even (two people interested in one group may be split up)
        self.people = {code: tuple(self.person(n) for n in names) for code, names in people.items()
                       if any(area(m) == code for m in measures)}
        title = f"Soak {self.platform} {tag} {round_number}".replace("  ", " ")
        self.expected = Expected(self.platform, title, measures, durations, self.facilitator, self.owner)
        self.timings: dict[str, float] = {}

    def person(self, name: str) -> str:
        return f"{name}{self.round}"

    # -- what each platform does its own way ---------------------------------------------

    @property
    @abstractmethod
    def plenum(self) -> str: ...

    @abstractmethod
    def group(self, code: str) -> str: ...

    @abstractmethod
    def private(self, name: str) -> str:
        """Where `name` sees the bot's answers meant for them alone."""

    @abstractmethod
    def own_chat(self, name: str) -> str:
        """`name`'s own chat with the bot (their goals come there after the workshop)."""

    @abstractmethod
    def user(self, name: str) -> str:
        """The member id the bot keeps for `name` (its platform prefix and user id)."""

    @abstractmethod
    async def say(self, name: str, where: str, text: str) -> None: ...

    @abstractmethod
    async def press(self, name: str, where: str, action: str, **args: str) -> None: ...

    @abstractmethod
    async def fill(self, name: str, values: Mapping[str, Any]) -> None:
        """Submit the form last opened for `name`; the bot must take it (no errors)."""

    @abstractmethod
    def buttons(self, name: str, where: str, action: str) -> list[dict[str, str]]: ...

    @abstractmethod
    def private_texts(self, name: str) -> list[str]:
        """Every message the bot meant for `name` alone, as delivered, oldest first."""

    @abstractmethod
    def plenum_posts(self) -> list[tuple[list[str], str]]:
        """(headings, texts) of each message posted in the plenum, as first posted, in order."""

    # -- the workshop ---------------------------------------------------------------------

    async def play(self) -> Expected:
        steps = [("setup", self.set_up), ("intro", self.intro), ("ambitions", self.ambitions),
                 ("ambitions_plenum", self.agree), ("smart_goals", self.goals),
                 ("wrap_up", self.owners), ("follow_up", self.follow_up)]
        for name, step in steps:
            began = time.monotonic()
            await step()
            self.timings[name] = time.monotonic() - began
        self.expected.finished = True
        return self.expected

    async def set_up(self) -> None:
        f = self.facilitator
        await self.say(f, self.plenum, f"ny {self.expected.title}")
        await self.press(f, self.plenum, "setup_measures")
        await self.fill(f, {"measures": list(self.measures)})
        await self.press(f, self.plenum, "setup_agenda")
        await self.fill(f, {**{str(p.value): str(m) for p, m in self.expected.durations.items()},
                            "auto_advance": "ask"})
        for code in self.people:
            await self.say(f, self.group(code), f"gruppe {code}")

    async def intro(self) -> None:
        f = self.facilitator
        await self.press(f, self.plenum, "start")
        for code, names in self.people.items():
            for name in names:
                await self.press(name, self.plenum, "interest", area=code)
        await self.press(f, self.private(f), "propose_split")
        await self.press(f, self.plenum, "approve_split")
        await self.next_phase(Phase.INTRO)

    async def ambitions(self) -> None:
        for measure in self.measures:
            code = area(measure)
            for name in self.people[code]:
                await self.press(name, self.group(code), "vote", m=measure, level="ambitious")
                self.expected.votes[(measure, self.user(name))] = "ambitious"
            writer = self.people[code][0]
            sentence = SENTENCE.format(measure=measure, title=self.expected.title)
            await self.press(writer, self.group(code), "edit_ambition", m=measure)
            await self.fill(writer, {"sentence": sentence})
            self.expected.sentences[measure] = sentence
        await self.next_phase(Phase.AMBITIONS)

    async def agree(self) -> None:
        for measure in self.measures:
            await self.press(self.facilitator, self.plenum, "agree", m=measure)
            self.expected.agreed.add(measure)
        await self.next_phase(Phase.AMBITIONS_PLENUM)
        await self.next_phase(Phase.BREAK)

    async def goals(self) -> None:
        for measure in self.measures:
            code = area(measure)
            writer = self.people[code][-1]
            text = GOAL.format(measure=measure, title=self.expected.title)
            await self.press(writer, self.group(code), "add_goal", m=measure)
            await self.fill(writer, {"text": text, "indicator": "Andel i procent", "baseline": "40 %",
                                     "target": "80 %", "deadline": f"{date.today().year + 2}-06-30"})
            self.expected.goals[measure] = text
        await self.next_phase(Phase.SMART_GOALS)
        await self.next_phase(Phase.GOALS_PLENUM)

    async def owners(self) -> None:
        f = self.facilitator
        for goal in dict.fromkeys(args["goal"] for args in self.buttons(f, self.plenum, "set_owner")):
            await self.press(f, self.plenum, "set_owner", goal=goal)
            await self.fill(f, {"owner": self.owner})
            self.expected.owned.add(goal)
        await self.next_phase(Phase.WRAP_UP)

    async def follow_up(self) -> None:
        chat = self.own_chat(self.owner)
        for goal in dict.fromkeys(args["goal"] for args in self.buttons(self.owner, chat, "followup_status")):
            await self.press(self.owner, chat, "followup_status", goal=goal, status=FOLLOW_UP_STATUS)
            self.expected.followups[goal] = FOLLOW_UP_STATUS

    async def next_phase(self, phase: Phase) -> None:
        """Wait until the bot tells the facilitator that `phase`'s time is up (its end timer
        fired), then move on with `næste`."""
        await self.time_up(phase)
        self.expected.phases_done.append(phase)
        await self.say(self.facilitator, self.plenum, "næste")

    async def time_up(self, phase: Phase) -> None:
        wanted = time_up_text(phase)
        deadline = time.monotonic() + TIME_UP_SECONDS
        while not any(wanted in text for text in self.private_texts(self.facilitator)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.expected.title}: no '{wanted}' for {self.facilitator} "
                                   f"within {TIME_UP_SECONDS:.0f} s")
            await asyncio.sleep(POLL_SECONDS)


class SlackRun(WorkshopRun):
    platform = "slack"

    def __init__(self, slack: RemoteSlack, round_number: int, tag: str = "", **options: Any) -> None:
        super().__init__(round_number, tag, **options)
        self.slack = slack

    @property
    def plenum(self) -> str:
        return f"C-plenum-{self.round}"

    def group(self, code: str) -> str:
        return f"C-{code}-{self.round}"

    def private(self, name: str) -> str:
        return self.plenum  # ephemeral, in the channel where it was asked for

    def own_chat(self, name: str) -> str:
        return slack_driver.user_id(name)  # a user id as channel: the app's direct messages

    def user(self, name: str) -> str:
        return "slack:" + slack_driver.user_id(name)

    async def say(self, name: str, where: str, text: str) -> None:
        await self.slack.command(name, where, text)

    async def press(self, name: str, where: str, action: str, **args: str) -> None:
        await self.slack.press(name, where, action, **cast(dict[str, Any], args))  # no `settle` in args

    async def fill(self, name: str, values: Mapping[str, Any]) -> None:
        answer = await self.slack.fill(name, values)
        if answer:
            raise AssertionError(f"{name}'s form was not taken: {answer}")

    def buttons(self, name: str, where: str, action: str) -> list[dict[str, str]]:
        return self.slack.buttons(name, where, action)

    def private_texts(self, name: str) -> list[str]:
        return self.slack.ephemerals(name)

    def plenum_posts(self) -> list[tuple[list[str], str]]:
        return [(slack_driver.Shown(where, ts, params.get("blocks") or [], "", 0).headers,
                 slack_driver.Shown(where, ts, params.get("blocks") or [], "", 0).texts)
                for kind, where, ts, params in list(self.slack.fake.timeline)
                if kind == "post" and where == self.plenum]


class TeamsRun(WorkshopRun):
    platform = "teams"

    def __init__(self, teams: RemoteTeams, round_number: int, tag: str = "", **options: Any) -> None:
        super().__init__(round_number, tag, **options)
        self.teams = teams

    @property
    def plenum(self) -> str:
        return f"19:plenum-{self.round}@thread.tacv2"

    def group(self, code: str) -> str:
        return f"19:gruppe-{code.casefold()}-{self.round}@thread.tacv2"

    def private(self, name: str) -> str:
        return teams_driver.DM  # Teams has no ephemeral messages: one's own chat with the bot

    def own_chat(self, name: str) -> str:
        return teams_driver.DM

    def user(self, name: str) -> str:
        return "teams:" + teams_driver.user_id(name)

    async def say(self, name: str, where: str, text: str) -> None:
        await self.teams.say(name, where, text)

    async def press(self, name: str, where: str, action: str, **args: str) -> None:
        await self.teams.press(name, where, action, **cast(dict[str, Any], args))  # no `settle` in args

    async def fill(self, name: str, values: Mapping[str, Any]) -> None:
        # The card is redrawn after the answer, outside the outbox: whether the form was taken
        # is read from the database at the end, not from the card.
        await self.teams.fill(name, values)

    def buttons(self, name: str, where: str, action: str) -> list[dict[str, str]]:
        return self.teams.buttons(name, where, action)

    def private_texts(self, name: str) -> list[str]:
        shown = self.teams.messages(teams_driver.DM, name)
        first = self._first_copies([self.teams.fake.posted[(s.conversation, s.id)] for s in shown])
        return [s.texts for s in shown if s.id in first]

    def plenum_posts(self) -> list[tuple[list[str], str]]:
        posted = [p for (conversation, _), p in list(self.teams.fake.posted.items())
                  if conversation == self.plenum]
        first = [teams_driver.Shown(p.conversation_id, p.id, p.versions[0], 0) for p in posted
                 if p.id in self._first_copies(posted)]
        return [(shown.headings, shown.texts) for shown in sorted(first, key=lambda s: int(s.id))]

    @staticmethod
    def _first_copies(posted: list[Any]) -> set[str]:
        """The ids of the messages that are not a second copy of one outbox item. A copy is the
        bot sending again what a kill left in doubt (Teams' connector cannot be asked): it is
        logged, and counted apart (`sent again`), not as the phase's end told twice."""
        seen: set[tuple[str, str]] = set()
        first: set[str] = set()
        for p in sorted(posted, key=lambda p: int(p.id)):
            if p.item is None or (p.conversation_id, p.item) not in seen:
                first.add(p.id)
            if p.item is not None:
                seen.add((p.conversation_id, p.item))
        return first
