"""The load of bench/load.py: who does what when (the plan), and the process that sends it.

The plan is made up front, with a seed, so that the same stream can be sent to two servers. Each
workshop spends the first half of the run in phase 2 (dots on the vote cards, ambition sentences
written in a form opened by a button, `status`) and the second half in phase 4 (one SMART goal
per writer, written in a form opened by a button, then backing each other's goals, `status`):
at half time its facilitator types `next` three times (phase 3, the break, phase 4), and its
people wait meanwhile, as they would for the facilitator to speak.

The sender runs in a process of its own (spawned), so that making requests does not take the
servers' CPU or their GIL. A request is built when it is due (a Slack request's signature is
over its time stamp; a Teams activity needs a new id) from a few ids the plan names, and is timed
from the moment it is posted to the end of its answer. What a person can only know from what the
bot showed them (the id of the form card Teams shows them, the goals posted in their channel) is
asked of the fakes before the clock starts (bench/load_setup.py `control_app`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import multiprocessing
import random
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from bench.load_setup import GROUP_SIZE, SLACK_TEAM, Workshop

# (at, workshop, who, kind, measure, level): `who` is a member's number, -1 the facilitator
Planned = tuple[float, int, int, str, str, str]
KINDS = ("vote", "edit_ambition", "ambition", "add_goal", "goal", "support", "status", "next")
PAUSE = (-3.0, 8.0)  # around half time, people wait while the facilitator moves on
LEVELS = ("minimum", "medium", "ambitious")
FIRST_TEAMS_ID = 1_800_000_000_000  # above the fake's own activity ids, as in bench/teams.py
TIMEOUT = 10.0  # seconds; Slack gives up after 3, which is counted separately

Json = dict[str, Any]


# --- the plan --------------------------------------------------------------------------------

def plan(workshops: Sequence[Workshop], seconds: float, think: float, seed: int = 8) -> list[Planned]:
    """Every person's actions, each `think` seconds apart on average (at least one second)."""
    rng = random.Random(seed)
    half = seconds / 2
    events: list[Planned] = []
    for ws in workshops:
        events += _facilitator(ws, rng, seconds, half)
        for member in range(len(ws.members)):
            events += _member(ws, member, rng, seconds, half, think)
    return sorted(events)


def _facilitator(ws: Workshop, rng: random.Random, seconds: float, half: float) -> list[Planned]:
    events: list[Planned] = [(half + n * 1.5, ws.index, -1, "next", "", "") for n in range(3)]
    at = rng.uniform(0, 20)
    while at < seconds:
        if not half + PAUSE[0] < at < half + PAUSE[1]:
            events.append((at, ws.index, -1, "status", "", ""))
        at += rng.expovariate(1 / 20)
    return events


def _member(ws: Workshop, member: int, rng: random.Random, seconds: float, half: float,
            think: float) -> list[Planned]:
    """Phase 2: the first two of a group each write one målepunkt's ambition, again and again
    (button, then the form a few seconds later); everyone puts dots. Phase 4: the first six
    write one goal each, three to a målepunkt; then everyone backs goals. And `status`."""
    events: list[Planned] = []
    group = ws.group_of(member)
    mine, place = ws.measures[group], member % GROUP_SIZE
    wrote_goal = False
    at = rng.uniform(0, think)
    while at < seconds:
        if half + PAUSE[0] < at < half + PAUSE[1]:
            at = half + PAUSE[1] + rng.uniform(0, think)
            continue
        roll, measure = rng.random(), rng.choice(mine)
        if at < half:
            if place < len(mine) and roll < 0.3:
                measure = mine[place]
                typed = at + rng.uniform(3, 6)
                events += [(at, ws.index, member, "edit_ambition", measure, ""),
                           (typed, ws.index, member, "ambition", measure, rng.choice(LEVELS))]
                at = typed
            else:
                kind = "vote" if roll < 0.85 else "status"
                events.append((at, ws.index, member, kind, measure, rng.choice(LEVELS)))
        elif place < 3 * len(mine) and not wrote_goal:
            measure, wrote_goal = mine[place % len(mine)], True
            typed = at + rng.uniform(4, 8)
            events += [(at, ws.index, member, "add_goal", measure, ""),
                       (typed, ws.index, member, "goal", measure, "")]
            at = typed
        else:
            events.append((at, ws.index, member, "support" if roll < 0.7 else "status", measure, ""))
        at += max(1.0, rng.expovariate(1 / think))
    return [event for event in events if event[0] < seconds]


