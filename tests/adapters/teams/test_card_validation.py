"""Every Adaptive Card the Teams renderer makes, parsed and validated by Microsoft's own
Adaptive Cards library (npm `adaptivecards`, run with Node by validate_cards.js): no parse or
validation event for version 1.5 in Teams' host config, `"version": "1.5"`, and under Teams'
28 KB limit.

The cards: the golden files (test_render.py keeps them equal to what the renderer makes of its
scenes), every card of the complete scripted demo workshop (`ambition-bot demo`: every
message, every form the engine opens but the agenda, each form sent back with its errors and
redrawn once saved, the plan's link button), and a few made here to reach the renderer's limits.

All of them go to one Node process per test session. Without Node or the npm packages the
tests are skipped, saying how to install them: `npm ci --prefix tests/adapters/teams`.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pytest
from rich.console import Console

from adapters.app import open_store
from adapters.config import Settings
from adapters.console.chat import ConsoleChat, console_chat
from adapters.console.demo import Demo
from adapters.teams.deliver import OPEN_URL, link_buttons
from adapters.teams.links import FileLinks
from adapters.teams.parse import ORIGIN
from adapters.teams.render import (
    MAX_CARD_BYTES,
    Card,
    attachment,
    fallback_text,
    form_card,
    message_cards,
)
from bot.dispatch import Deliverer
from bot.effects import Effect, OpenForm, Post, PostPrivate, SendFile, Update
from bot.events import Event, FormSubmitted
from bot.service import Result
from bot.ui import Button, Buttons, Fields, Form, Heading, Message, Note, Text
from tests.adapters.teams.test_render import ALL_KINDS, HOSTILE

HERE = Path(__file__).parent
SCRIPT = HERE / "validate_cards.js"
PACKAGE = HERE / "node_modules" / "adaptivecards"
LIBRARY = PACKAGE / "dist" / "adaptivecards.js"
LOCK = HERE / "package-lock.json"
INSTALL = "npm ci --prefix tests/adapters/teams"
MIN_NODE = 18
Language = Literal["da", "en"]
GOLDEN = sorted((HERE / "golden").glob("*.json"))
# The English demo makes the same cards with other words: ~4 s more of the store at work for
# nothing the validator looks at (types, ids, versions, actions), so only the default language.
LANGUAGES: tuple[Language, ...] = ("da",)
NODE_TIMEOUT = 120  # seconds; it takes well under one for the ~330 cards

Labelled = list[tuple[str, Card]]  # (where the card comes from, the card)


# -- the cards --------------------------------------------------------------------------
def _golden(path: Path) -> Labelled:
    cards = json.loads(path.read_text(encoding="utf-8"))
    return [(f"{path.name}[{index}]", card) for index, card in enumerate(cards)]


def _drawn(form: Form, conversation: str) -> Form:
    # as adapters/teams/deliver.py and app.py draw a form: it carries where it was opened
    return replace(form, args={**form.args, ORIGIN: conversation})


def _saved(card: Card) -> Card:
    # a saved form is redrawn without its submit button (app.py, _answer_on_card)
    return {key: value for key, value in card.items() if key != "actions"}


def _teams_cards(effect: Effect, links: FileLinks) -> list[Card]:
    """The cards adapters/teams/deliver.py posts for an effect (none for what is no card:
    invites, timers, the file consent card of a personal chat)."""
    match effect:
        case Post(_, message) | Update(_, _, message) | PostPrivate(_, _, message):
            return message_cards(message)
        case OpenForm(conversation, _, form):
            return [form_card(_drawn(form, conversation))]
        case SendFile(_, workshop_id, message, open_label):
            # in a channel, the plan is a button that opens a signed link (TeamsDeliverer._send_link)
            button = Button(open_label or message.summary, OPEN_URL, {"url": links.url(workshop_id)})
            linked = Message(message.blocks + (Buttons((button,)),), message.summary)
            return [link_buttons(card) for card in message_cards(linked)]
    return []


def _where(effect: Effect) -> str:
    match effect:
        case OpenForm(conversation, _, form):
            return f"form {form.form!r} in {conversation}"
        case Post(conversation, message) | Update(conversation, _, message) | PostPrivate(conversation, _, message) \
                | SendFile(conversation, _, message):
            return f"{type(effect).__name__} in {conversation}: {fallback_text(message)[:60]!r}"
    return type(effect).__name__


@dataclass
class _Recorder:
    """Between the dispatcher and the console deliverer: each effect is also rendered as
    Teams gets it, then delivered to the (silenced) console as usual, so that the demo
    script still finds its buttons and forms there."""

    inner: Deliverer
    links: FileLinks
    language: str
    cards: Labelled = field(default_factory=list)

    async def deliver(self, effect: Effect, ref: str | None) -> str | None:
        self.record(_where(effect), _teams_cards(effect, self.links))
        return await self.inner.deliver(effect, ref)

    def record(self, where: str, cards: list[Card]) -> None:
        for index, card in enumerate(cards):
            part = f" (card {index + 1} of {len(cards)})" if len(cards) > 1 else ""
            self.cards.append((f"demo {self.language} #{len(self.cards)}: {where}{part}", card))


def _recording_send(chat: ConsoleChat, recorder: _Recorder) -> Callable[[Event], Awaitable[Result]]:
    """chat.send, also recording how app.py redraws a submitted form card: with the errors
    and what was typed, or (saved) without its button."""
    send = chat.send

    async def recording(event: Event) -> Result:
        opened = chat.deliverer.forms.get(event.actor.id) if isinstance(event, FormSubmitted) else None
        result = await send(event)
        if isinstance(event, FormSubmitted) and opened is not None:
            card = form_card(_drawn(opened.form, opened.conversation), result.form_errors, event.values)
            what = "sent back with errors" if result.form_errors else "saved"
            recorder.record(f"form {opened.form.form!r} {what}", [card if result.form_errors else _saved(card)])
        return result

    return recording


def _demo(language: Language, folder: Path) -> Labelled:
    """Every distinct card of the complete scripted workshop (all phases, every kind of bad
    input), as Teams would get them."""
    url = f"sqlite:///{folder / f'demo-{language}.sqlite3'}"
    store = open_store(url)
    try:
        settings = Settings(bot_language=language, database_url=url, bot_time_scale=None)
        console = Console(file=io.StringIO(), width=120)
        chat = console_chat(settings, store, console, org=f"cards-{language}",
                            plan_out=folder / f"plan-{language}.xlsx")
        links = FileLinks(FileLinks.derive_key("card validation"), "https://bot.example.dk", chat.clock)
        recorder = _Recorder(chat.dispatcher.deliverer, links, language)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(chat.dispatcher, "deliverer", recorder)
            patch.setattr(chat, "send", _recording_send(chat, recorder))
            asyncio.run(Demo(chat, console, language).run())
    finally:
        store.close()
    # a vote card is redrawn on every dot, mostly the same: each distinct card once
    distinct: dict[str, tuple[str, Card]] = {}
    for label, card in recorder.cards:
        distinct.setdefault(json.dumps(card, sort_keys=True), (label, card))
    return list(distinct.values())


def _made_here() -> dict[str, Labelled]:
    """Cards at the renderer's limits, which no scene reaches."""
    long_text = " ".join(f"{HOSTILE} ord{n}" for n in range(400))  # ~40 kB: split in pieces and cards
    long_message = Message((Heading("Et langt svar " * 20), Text(long_text),
                            Fields(tuple((f"Felt {n} {HOSTILE}", long_text[:900]) for n in range(40))),
                            Note(HOSTILE)), summary="Langt")
    buttons = tuple(Button(f"Knap {n} {HOSTILE}", "vote", {"n": str(n)}, "primary" if n % 2 else "danger")
                    for n in range(14))
    errors = {"minutes": "Skriv et helt tal fra 1 til 240.", "gone": f"{HOSTILE} fejl"}
    typed = {"title": f"Fjordly {HOSTILE}", "minutes": "fem", "story": "", "areas": "S"}
    cases: dict[str, list[Card]] = {
        "every_kind_of_input": [form_card(ALL_KINDS)],
        "every_kind_of_input_with_errors": [form_card(ALL_KINDS, errors, typed)],
        "every_kind_of_input_saved": [_saved(form_card(ALL_KINDS, {}, typed))],
        "long_message": message_cards(long_message),
        "fourteen_buttons": message_cards(Message((Buttons(buttons),))),  # rows of six
        "nothing_but_a_summary": message_cards(Message((), summary=HOSTILE)),
    }
    assert tuple(cases) == MADE_HERE
    return {name: [(f"{name}[{index}]", card) for index, card in enumerate(cards)]
            for name, cards in cases.items()}


