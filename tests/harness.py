"""A workshop driven through the pure engine only: no store, no adapter, time by hand.

`Room` keeps the state and every effect, finds buttons and forms the way a person would
(the newest one they can see), and can bring a workshop to any phase in a few lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import engine
from bot.domain.model import Phase, Workshop
from bot.effects import Direct, Effect, OpenForm, Post, PostPrivate, Schedule, Update
from bot.events import Action, Actor, Command, Event, FormSubmitted, MemberJoined, timer_fired
from bot.flow.turn import Context, Outcome
from bot.ui import Button, Buttons, Fields, Message, Progress, Text
from tests.conftest import START

ORG = "org-1"
FACILITATOR = "Mette"
MEASURES = ("E-energi", "E-co2", "S-tilfredshed", "S-udsaettelser", "G-kompetencer", "G-indkoeb")
# seven with interest in E, so E can split; S and G get six each
PEOPLE = {"Anders": "E", "Birgitte": "E", "Carsten": "E", "Dorthe": "E", "Erik": "E",
          "Frida": "E", "Gustav": "E", "Hanne": "S", "Ib": "S", "Jonas": "S", "Karen": "S",
          "Lars": "S", "Maja": "G", "Niels": "G", "Ole": "G", "Pia": "G", "Rasmus": "none",
          "Sofie": "none", "Thomas": "none"}
S_GROUP = ("Hanne", "Ib", "Jonas", "Karen", "Lars", "Sofie")
G_GROUP = ("Maja", "Niels", "Ole", "Pia", "Rasmus", "Thomas")
E_GROUP = ("Anders", "Birgitte", "Carsten", "Dorthe", "Erik", "Frida", "Gustav")

GOAL = {"text": "Energirenovere 120 boliger i afdeling Fjordparken, så forbruget falder",
        "indicator": "Energiforbrug i kWh/m²", "baseline": "142 kWh/m²", "target": "110 kWh/m²",
        "deadline": "31-12-2028"}


def actor(name: str) -> Actor:
    return Actor(f"test:{name.casefold()}", name)


def texts(message: Message) -> str:
    """Everything a message says, a line per item (for assertions on what people read)."""
    lines: list[str] = []
    for block in message.blocks:
        match block:
            case Fields(items):
                lines.extend(f"{label}: {value}" for label, value in items)
            case Buttons(buttons):
                lines.extend(b.label for b in buttons)
            case Progress(label, done, total):
                lines.append(f"{done}/{total} {label}")
            case _:
                lines.append(block.text)
    return "\n".join(lines)


@dataclass
class Room:
    language: str = "da"
    now: datetime = START
    org: str = ORG
    ws: Workshop | None = None
    effects: list[Effect] = field(default_factory=list)
    _ids: Iterable[int] = field(default_factory=itertools.count)
    _drafts: dict[str, tuple[OpenForm | None, dict[str, str]]] = field(default_factory=dict)

    # -- sending ------------------------------------------------------------------------
    def send(self, event: Event) -> Outcome:
        outcome = engine.handle(self.ws, event, Context(self.now, self.language))
        if outcome.state is not None:
            self.ws = outcome.state
        self.effects.extend(outcome.effects)
        self.last = outcome
        return outcome

    def _base(self, name: str, conversation: str) -> dict[str, object]:
        return {"event_id": f"e{next(self._ids)}", "org": self.org, "conversation": conversation,
                "actor": actor(name)}

    def say(self, name: str, conversation: str, text: str, mentions: Iterable[str] = ()) -> Outcome:
        return self.send(Command(**self._base(name, conversation), text=text,
                                 mentions=tuple(actor(m) for m in mentions)))

    def joined(self, name: str, conversation: str) -> Outcome:
        return self.send(MemberJoined(**self._base(name, conversation)))

    def button(self, name: str, conversation: str, action: str, **args: str) -> Button:
        """The newest button for `action` that `name` can see in `conversation`."""
        for effect in reversed(self.effects):
            if isinstance(effect, (Post, Update, PostPrivate, Direct)) and effect.conversation == conversation:
                if isinstance(effect, (PostPrivate, Direct)) and effect.user != actor(name).id:
                    continue
                for block in effect.message.blocks:
                    if isinstance(block, Buttons):
                        for b in block.buttons:
                            if b.action == action and all(b.args.get(k) == v for k, v in args.items()):
                                return b
        raise LookupError(f"no {action} button {args} for {name} in {conversation}")

    def press(self, name: str, conversation: str, action: str, **args: str) -> Outcome:
        b = self.button(name, conversation, action, **args)
        return self.send(Action(**self._base(name, conversation), workshop_id=b.args["workshop"],
                                action=b.action, args=dict(b.args)))

    def act(self, name: str, conversation: str, action: str, **args: str) -> Outcome:
        """Press a button someone else was shown (or a forged one) for the current phase."""
        full = {"workshop": self.ws.id, "seq": str(self.ws.phase_seq), **args}
        return self.send(Action(**self._base(name, conversation), workshop_id=self.ws.id,
                                action=action, args=full))

    def form(self, name: str) -> OpenForm:
        for effect in reversed(self.effects):
            if isinstance(effect, OpenForm) and effect.user == actor(name).id:
                return effect
        raise LookupError(f"no form for {name}")

    def fill(self, name: str, values: Mapping[str, str]) -> Outcome:
        """Submit the newest form `name` has open; a form sent back with errors keeps its values."""
        opened = self.form(name)
        kept = self._drafts.get(name, (None, {}))
        start = kept[1] if kept[0] is opened else {f.name: f.value for f in opened.form.fields}
        full = start | dict(values)
        self._drafts[name] = (opened, full)
        return self.send(FormSubmitted(**self._base(name, opened.conversation),
                                       workshop_id=opened.form.args["workshop"],
                                       form=opened.form.form, args=dict(opened.form.args),
                                       values=full))

    def advance(self, minutes: int) -> list[Outcome]:
        """Move the clock; every timer scheduled for the meantime fires (even stale ones)."""
        target = self.now + timedelta(minutes=minutes)
        due = sorted({(e.at, e.timer, tuple(sorted(e.args.items())))
                      for e in self.effects if isinstance(e, Schedule) and self.now < e.at <= target})
        outcomes = []
        for at, timer, args in due:
            self.now = at
            outcomes.append(self.send(timer_fired(timer, dict(args))))
        self.now = target
        return outcomes

    # -- reading ------------------------------------------------------------------------
    def private_to(self, name: str) -> list[str]:
        return [texts(e.message) for e in self.effects
                if isinstance(e, PostPrivate) and e.user == actor(name).id]

    def last_private(self, name: str) -> str:
        return self.private_to(name)[-1]

    def posted_in(self, conversation: str) -> list[str]:
        return [texts(e.message) for e in self.effects
                if isinstance(e, (Post, Update)) and e.conversation == conversation]

    def replies(self, outcome: Outcome | None = None) -> str:
        outcome = outcome or self.last
        return "\n".join(texts(e.message) for e in outcome.effects if isinstance(e, PostPrivate))

    # -- getting to a phase --------------------------------------------------------------
    def set_up(self, measures: Iterable[str] = MEASURES, break_minutes: int = 10) -> None:
        self.say(FACILITATOR, "plenum", "new Boligselskabet Fjordly")
        self.press(FACILITATOR, "plenum", "setup_measures")
        self.fill(FACILITATOR, {"measures": ",".join(measures)})
        if break_minutes != 10:
            self.press(FACILITATOR, "plenum", "setup_agenda")
            self.fill(FACILITATOR, {"break": str(break_minutes)})
        for group in ("E", "S", "G"):
            self.say(FACILITATOR, group, f"group {group}")

    def to_intro(self, break_minutes: int = 10) -> None:
        self.set_up(break_minutes=break_minutes)
        self.start()

    def start(self) -> None:
        """From a workshop set up: phase 1, and everyone says which area interests them."""
        self.press(FACILITATOR, "plenum", "start")
        for name, area in PEOPLE.items():
            self.press(name, "plenum", "interest", area=area)

    def to_ambitions(self, split_e: bool = False, break_minutes: int = 10) -> None:
        self.to_intro(break_minutes)
        self.group_work(split_e)

    def group_work(self, split_e: bool = False) -> None:
        """From phase 1: the groups as proposed, then phase 2 begins."""
        self.press(FACILITATOR, "plenum", "propose_split")
        if split_e:
            self.say(FACILITATOR, "plenum", "split E")
            self.say(FACILITATOR, "E2", "group E2")
        self.press(FACILITATOR, "plenum", "approve_split")
        self.say(FACILITATOR, "plenum", "next")
        assert self.ws.phase == Phase.AMBITIONS, self.replies()

    def write_ambition(self, name: str, conversation: str, measure: str, sentence: str,
                       level: str = "medium") -> Outcome:
        self.press(name, conversation, "edit_ambition", m=measure)
        return self.fill(name, {"sentence": sentence, "level": level})

    def to_smart_goals(self) -> None:
        self.to_ambitions()
        for name, conversation, measure in (("Anders", "E", "E-energi"), ("Anders", "E", "E-co2"),
                                            ("Hanne", "S", "S-tilfredshed"),
                                            ("Hanne", "S", "S-udsaettelser"),
                                            ("Maja", "G", "G-kompetencer"), ("Maja", "G", "G-indkoeb")):
            self.write_ambition(name, conversation, measure, f"Ambition for {measure}")
        self.say(FACILITATOR, "plenum", "next")
        for measure in MEASURES:
            self.press(FACILITATOR, "plenum", "agree", m=measure)
        self.say(FACILITATOR, "plenum", "next")  # the break
        self.say(FACILITATOR, "plenum", "next")
        assert self.ws.phase == Phase.SMART_GOALS, self.replies()

    def add_goal(self, name: str, conversation: str, measure: str,
                 values: Mapping[str, str] = GOAL) -> Outcome:
        self.press(name, conversation, "add_goal", m=measure)
        return self.fill(name, values)


def refusal_only(outcome: Outcome, name: str) -> str:
    """Assert that the outcome is just a private message to `name`, and return its text."""
    assert len(outcome.effects) == 1, outcome.effects
    effect = outcome.effects[0]
    assert isinstance(effect, PostPrivate) and effect.user == actor(name).id
    return texts(effect.message)


def plain(message: Message) -> str:
    return "\n".join(b.text for b in message.blocks if isinstance(b, Text))