# --- the sender process -------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    workshops: list[Workshop]
    planned: list[Planned]
    bot_url: str  # the server's base URL: /slack/events and /api/messages under it
    control_url: str  # bench/load_setup.py control_app
    slack_secret: str
    teams_authorization: str  # the Bot Connector's token: it names the service URL, not the activity
    teams_fake_port: int
    only_slack: bool = False  # only the Slack workshops' requests (the Teams ones sit idle)
    bare: bool = False  # the minimal slack-bolt app: it posts nothing, so nothing is looked up


@dataclass(frozen=True)
class Sample:
    platform: str
    kind: str
    at: float  # planned, seconds from the start
    lag: float  # how late it was posted (building it, looking things up, the sender's own delays)
    seconds: float  # to the end of the answer
    status: int  # HTTP status; 0: no answer within TIMEOUT, or the connection failed


@dataclass
class Report:
    samples: list[Sample] = field(default_factory=list)
    missing_cards: int = 0  # Teams presses and submissions whose card was not shown yet
    no_goals: int = 0  # backings that found no goal yet (sent as `status` instead)


def _sender_process(connection: Connection) -> None:
    while (job := connection.recv()) is not None:
        connection.send(asyncio.run(Sender(job).run()))


class Senders:
    """The sending process, as bench/teams.py's: spawned, not forked, since the parent runs
    threads (the fakes)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_sender_process, args=(child,), daemon=True)
        self._process.start()

    @property
    def pid(self) -> int:
        return int(self._process.pid or 0)

    async def run(self, job: Job) -> Report:
        self._connection.send(job)
        report: Report = await asyncio.to_thread(self._connection.recv)
        return report

    def close(self) -> None:
        self._connection.send(None)
        self._process.join(10)


class Sender:
    def __init__(self, job: Job) -> None:
        from tests.fakes.teams_api import FakeTeamsApi  # only to shape activities as Teams does

        self.job = job
        self.workshops = {ws.index: ws for ws in job.workshops}
        self.teams = FakeTeamsApi(port=job.teams_fake_port)
        self.report = Report()
        self.numbers = itertools.count(1)
        self.teams_ids = itertools.count(FIRST_TEAMS_ID)
        self.ambition_versions: dict[tuple[int, str], int] = {}  # saved so far, by its one writer
        self.goals: dict[tuple[int, str], tuple[float, list[Json]]] = {}  # (workshop, group) → when seen, goals
        self.deadline = f"{date.today().year + 2}-06-30"

    async def run(self) -> Report:
        planned = [p for p in self.job.planned
                   if not self.job.only_slack or self.workshops[p[1]].platform == "slack"]
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
            self.session = session
            loop = asyncio.get_running_loop()
            start = loop.time() + 0.5
            tasks = []
            for event in planned:
                if (delay := start + event[0] - loop.time()) > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self._one(event, start)))
            await asyncio.gather(*tasks)
        return self.report

    async def _one(self, event: Planned, start: float) -> None:
        at, index, who, kind, measure, level = event
        ws = self.workshops[index]
        try:
            path, body, headers, kind = await self._request(ws, who, kind, measure, level)
        except aiohttp.ClientError:
            return  # the control server: not the server under load
        loop = asyncio.get_running_loop()
        posted = loop.time()
        status, answer = 0, b""
        try:
            async with self.session.post(self.job.bot_url + path, data=body, headers=headers) as response:
                answer = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            pass
        done = loop.time()
        if kind == "ambition" and 200 <= status < 300 and b"errors" not in answer:
            self.ambition_versions[(index, measure)] = self.ambition_versions.get((index, measure), 0) + 1
        self.report.samples.append(Sample(ws.platform, kind, at, posted - (start + at), done - posted, status))

    async def _request(self, ws: Workshop, who: int, kind: str, measure: str,
                       level: str) -> tuple[str, bytes, dict[str, str], str]:
        if ws.platform == "slack":
            body, kind = await self._slack(ws, who, kind, measure, level)
            return "/slack/events", body, self._signed(body), kind
        activity, kind = await self._teams(ws, who, kind, measure, level)
        return "/api/messages", json.dumps(activity).encode(), {
            "Authorization": self.job.teams_authorization, "Content-Type": "application/json"}, kind

    # -- Slack ------------------------------------------------------------------------------

    def _signed(self, body: bytes) -> dict[str, str]:
        stamp = str(int(time.time()))
        digest = hmac.new(self.job.slack_secret.encode(), b"v0:" + stamp.encode() + b":" + body,
                          hashlib.sha256).hexdigest()
        return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": f"v0={digest}"}

    async def _slack(self, ws: Workshop, who: int, kind: str, measure: str, level: str) -> tuple[bytes, str]:
        name = ws.facilitator if who < 0 else ws.members[who]
        channel = ws.plenum if who < 0 else ws.channels[ws.group_of(who)]
        seq = str(ws.seq + (3 if kind in ("add_goal", "goal", "support") else 0))
        match kind:
            case "vote" | "edit_ambition":
                shown = ws.buttons[f"{measure}|{level if kind == 'vote' else 'edit'}"]
                return _form({"payload": json.dumps(self._click(name, channel, shown))}), kind
            case "add_goal":
                value = _button_value("add_goal", {"workshop": ws.id, "seq": seq, "m": measure})
                shown = {"ts": "", "block_id": "", "element": {
                    "type": "button", "action_id": "add_goal:0", "value": value,
                    "text": {"type": "plain_text", "text": "Tilføj SMART-mål"}}}
                return _form({"payload": json.dumps(self._click(name, channel, shown))}), kind
            case "support":
                goal = await self._slack_goal(ws, who, channel, seq)
                if goal is None:
                    return await self._slack(ws, who, "status", measure, level)
                return _form({"payload": json.dumps(self._click(name, channel, goal))}), kind
            case "ambition":
                version = self.ambition_versions.get((ws.index, measure), 0)
                args = {"workshop": ws.id, "seq": seq, "m": measure, "version": str(version)}
                values = {"level": _select(level), "sentence": _text(f"{name} vil {measure} — udgave {version}.")}
                return _form({"payload": json.dumps(self._view(name, channel, "ambition", args, values))}), kind
            case "goal":
                args = {"workshop": ws.id, "seq": seq, "m": measure, "goal": "", "version": "0"}
                values = {"text": _text(f"{name}: 120 boliger energirenoveret i afdeling {ws.index}"),
                          "indicator": _text("Andel i procent"), "baseline": _text("40 %"),
                          "target": _text("80 %"),
                          "deadline": {"type": "datepicker", "selected_date": self.deadline}}
                return _form({"payload": json.dumps(self._view(name, channel, "goal", args, values))}), kind
            case _:  # status, next
                text = "næste" if kind == "next" else "status"
                return _form({"token": "legacy", "team_id": SLACK_TEAM, "team_domain": "load",
                              "channel_id": channel, "channel_name": channel.casefold(),
                              "user_id": _slack_user(name), "user_name": name, "command": "/ambition",
                              "text": text, "api_app_id": "A-ambition", "trigger_id": self._trigger(),
                              "response_url": "http://127.0.0.1:9/commands/response"}), kind

    def _trigger(self) -> str:
        return f"{next(self.numbers)}.{time.monotonic_ns()}.trigger"

    def _click(self, name: str, channel: str, shown: Json) -> Json:
        """A block_actions payload, as tests/e2e/slack_driver.py `press` sends it."""
        element = shown["element"]
        payload: Json = {
            "type": "block_actions", "api_app_id": "A-ambition", "token": "legacy", "trigger_id": self._trigger(),
            "team": {"id": SLACK_TEAM, "domain": "load"},
            "user": {"id": _slack_user(name), "username": name.casefold(), "name": name, "team_id": SLACK_TEAM},
            "channel": {"id": channel, "name": channel.casefold()},
            "container": {"type": "message", "message_ts": shown["ts"], "channel_id": channel, "is_ephemeral": False},
            "actions": [{"type": "button", "action_id": element["action_id"], "block_id": shown["block_id"],
                         "value": element["value"], "text": element["text"],
                         "action_ts": f"{int(time.time())}.{next(self.numbers):06d}"}]}
        if shown.get("blocks"):
            payload["message"] = {"type": "message", "ts": shown["ts"], "text": "", "blocks": shown["blocks"]}
        return payload

    def _view(self, name: str, channel: str, form: str, args: Json, values: Json) -> Json:
        """A view_submission payload: the modal as the bot would draw it, with what was typed."""
        return {"type": "view_submission", "api_app_id": "A-ambition", "token": "legacy",
                "trigger_id": self._trigger(), "team": {"id": SLACK_TEAM, "domain": "load"},
                "user": {"id": _slack_user(name), "username": name.casefold(), "name": name, "team_id": SLACK_TEAM},
                "view": {**_modal(form, args, channel), "id": f"V{next(self.numbers):08d}", "team_id": SLACK_TEAM,
                         "state": {"values": {key: {key: value} for key, value in values.items()}},
                         "hash": f"h{next(self.numbers)}"}}

    async def _slack_goal(self, ws: Workshop, who: int, channel: str, seq: str) -> Json | None:
        if self.job.bare:  # nothing to look at: the minimal app posts nothing
            value = _button_value("support_goal", {"workshop": ws.id, "seq": seq, "goal": "g0000000000"})
            return {"ts": "1700000000.000100", "block_id": "", "element": {
                "type": "button", "action_id": "support_goal:1", "value": value,
                "text": {"type": "plain_text", "text": "Vi bakker op"}}}
        goals = await self._goals(ws, who, channel)
        return random.choice(goals) if goals else None

    async def _goals(self, ws: Workshop, who: int, channel: str) -> list[Json]:
        """The goals shown in the group's channel, looked at again after a few seconds."""
        key = (ws.index, ws.group_of(who))
        seen, goals = self.goals.get(key, (0.0, []))
        if time.monotonic() - seen > 5 or not goals:
            goals = await self._look(ws.platform, channel, "support_goal")
            self.goals[key] = (time.monotonic(), goals)
        if not goals:
            self.report.no_goals += 1
        return goals

    async def _look(self, platform: str, channel: str, action: str, **args: str) -> list[Json]:
        query = {"platform": platform, "channel": channel, "action": action, **args}
        async with self.session.get(self.job.control_url + "/buttons", params=query) as response:
            found: list[Json] = await response.json()
        return found

    # -- Teams ------------------------------------------------------------------------------

    async def _teams(self, ws: Workshop, who: int, kind: str, measure: str, level: str) -> tuple[Json, str]:
        from tests.e2e.teams_driver import person

        name = ws.facilitator if who < 0 else ws.members[who]
        channel = ws.plenum if who < 0 else ws.channels[ws.group_of(who)]
        match kind:
            case "vote" | "edit_ambition":
                shown = ws.buttons[f"{measure}|{level if kind == 'vote' else 'edit'}"]
                return self._submit(name, channel, shown["id"], shown["data"]), kind
            case "add_goal" | "support":
                action, args = ("add_goal", {"m": measure}) if kind == "add_goal" else ("support_goal", {})
                found = (await self._goals(ws, who, channel) if kind == "support"
                         else await self._look("teams", channel, action, **args))
                if not found and kind == "add_goal":  # the goals card is not shown yet: its button as drawn
                    self.report.missing_cards += 1
                    found = [self._teams_blind(ws, "add_goal", {"m": measure})]
                if not found:
                    return await self._teams(ws, who, "status", measure, level)
                card = random.choice(found) if kind == "support" else found[0]
                return self._submit(name, channel, card["id"], card["data"]), kind
            case "ambition" | "goal":
                typed = ({"level": level, "sentence": f"{name} vil {measure}."} if kind == "ambition" else
                         {"text": f"{name}: 120 boliger energirenoveret i afdeling {ws.index}",
                          "indicator": "Andel i procent", "baseline": "40 %", "target": "80 %",
                          "deadline": self.deadline})
                found = await self._look("teams", channel, "form_submit", form=kind, m=measure)
                if not found:  # not shown yet (its channel's deliveries are paced): an old card's data
                    self.report.missing_cards += 1
                    return self._teams_form_blind(ws, name, channel, kind, measure, typed), kind
                card = found[0]
                return self._submit(name, channel, card["id"], {**card["data"], **typed}), kind
            case _:  # status, next: a new post in the channel
                activity = self.teams.channel_message("næste" if kind == "next" else "status",
                                                      person=person(name), channel=channel)
                activity_id = str(next(self.teams_ids))
                activity["id"], activity["conversation"]["id"] = activity_id, f"{channel};messageid={activity_id}"
                return activity, kind

    def _submit(self, name: str, channel: str, card: str, value: Json) -> Json:
        """A press on a card posted in a channel arrives in the card's thread (teams_driver `_submit`)."""
        from tests.e2e.teams_driver import person

        activity = self.teams.card_submit(value, reply_to_id=card, conversation_id=f"{channel};messageid={card}",
                                          person=person(name))
        activity["id"] = str(next(self.teams_ids))
        return activity

    def _teams_form_blind(self, ws: Workshop, name: str, channel: str, form: str, measure: str,
                          typed: Json) -> Json:
        args = {"m": measure, "version": "0", "form": form, "teams_origin": "teams:" + channel}
        card = self._teams_blind(ws, "form_submit", args | ({"goal": ""} if form == "goal" else {}))
        return self._submit(name, channel, card["id"], {**card["data"], **typed})

    def _teams_blind(self, ws: Workshop, action: str, args: dict[str, str]) -> Json:
        """A card's button as the bot draws it, on a card id Teams never showed (the bot looks a
        card up only to draw a submitted form again, and then finds none)."""
        from adapters.teams.render import SUBMIT_KEY

        phase_four = action == "add_goal" or args.get("form") == "goal"
        full = {"workshop": ws.id, "seq": str(ws.seq + (3 if phase_four else 0)), **args}
        return {"id": str(next(self.teams_ids)), "data": {SUBMIT_KEY: {"action": action, "args": full}}}