# their names, known before they are made (the cards are made in the session fixture, not
# while the tests are collected)
MADE_HERE = ("every_kind_of_input", "every_kind_of_input_with_errors", "every_kind_of_input_saved",
             "long_message", "fourteen_buttons", "nothing_but_a_summary")


# -- the validator must see what Teams would refuse -----------------------------------------
def _card(*body: dict[str, Any], version: str = "1.5", **rest: Any) -> Card:
    return {"type": "AdaptiveCard", "version": version, "body": list(body), **rest}


def _submit(title: str) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": title, "data": {"ambition": {"action": "x", "args": {}}}}


# (a card with a mistake, the events the library must report for it)
FLAWED: dict[str, tuple[Card, set[str]]] = {
    "unknown element": (_card({"type": "Input.People", "id": "p"}), {"UnknownElementType"}),
    "unknown action": (_card(actions=[{"type": "Action.Open", "title": "x"}]), {"UnknownActionType"}),
    "duplicate input id": (_card({"type": "Input.Text", "id": "a", "label": "A"},
                                 {"type": "Input.Date", "id": "a", "label": "B"}), {"DuplicateId"}),
    "input without id": (_card({"type": "Input.Text", "label": "A"}), {"PropertyCantBeNull"}),
    "required input without label": (_card({"type": "Input.Text", "id": "a", "isRequired": True}),
                                      {"RequiredInputsShouldHaveLabel", "RequiredInputsShouldHaveErrorMessage"}),
    "link without url": (_card({"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "x"}]}),
                         {"PropertyCantBeNull"}),
    "seven buttons in a row": (_card({"type": "ActionSet", "actions": [_submit(str(n)) for n in range(7)]}),
                               {"TooManyActions"}),
    "a property of 1.6": (_card({"type": "Input.Text", "id": "a", "label": "A", "inputStyle": "revealOnHover"}),
                          {"UnsupportedProperty"}),
    "a bad value": (_card({"type": "TextBlock", "text": "x", "size": "huge"}), {"InvalidPropertyValue"}),
    "version 1.6": (_card(version="1.6"), {"UnsupportedCardVersion"}),
    "not a card": ({"type": "Card", "version": "1.5", "body": []}, {"MissingCardType"}),
}


# -- one Node run for all of them ---------------------------------------------------------
@dataclass(frozen=True)
class Checked:
    label: str
    card: Card
    version: str | None  # as the library parsed it
    events: list[dict[str, str]]


@dataclass(frozen=True)
class Validated:
    library: str
    cases: dict[str, list[Checked]]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip(f"node is not installed: validating the Teams cards needs Node.js ≥ {MIN_NODE} "
                    f"and `{INSTALL}`")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE:
        pytest.skip(f"node {version} is too old to validate the Teams cards: Node.js ≥ {MIN_NODE} is needed")
    if not LIBRARY.is_file():
        pytest.skip(f"npm packages not installed: run `{INSTALL}` to validate the Teams cards")
    return node


def _pinned_version() -> str:
    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    return str(lock["packages"]["node_modules/adaptivecards"]["version"])


@pytest.fixture(scope="session")
def validated(tmp_path_factory: pytest.TempPathFactory) -> Validated:
    node = _node()
    folder = tmp_path_factory.mktemp("card-validation")
    cases: dict[str, Labelled] = {path.stem: _golden(path) for path in GOLDEN}
    cases |= {f"demo_{language}": _demo(language, folder) for language in LANGUAGES}
    cases |= _made_here()
    cases |= {f"flawed: {name}": [(name, card)] for name, (card, _) in FLAWED.items()}
    everything = [(name, label, card) for name, labelled in cases.items() for label, card in labelled]
    run = subprocess.run([node, str(SCRIPT)], input=json.dumps([card for _, _, card in everything]),
                         capture_output=True, text=True, encoding="utf-8", timeout=NODE_TIMEOUT, check=False)
    assert run.returncode == 0, f"validate_cards.js failed ({run.returncode}):\n{run.stderr}"
    answer = json.loads(run.stdout)
    assert len(answer["results"]) == len(everything)
    checked: dict[str, list[Checked]] = {name: [] for name in cases}
    for (name, label, card), result in zip(everything, answer["results"], strict=True):
        checked[name].append(Checked(label, card, result["version"], result["events"]))
    return Validated(answer["library"], checked)


# -- the tests ----------------------------------------------------------------------------
def _size(card: Card) -> int:
    """The card's bytes as the Bot Framework attachment Teams receives, in the larger of the
    two JSON forms (ASCII escapes, or UTF-8)."""
    content = attachment(card)
    return max(len(json.dumps(content)), len(json.dumps(content, ensure_ascii=False).encode("utf-8")))


def _problems(checked: Checked) -> list[str]:
    problems = [f"{e['phase']} {e['event']} at {e['source'] or '?'}: {e['message']}" for e in checked.events]
    if checked.card.get("version") != "1.5" or checked.version != "1.5":
        problems.append(f"version {checked.card.get('version')!r} (the library read {checked.version!r}), not '1.5'")
    if (size := _size(checked.card)) >= MAX_CARD_BYTES:
        problems.append(f"{size} bytes, Teams takes less than {MAX_CARD_BYTES}")
    return problems


SHOWN = 12  # cards whose problems a failure lists: a renderer bug usually repeats in many
CASES = [path.stem for path in GOLDEN] + [f"demo_{language}" for language in LANGUAGES] + list(MADE_HERE)


@pytest.mark.parametrize("case", CASES)
def test_microsofts_library_accepts_every_card(case: str, validated: Validated) -> None:
    checked = validated.cases[case]
    assert checked, f"{case}: no cards"
    found = {c.label: problems for c in checked if (problems := _problems(c))}
    shown = list(found.items())[:SHOWN]
    report = "\n".join(f"{label}:\n  " + "\n  ".join(problems) for label, problems in shown)
    report += f"\n… and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    assert not found, f"adaptivecards {validated.library} finds problems in {len(found)} card(s):\n{report}"


def test_the_demo_reaches_every_kind_of_card(validated: Validated) -> None:
    """The demo cases are only worth as much as what they cover: every form the engine opens
    (but the agenda form, which the demo never opens: it is in the golden files), forms sent back
    and saved, and the plan's link. (No demo message needs two cards: long_message does.)"""
    for language in LANGUAGES:
        labels = [c.label for c in validated.cases[f"demo_{language}"]]
        for form in ("details", "measures", "why", "ambition", "send_back", "comment", "goal", "owner"):
            assert any(f"form {form!r} in" in label for label in labels), f"{language}: no {form!r} form"
        for kind in (" sent back with errors", " saved"):
            assert any(label.endswith(kind) for label in labels), f"{language}: no card{kind}"
        assert any(": SendFile in plenum" in label for label in labels), f"{language}: no link to the plan"
    assert "agenda_form" in validated.cases


def test_the_validator_reports_what_teams_would_refuse(validated: Validated) -> None:
    """A validator that finds nothing must be one that looks: each flawed card gets the
    events it deserves (else the library did not load, or the checks are not switched on)."""
    assert validated.library == _pinned_version(), (
        f"node_modules holds adaptivecards {validated.library}, the lock file pins {_pinned_version()}: "
        f"run `{INSTALL}`")
    for name, (_, expected) in FLAWED.items():
        [checked] = validated.cases[f"flawed: {name}"]
        assert {e["event"] for e in checked.events} == expected, (name, checked.events)