# --- small things -----------------------------------------------------------------------------

def _slack_user(name: str) -> str:
    return "U-" + name.casefold()  # as tests/e2e/slack_driver.py names people


def _form(fields: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def _button_value(action: str, args: dict[str, str]) -> str:
    from adapters.slack.render import button_value
    from bot.ui import Button

    return button_value(Button("", action, args))


def _text(value: str) -> Json:
    return {"type": "plain_text_input", "value": value}


def _select(value: str) -> Json:
    return {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": value},
                                                          "value": value}}


_MODALS: dict[str, Json] = {}


def _modal(form: str, args: Json, channel: str) -> Json:
    """The modal the bot opens for `form` in `channel` (drawn as adapters/slack/deliver.py
    `view_of` does), with these args: Slack sends the whole view back with the values."""
    from adapters.slack.render import modal
    from bot.ui import FieldKind, Form, FormField

    if form not in _MODALS:
        fields = ((FormField("level", "Ambitionsniveau", FieldKind.CHOICE, required=True, value="medium",
                             options=tuple((lv, lv.capitalize()) for lv in LEVELS)),
                   FormField("sentence", "Ambitionssætning", FieldKind.LONG_TEXT, required=True, max_length=280,
                             hint="Én sætning, som alle kan forstå."))
                  if form == "ambition" else
                  (FormField("text", "Mål", FieldKind.LONG_TEXT, required=True, max_length=500),
                   FormField("indicator", "Indikator", max_length=200), FormField("baseline", "Udgangspunkt", max_length=100),
                   FormField("target", "Målværdi", max_length=100), FormField("deadline", "Deadline", FieldKind.DATE)))
        _MODALS[form] = modal(Form(form, form.capitalize(), "Gem", fields, {}, intro="Skriv det, gruppen er enig om."))
    return {**_MODALS[form], "private_metadata": json.dumps({"args": args, "conversation": "slack:" + channel})}

