"""The Teams renderer: real engine messages against golden Adaptive Card files, the card
structure and size Teams accepts, escaping of what participants type, and the round trips of
buttons and forms.

What a reader sees is checked with the two things Teams does to a TextBlock: the Adaptive Card
date functions (the SDK's own regular expression, below) and CommonMark Markdown (markdown-it,
which rich already brings). `UPDATE_GOLDEN=1 pytest tests/adapters/teams` (re)writes the golden
files; read the diff.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.teams.render import (
    CONTENT_TYPE,
    MAX_CARD_BYTES,
    SUBMIT_KEY,
    attachment,
    button_data,
    escape,
    fallback_text,
    form_card,
    form_values,
    message_cards,
    parse_submit,
)
from bot import catalog
from bot.domain.model import Ambition, AmbitionStatus, Level, SmartGoal, Workshop
from bot.effects import Effect, OpenForm, Post, PostPrivate, Update
from bot.events import FormSubmitted
from bot.i18n import Translator
from bot.plan.summary import plan_message
from bot.ui import (
    Block,
    Button,
    Buttons,
    FieldKind,
    Fields,
    Form,
    FormField,
    Heading,
    Message,
    Moment,
    Note,
    Progress,
    Text,
)
from tests.harness import FACILITATOR, GOAL, Room, actor

markdown_it = pytest.importorskip("markdown_it")

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
WJ = "\u2060"
HOSTILE = "**fed** _skrå_ [klik her](http://evil.example) <at>Mette</at> {{DATE(2020-01-01T00:00:00Z)}} &lt;"
HOSTILE_GOAL = {**GOAL, "text": f"{HOSTILE} – energirenovere 120 boliger i Fjordparken",
                "indicator": "- Tilfredshed i % <at>Hanne</at>", "target": "80 % > 75 %"}
# The date functions as the Adaptive Cards SDK finds them (TextUtils::m_textFunctionRegex in
# microsoft/AdaptiveCards, the JS SDK's TextFormatters use the same pattern).
AC_FUNCTION = re.compile(r"\{\{(DATE|TIME)\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(Z|[-+]\d{2}:\d{2})"
                         r"(?:,\s*(SHORT|LONG|COMPACT)\s*)?\)\}\}")
COMMONMARK = markdown_it.MarkdownIt("commonmark").enable("strikethrough")

Scene = Message | Form


# -- what a reader sees -------------------------------------------------------------------
def _html(markdown: str) -> str:
    """A TextBlock's text as a Markdown client renders it, date functions first."""
    return COMMONMARK.render(AC_FUNCTION.sub(lambda m: f"⟨{m[1]} {m[2]}{m[3]}⟩", markdown))


def _seen(markdown: str) -> str:
    """The text a reader sees in a TextBlock, asserting that nothing in it is markup: no link,
    emphasis, list, code, quote, heading or raw HTML, just one paragraph."""
    rendered = _html(markdown)
    tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", rendered))
    assert tags <= {"p"}, f"{markdown!r} renders as markup: {rendered!r}"
    inner = re.sub(r"</?p>", "", rendered).rstrip("\n")
    return html.unescape(inner).replace(WJ, "")


def _text_of(element: dict[str, Any]) -> str:
    return _seen(element["text"])


# -- the real messages (the same scenes as the Slack renderer's tests) --------------------
def _last(room: Room, match: Callable[[Effect], bool]) -> Effect:
    return next(e for e in reversed(room.effects) if match(e))


def _message(room: Room, match: Callable[[Message], bool]) -> Message:
    effect = _last(room, lambda e: isinstance(e, (Post, Update, PostPrivate)) and match(e.message))
    assert isinstance(effect, (Post, Update, PostPrivate))
    return effect.message


def _posted(effect: Effect) -> Message:
    assert isinstance(effect, (Post, Update, PostPrivate))
    return effect.message


def _opened(effect: Effect) -> Form:
    assert isinstance(effect, OpenForm)
    return effect.form


def _headed(prefix: str) -> Callable[[Message], bool]:
    return lambda m: bool(m.blocks) and isinstance(m.blocks[0], Heading) \
        and m.blocks[0].text.startswith(prefix)


def _setup_scenes() -> dict[str, Scene]:
    room = Room()
    room.set_up()
    scenes: dict[str, Scene] = {"setup_card": _message(room, _headed("Ambitionsworkshop"))}
    for button, name in (("setup_details", "details_form"), ("setup_measures", "measures_form"),
                         ("setup_agenda", "agenda_form")):
        room.press(FACILITATOR, "plenum", button)
        scenes[name] = room.form(FACILITATOR).form
    return scenes


def _workshop_scenes() -> dict[str, Scene]:
    room = Room()
    room.to_smart_goals()
    scenes: dict[str, Scene] = {
        "phase_announcement": _posted(_last(room, lambda e: isinstance(e, Post) and e.conversation == "E"
                                            and _headed("Fase 4")(e.message))),
        "vote_card": _posted(_last(room, lambda e: isinstance(e, Update) and e.key == "vote:E-energi")),
        "ambition_form": _opened(_last(room, lambda e: isinstance(e, OpenForm) and e.form.form == "ambition")),
    }
    room.add_goal("Anders", "E", "E-energi")
    scenes["goal_card"] = _message(room, _headed("SMART-mål 1"))
    room.press("Anders", "E", "edit_goal")
    scenes["goal_form"] = room.form("Anders").form
    room.add_goal("Hanne", "S", "S-tilfredshed", HOSTILE_GOAL)
    scenes["hostile_text"] = _message(room, _headed("SMART-mål 1: Beboernes tilfredshed"))
    room.say(FACILITATOR, "plenum", "status")
    scenes["status"] = _message(room, _headed("Status"))
    room.say(FACILITATOR, "plenum", "help")
    scenes["help"] = _message(room, _headed("Kommandoer"))
    room.advance(60)
    scenes["time_up_choice"] = _message(room, _headed("Tiden er gået"))
    room.say(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws is not None and room.ws.phase == "wrap_up", room.replies()
    goal = next(g.id for g in room.ws.goals.values() if g.measure_id == "E-energi")
    room.press("Anders", "plenum", "set_owner", goal=goal)
    room.fill("Anders", {"owner": "Anders", "next_step": "Oplæg til afdelingsbestyrelsen i marts"})
    room.press("Anders", "plenum", "set_owner", goal=goal)
    scenes["owner_form"] = room.form("Anders").form
    room.say(FACILITATOR, "plenum", "plan")
    scenes["plan_summary"] = _message(room, _headed("Handlingsplan"))
    scenes["plan_full"] = plan_message(_full(room.ws), Translator("da"))
    return scenes


def _full(ws: Workshop) -> Workshop:
    """The workshop at its largest: nine målepunkter with three SMART goals each."""
    extra = ("E-vand", "S-tryghed", "G-whistleblower")
    measures = dict(ws.measures)
    for position, measure_id in enumerate(extra, start=len(measures) + 1):
        measures[measure_id] = catalog.by_id()[measure_id].to_measure("da", position)
    ambitions = dict(ws.ambitions) | {
        m: Ambition(measure_id=m, level=Level.AMBITIOUS, sentence=f"Ambition for {m}",
                    status=AmbitionStatus.AGREED) for m in extra}
    goals = {f"{m}-{n}": SmartGoal(id=f"{m}-{n}", measure_id=m, number=n,
                                   text=f"Mål {n} for {measures[m].name}", indicator="Antal",
                                   baseline="10", target=str(10 + n), deadline=date(2028, 12, 31),
                                   owner="Mette" if n == 1 else "", next_step="Et oplæg")
             for m in measures for n in (1, 2, 3)}
    return replace(ws, measures=measures, ambitions=ambitions, goals=goals)


@pytest.fixture(scope="module")
def scenes() -> dict[str, Scene]:
    return _setup_scenes() | _workshop_scenes()


def _a_message(scene: Scene) -> Message:
    assert isinstance(scene, Message)
    return scene


def _a_form(scene: Scene) -> Form:
    assert isinstance(scene, Form)
    return scene


NAMES = ("setup_card", "details_form", "measures_form", "agenda_form", "phase_announcement",
         "vote_card", "ambition_form", "goal_card", "goal_form", "hostile_text", "status", "help",
         "time_up_choice", "owner_form", "plan_summary", "plan_full")


def _render(scene: Scene) -> list[dict[str, Any]]:
    return [form_card(scene)] if isinstance(scene, Form) else message_cards(scene)


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, scenes: dict[str, Scene]) -> None:
    cards = _render(scenes[name])
    for card in cards:
        _check_card(card)
    text = json.dumps(cards, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1 and read it"
    assert text == path.read_text(encoding="utf-8"), f"{name} renders differently from {path.name}"


def test_every_golden_file_is_rendered() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(NAMES)


def test_the_hostile_goal_is_shown_not_triggered(scenes: dict[str, Scene]) -> None:
    [card] = message_cards(_a_message(scenes["hostile_text"]))
    _check_card(card)
    seen = "\n".join(_seen_texts(card))
    assert f"{HOSTILE} – energirenovere 120 boliger i Fjordparken" in seen
    assert "- Tilfredshed i % <at>Hanne</at>" in seen and "80 % > 75 %" in seen


def test_the_phase_announcement_shows_the_end_in_each_readers_time(scenes: dict[str, Scene]) -> None:
    message = _a_message(scenes["phase_announcement"])
    moments = [m for b in message.blocks if isinstance(b, (Text, Note)) for m in b.moments]
    assert moments, "the announcement says when the phase ends"
    markdown = "\n".join(t for card in message_cards(message) for t in _markdown_texts(card))
    for moment in moments:
        assert f"{{{{TIME({moment.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ})}}}}" in markdown


def test_the_largest_plan_fits_one_card_and_three_of_them_are_split_before_an_area(
        scenes: dict[str, Scene]) -> None:
    message = _a_message(scenes["plan_full"])
    assert len(message_cards(message)) == 1
    tripled = Message(message.blocks * 3, message.summary)
    cards = message_cards(tripled)
    assert len(cards) >= 2
    for card in cards:
        _check_card(card)
        assert card["body"][0].get("size") == "large", "each card starts with a heading"
    # nothing lost, nothing repeated, nothing out of order
    alone = [e for block in tripled.blocks for e in message_cards(Message((block,)))[0]["body"]]
    assert [e for card in cards for e in card["body"]] == alone


def test_the_owner_form_shows_the_owners_name(scenes: dict[str, Scene]) -> None:
    owner = next(i for i in _inputs(form_card(_a_form(scenes["owner_form"]))) if i["id"] == "owner")
    assert owner["type"] == "Input.Text" and owner["value"] == "Anders"


# -- validity -----------------------------------------------------------------------------
SPACING = {"default", "none", "small", "medium", "large", "extraLarge", "padding"}
COMMON = {"type", "id", "spacing", "separator", "isVisible", "height", "fallback", "requires"}
INPUT = COMMON | {"label", "isRequired", "errorMessage"}
# the Adaptive Card 1.5 properties of the elements the renderer uses (adaptivecards.io/explorer)
PROPERTIES = {
    "TextBlock": COMMON | {"text", "wrap", "size", "weight", "isSubtle", "color", "maxLines",
                           "horizontalAlignment", "fontType", "style"},
    "FactSet": COMMON | {"facts"},
    "ActionSet": COMMON | {"actions"},
    "Input.Text": INPUT | {"value", "placeholder", "maxLength", "isMultiline", "style", "inlineAction", "regex"},
    "Input.Date": INPUT | {"value", "placeholder", "min", "max"},
    "Input.Number": INPUT | {"value", "placeholder", "min", "max"},
    "Input.ChoiceSet": INPUT | {"value", "placeholder", "choices", "isMultiSelect", "style", "wrap"},
}
SUBMIT = {"type", "title", "data", "style", "isEnabled", "iconUrl", "id", "tooltip", "associatedInputs", "mode"}
ENUMS = {"size": {"default", "small", "medium", "large", "extraLarge"},
         "weight": {"default", "lighter", "bolder"},
         "color": {"default", "dark", "light", "accent", "good", "warning", "attention"},
         "spacing": SPACING}


def _check_card(card: dict[str, Any]) -> None:
    """An Adaptive Card 1.5 that Teams takes: known elements with known properties, every
    input with an id and a label, under 28 000 bytes as JSON, and nothing in it that could
    mention someone or turn into markup or a date function by itself."""
    assert set(card) <= {"type", "$schema", "version", "body", "actions"}
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert json.loads(json.dumps(card)) == card
    assert len(json.dumps(card)) < MAX_CARD_BYTES  # ASCII-only JSON: the larger of the two forms
    assert len(json.dumps(card, ensure_ascii=False).encode("utf-8")) < MAX_CARD_BYTES
    ids = [e["id"] for e in card["body"] if e["type"].startswith("Input.")]
    assert len(ids) == len(set(ids)) and all(isinstance(i, str) and i for i in ids)
    for element in card["body"]:
        _check_element(element)
    for action in card.get("actions", []):
        _check_action(action)
    for text in _markdown_texts(card):
        _seen(text)  # asserts it renders as plain text
        assert "{{" not in AC_FUNCTION.sub("", text), text  # only the renderer's date functions
        assert "<at" not in text.lower(), text
    for text in _plain_texts(card):
        assert "{{" not in text and "<at" not in text.lower(), text


def _check_element(element: dict[str, Any]) -> None:
    kind = element["type"]
    assert kind in PROPERTIES, f"unknown element {kind}"
    assert set(element) <= PROPERTIES[kind], f"{kind}: {set(element) - PROPERTIES[kind]}"
    for name, allowed in ENUMS.items():
        assert element.get(name, "default") in allowed, element
    if kind == "TextBlock":
        assert isinstance(element["text"], str) and element["text"].strip() and element["wrap"] is True
    elif kind == "FactSet":
        assert element["facts"] and all(set(f) == {"title", "value"} and isinstance(f["title"], str)
                                        and isinstance(f["value"], str) for f in element["facts"])
    elif kind == "ActionSet":
        assert 0 < len(element["actions"]) <= 6
        for action in element["actions"]:
            _check_action(action)
    else:
        _check_input(element)


def _check_input(element: dict[str, Any]) -> None:
    assert isinstance(element["label"], str) and element["label"].strip()
    if element.get("isRequired"):
        assert element["errorMessage"].strip()
    value = element.get("value")
    match element["type"]:
        case "Input.Date":
            assert value is None or date.fromisoformat(value)
        case "Input.Number":
            assert value is None or isinstance(value, (int, float)) and not isinstance(value, bool)
        case "Input.ChoiceSet":
            assert element["style"] in {"compact", "expanded", "filtered"}
            assert all(set(c) == {"title", "value"} and c["title"] for c in element["choices"])
            known = {c["value"] for c in element["choices"]}
            assert value is None or set(value.split(",")) <= known
            assert element.get("isMultiSelect", False) or value is None or "," not in value
        case "Input.Text":
            assert value is None or isinstance(value, str)
            assert "maxLength" not in element or value is None or len(value) <= element["maxLength"]


def _check_action(action: dict[str, Any]) -> None:
    assert action["type"] == "Action.Submit" and set(action) <= SUBMIT
    assert isinstance(action["title"], str) and action["title"].strip()
    assert action.get("style", "default") in {"default", "positive", "destructive"}
    assert isinstance(action["data"], dict) and SUBMIT_KEY in action["data"]


def _markdown_texts(card: dict[str, Any]) -> Iterator[str]:
    """Every text Teams reads as Markdown: TextBlocks and facts."""
    for element in card["body"]:
        if element["type"] == "TextBlock":
            yield element["text"]
        elif element["type"] == "FactSet":
            for fact in element["facts"]:
                yield fact["title"]
                yield fact["value"]


def _plain_texts(card: dict[str, Any]) -> Iterator[str]:
    """Every text Teams shows as it is: labels, placeholders, choices, button titles."""
    for element in card["body"]:
        yield from (element[k] for k in ("label", "placeholder", "errorMessage") if k in element)
        yield from (c["title"] for c in element.get("choices", []))
        yield from (a["title"] for a in element.get("actions", []))
    yield from (a["title"] for a in card.get("actions", []))


def _seen_texts(card: dict[str, Any]) -> Iterator[str]:
    for element in card["body"]:
        if element["type"] == "TextBlock":
            yield _text_of(element)
        elif element["type"] == "FactSet":
            yield from (f"{_seen(f['title'])}: {_seen(f['value'])}" for f in element["facts"])


def _inputs(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in card["body"] if e["type"].startswith("Input.")]


def _one(message: Message) -> list[dict[str, Any]]:
    [card] = message_cards(message)
    _check_card(card)
    return card["body"]


# -- each kind of block -------------------------------------------------------------------
def test_each_kind_of_block() -> None:
    body = _one(Message((Heading("Fase 4: SMART-mål"), Text("Skriv 1–3 mål."),
                         Fields((("Fase", "SMART-mål"), ("Tid", "25 min"))), Note("Kun tovholderen."),
                         Progress("grupper er færdige", 2, 3),
                         Buttons((Button("Start", "start", {"workshop": "w1"}, "primary"),
                                  Button("Stop", "stop", style="danger"), Button("Mere", "more", style="fancy"))))))
    heading, text, facts, note, progress, actions = body
    assert heading == {"type": "TextBlock", "text": "Fase 4: SMART-mål", "wrap": True,
                       "size": "large", "weight": "bolder"}
    assert text == {"type": "TextBlock", "text": "Skriv 1–3 mål.", "wrap": True}
    assert facts == {"type": "FactSet", "facts": [{"title": "Fase", "value": "SMART-mål"},
                                                  {"title": "Tid", "value": "25 min"}]}
    assert note == {"type": "TextBlock", "text": "Kun tovholderen.", "wrap": True,
                    "isSubtle": True, "size": "small"}
    assert progress["text"] == "▓▓▓▓▓▓▓░░░ 2/3 grupper er færdige"
    assert actions["type"] == "ActionSet"
    assert [(a["title"], a.get("style")) for a in actions["actions"]] == [
        ("Start", "positive"), ("Stop", "destructive"), ("Mere", None)]


def test_progress_is_a_bar_of_ten_cells() -> None:
    def bar(done: int, total: int) -> str:
        return _one(Message((Progress("mål", done, total),)))[0]["text"]

    assert bar(3, 5) == "▓▓▓▓▓▓░░░░ 3/5 mål"
    assert bar(0, 0) == "░░░░░░░░░░ 0/0 mål"
    assert bar(7, 5) == "▓▓▓▓▓▓▓▓▓▓ 7/5 mål"


def test_every_line_is_a_line_and_a_blank_line_a_gap() -> None:
    """Teams shows a lone newline inside a TextBlock as a space: each line is a TextBlock."""
    body = _one(Message((Text("Trin 1: læs\nTrin 2: skriv\n\n\nTrin 3\n"),)))
    assert [(_text_of(e), e.get("spacing")) for e in body] == [
        ("Trin 1: læs", None), ("Trin 2: skriv", "none"), ("Trin 3", "medium")]


def test_fields_without_a_label_or_value_and_with_several_lines() -> None:
    body = _one(Message((Fields((("Kun etiket", ""), ("", "kun værdi"), ("", ""),
                                 ("Historie", "linje 1\n- linje 2\n\n"))),)))
    [facts] = body
    assert [(_seen(f["title"]), _seen(f["value"])) for f in facts["facts"]] == [
        ("Kun etiket", ""), ("", "kun værdi"), ("Historie", "linje 1\n- linje 2")]
    # two lines of a fact are two Markdown paragraphs, the second no list
    assert COMMONMARK.render(facts["facts"][2]["value"]).count("<p>") == 2


def test_an_empty_message_still_says_something() -> None:
    assert _one(Message((), summary="Intet nyt"))[0]["text"] == "Intet nyt"
    assert _one(Message(())) == []


# -- times --------------------------------------------------------------------------------
def test_a_time_in_a_text_reads_in_each_readers_own_time_zone() -> None:
    at = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    body = _one(Message((Text("Fasen slutter kl. 09:30, om 25 min.", (Moment(at, "09:30"),)),
                         Note("{{TIME(2026-11-27T08:30:00Z)}} skrev nogen"))))
    text, note = body
    assert text["text"] == "Fasen slutter kl. {{TIME(2026-11-27T08:30:00Z)}}, om 25 min."
    assert _text_of(text) == "Fasen slutter kl. ⟨TIME 2026-11-27T08:30:00Z⟩, om 25 min."
    assert _text_of(note) == "{{TIME(2026-11-27T08:30:00Z)}} skrev nogen"  # typed: shown, not a time


def test_times_in_any_order_on_several_lines_and_next_to_markup() -> None:
    nine, ten = datetime(2026, 11, 27, 8, tzinfo=UTC), datetime(2026, 11, 27, 9, tzinfo=UTC)
    text = "Start 09:00 *vigtigt*\n- slut 10:00_\n{10:00"
    body = _one(Message((Text(text, (Moment(ten, "10:00"), Moment(nine, "09:00"), Moment(ten, "10:00"))),)))
    assert [_text_of(e) for e in body] == ["Start ⟨TIME 2026-11-27T08:00:00Z⟩ *vigtigt*",
                                           "- slut ⟨TIME 2026-11-27T09:00:00Z⟩_",
                                           "{⟨TIME 2026-11-27T09:00:00Z⟩"]


def test_a_time_without_a_zone_or_not_in_the_text_leaves_the_text_as_written() -> None:
    naive = datetime(2026, 11, 27, 9, 30)
    body = _one(Message((Text("kl. 09:30", (Moment(naive, "09:30"),)),
                         Text("kl. 10:00", (Moment(datetime(2026, 11, 27, tzinfo=UTC), "11:00"),)))))
    assert [e["text"] for e in body] == ["kl. 09:30", "kl. 10:00"]


def test_a_moment_in_a_long_line_is_never_cut() -> None:
    at = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    text = "ord " * 370 + "kl. 09:30 " + "ord " * 400
    body = _one(Message((Text(text, (Moment(at, "09:30"),)),)))
    assert len(body) > 1
    assert sum(len(AC_FUNCTION.findall(e["text"])) for e in body) == 1


# -- escaping -----------------------------------------------------------------------------
def test_escape() -> None:
    assert escape("**fed**") == r"\*\*fed\*\*"
    assert escape("[x](http://evil)") == r"\[x\](http://evil)"
    assert escape("<at>Mette</at>") == f"<{WJ}at>Mette<{WJ}/at>"
    assert escape("{{DATE(2020-01-01T00:00:00Z)}}") == f"{{{WJ}{{DATE(2020-01-01T00:00:00Z)}}}}"
    assert escape("- punkt\n1. punkt\n# ikke en overskrift") == \
        f"{WJ}- punkt\n{WJ}1. punkt\n{WJ}# ikke en overskrift"
    assert escape("C:\\mappe og \\*") == "C:\\mappe og \\\\\\*"  # a backslash shows too
    # ordinary Danish text, with the punctuation it uses, is left as it is
    ordinary = "Æbler, øl & åer: »citat« – 80 % > 75 % (ca.) 1–3 mål, kl. 9.30! 2026-11-27 #1 ✓"
    assert escape(ordinary) == ordinary


HOSTILE_LINES = [
    "**bold**", "__bold__", "*kursiv* og _kursiv_", "~~slettet~~ ~også~", "`kode` og ```blok```",
    "[x](http://evil)", "![billede](http://evil/x.png)", "[ref]: http://evil", "<http://evil>",
    "<https://evil.example|klik her>", "<at>Mette</at>", "<AT>Mette</AT>", "<b>fed</b> <script>x</script>",
    "<!-- kommentar -->", "{{DATE(2020-01-01T00:00:00Z)}}", "{{TIME(2020-01-01T00:00:00Z)}}",
    "{{DATE(2020-01-01T00:00:00Z, SHORT)}}", "{{{TIME(2020-01-01T00:00:00Z)}}}", "&lt;at&gt; &amp; &#60; &copy",
    "- liste", "+ liste", "* liste", "1. liste", "2) liste", "# overskrift", "###### lille", "> citat",
    "---", "***", "___", "===", "| a | b |", "    indrykket kode", "\tmed tab", "   - indrykket liste",
    "\\", "\\\\", "\\*", "\\[x\\](http://evil)", "slut med \\", "a\\b", "æøå ÆØÅ «» ✓ 🙂",
    "email@example.com og http://example.com/a_b_c", "tal_med_understreg og snake_case_navn",
]


@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_hostile_text_is_shown_exactly_as_typed(line: str) -> None:
    assert _seen(escape(line)) == line
    body = _one(Message((Heading(line), Text(line), Note(line), Fields(((line, line),)))))
    # a heading and a fact are one line each, without the spaces around it
    assert [_text_of(e) for e in body[:3]] == [line.strip(), line, line]
    fact = body[3]["facts"][0]
    assert (_seen(fact["title"]), _seen(fact["value"])) == (line.strip(), line.strip())


def test_hostile_text_on_many_lines() -> None:
    text = "\n".join(HOSTILE_LINES)
    body = _one(Message((Text(text),)))
    assert [_text_of(e) for e in body] == [line for line in HOSTILE_LINES]


def test_control_characters_are_dropped_and_the_rest_kept() -> None:
    text = "a\x00b\x1b[31mc\x07\r\nd\te\rf\x7fg\u2028h"
    assert [_text_of(e) for e in _one(Message((Text(text),)))] == ["ab[31mc", "d\te", "fg", "h"]
    assert escape("x\x00y\x1f") == "xy"


def test_danish_characters_survive_everywhere() -> None:
    danish = "Ærø Ø-mål på Åbenrå"
    message = Message((Heading(danish), Text(danish), Fields(((danish, danish),)), Note(danish),
                       Buttons((Button(danish, "vote", {"m": danish}),))), summary=danish)
    [card] = message_cards(message)
    _check_card(card)
    wire = json.loads(json.dumps(card))  # as the Bot Framework sends it (\u escapes)
    assert [_text_of(e) for e in wire["body"][:2]] == [danish, danish]
    assert wire["body"][2]["facts"] == [{"title": danish, "value": danish}]
    assert wire["body"][4]["actions"][0]["title"] == danish
    assert parse_submit(wire["body"][4]["actions"][0]["data"])[1] == {"m": danish}
    assert fallback_text(message) == danish


# -- size ---------------------------------------------------------------------------------
def test_a_10000_character_text_is_all_there() -> None:
    lines = [f"Linje {n}: " + "ord " * 20 for n in range(120)]
    text = "\n".join(lines)
    assert len(text) > 10_000
    cards = message_cards(Message((Text(text),)))
    for card in cards:
        _check_card(card)
    assert [_text_of(e) for card in cards for e in card["body"]] == [line.strip() for line in lines]


def test_one_10000_character_line_is_cut_at_spaces() -> None:
    words = [f"ord{n}" for n in range(1700)]
    line = " ".join(words)
    assert len(line) > 10_000
    body = _one(Message((Note(line),)))
    assert len(body) > 1 and all(len(e["text"]) <= 1500 for e in body)
    assert all(e.get("spacing") == "none" for e in body[1:])
    assert " ".join(_text_of(e) for e in body).split(" ") == words


def test_one_word_longer_than_a_text_block_is_cut_anyway() -> None:
    word = "<" * 4000 + "🙂" * 4000 + "{" * 4000
    cards = message_cards(Message((Text(word),)))
    for card in cards:
        _check_card(card)
    assert "".join(_text_of(e) for card in cards for e in card["body"]) == word


def test_a_long_message_becomes_several_cards_in_order() -> None:
    blocks = tuple(b for n in range(60) for b in (Heading(f"Afsnit {n}"), Text(f"Tekst {n} " + "ord " * 200),
                                                 Fields(((f"Felt {n}", "værdi " * 50),))))
    cards = message_cards(Message(blocks, summary="Lang"))
    assert len(cards) > 2
    for card in cards:
        _check_card(card)
        assert card["body"][0].get("size") == "large", "a card starts with its heading"
    headings = [_text_of(e) for card in cards for e in card["body"] if e.get("size") == "large"]
    assert headings == [f"Afsnit {n}" for n in range(60)]
    texts = [e["text"] for card in cards for e in card["body"] if e["type"] == "TextBlock" and "size" not in e]
    assert [_seen(t) for t in texts] == [(f"Tekst {n} " + "ord " * 200).rstrip() for n in range(60)]


def test_a_split_never_leaves_a_heading_last() -> None:
    big = "x" * 1400
    # the heading is the last block that fits the first card, the text under it is not
    blocks: tuple[Block, ...] = (*(Note(f"{n} {big}") for n in range(17)), Heading("Sidst"), Text(f"under {big}"))
    cards = message_cards(Message(blocks))
    assert len(cards) == 2 and len(cards[0]["body"]) == 17
    assert all(card["body"][-1].get("size") != "large" for card in cards)
    assert _text_of(cards[1]["body"][0]) == "Sidst"


def test_a_fact_too_long_for_a_fact_set_is_shown_whole() -> None:
    value = "\n".join(f"linje {n} " + "ord " * 30 for n in range(80))
    cards = message_cards(Message((Fields((("Kort", "ja"), ("Lang", value), ("Efter", "nej"))),)))
    for card in cards:
        _check_card(card)
    body = [e for card in cards for e in card["body"]]
    assert body[0]["facts"] == [{"title": "Kort", "value": "ja"}]
    assert body[1] == {"type": "TextBlock", "text": "Lang", "wrap": True, "weight": "bolder"}
    assert [_text_of(e) for e in body[2:-1]] == [line.strip() for line in value.split("\n")]
    assert body[-1]["facts"] == [{"title": "Efter", "value": "nej"}]


def test_many_buttons_become_action_sets_of_six() -> None:
    buttons = tuple(Button(f"Knap {n}", "vote", {"n": str(n)}) for n in range(14))
    body = _one(Message((Buttons(buttons),)))
    assert [len(e["actions"]) for e in body] == [6, 6, 2]
    pressed = [parse_submit(a["data"])[:2] for e in body for a in e["actions"]]
    assert pressed == [("vote", {"n": str(n)}) for n in range(14)]


# -- buttons and submissions --------------------------------------------------------------
def test_a_button_round_trips() -> None:
    button = Button("Stem", "vote", {"workshop": "w1", "seq": "3", "m": "E-energi", "level": "høj"})
    assert button_data(button) == {"ambition": {"action": "vote", "args": dict(button.args)}}
    assert parse_submit(button_data(button)) == ("vote", dict(button.args), {})
    assert parse_submit(button_data(Button("Start", "start"))) == ("start", {}, {})


def test_a_submission_carries_the_inputs_beside_the_data() -> None:
    value = {**button_data(Button("Gem", "form_submit", {"form": "goal"})),
             "text": "  Mål  ", "areas": "E,G", "minutes": 25, "done": True, "empty": None}
    assert parse_submit(value) == ("form_submit", {"form": "goal"},
                                   {"text": "Mål", "areas": "E,G", "minutes": "25", "done": "true", "empty": ""})


@pytest.mark.parametrize("garbage", [
    None, "vote", [], {}, {"action": "vote"}, {"ambition": "vote"}, {"ambition": None}, {"ambition": {}},
    {"ambition": {"action": ""}}, {"ambition": {"action": 1}}, {"ambition": {"action": "x", "args": []}},
    {"ambition": {"action": "x", "args": {"k": 1}}}, {"ambition": {"action": "x", "args": None}},
    {"ambition": {"action": "x", "extra": "y"}}, {"ambition": ["x"]},
])
def test_what_the_bot_did_not_make_is_refused(garbage: Any) -> None:
    with pytest.raises(ValueError):
        parse_submit(garbage)


def test_a_button_too_long_for_a_card_is_refused() -> None:
    with pytest.raises(ValueError):
        button_data(Button("x", "x", {"big": "y" * 2000}))
    with pytest.raises(ValueError):
        button_data(Button("x", ""))


def test_attachment() -> None:
    [card] = message_cards(Message((Text("Hej"),)))
    assert attachment(card) == {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
    assert CONTENT_TYPE == "application/vnd.microsoft.card.adaptive"


def test_the_fallback_text() -> None:
    assert fallback_text(Message((Note("n"), Text("t")), summary="s")) == "s"
    assert fallback_text(Message((Note("n"), Text("første\nanden")))) == "første anden"
    assert fallback_text(Message((Progress("Gruppe E", 1, 3),))) == "1/3 Gruppe E"
    assert fallback_text(Message((Fields((("Fase", "Pause"),)),))) == "Fase: Pause"
    assert len(fallback_text(Message((Text("ord " * 1000),)))) <= 1000
    # plain text, but no date function or mention even in a preview
    assert fallback_text(Message((), summary="{{DATE(2020-01-01T00:00:00Z)}} <at>x</at>")).replace(WJ, "") \
        == "{{DATE(2020-01-01T00:00:00Z)}} <at>x</at>"
    assert "{{" not in fallback_text(Message((), summary="{{x}}"))


# -- forms --------------------------------------------------------------------------------
ALL_KINDS = Form(
    form="everything", title="En formular", submit="Gem",
    args={"workshop": "w1", "seq": "2"}, intro="Skriv **alt** <at>Mette</at>\nanden linje",
    fields=(
        FormField("title", "Titel", required=True, value="Fjordly", max_length=120, hint="Et navn"),
        FormField("story", "Historie", FieldKind.LONG_TEXT, value="linje 1\nlinje 2", max_length=500),
        FormField("deadline", "Frist", FieldKind.DATE, value="2028-12-31"),
        FormField("minutes", "Minutter", FieldKind.NUMBER, required=True, value="25"),
        FormField("level", "Niveau", FieldKind.CHOICE, required=True, value="medium",
                  options=(("minimum", "Minimum"), ("medium", "Mellem"), ("ambitious", "Ambitiøst"))),
        FormField("areas", "Områder", FieldKind.CHOICES, value="E,G",
                  options=(("E", "Miljø"), ("S", "Sociale forhold"), ("G", "Governance"))),
        FormField("owner", "Ansvarlig", FieldKind.USER, required=True, value="Mette", hint="Én person"),
    ))


def test_the_form_card() -> None:
    card = form_card(ALL_KINDS)
    _check_card(card)
    heading, intro, second, *rest = card["body"]
    assert (heading["text"], heading["size"], heading["weight"]) == ("En formular", "large", "bolder")
    assert [_text_of(intro), _text_of(second)] == ["Skriv **alt** <at>Mette</at>", "anden linje"]
    inputs = {e["id"]: e for e in rest}
    assert list(inputs) == [f.name for f in ALL_KINDS.fields]
    assert inputs["title"] == {"type": "Input.Text", "id": "title", "label": "Titel", "isRequired": True,
                               "errorMessage": "⚠️ Titel", "placeholder": "Et navn", "value": "Fjordly",
                               "maxLength": 120}
    assert inputs["story"] == {"type": "Input.Text", "id": "story", "label": "Historie", "isMultiline": True,
                               "value": "linje 1\nlinje 2", "maxLength": 500}
    assert inputs["deadline"] == {"type": "Input.Date", "id": "deadline", "label": "Frist", "value": "2028-12-31"}
    assert inputs["minutes"]["type"] == "Input.Number" and inputs["minutes"]["value"] == 25
    assert inputs["level"] | {"choices": None} == {
        "type": "Input.ChoiceSet", "id": "level", "label": "Niveau", "isRequired": True,
        "errorMessage": "⚠️ Niveau", "style": "compact", "value": "medium", "choices": None}
    assert inputs["level"]["choices"][2] == {"title": "Ambitiøst", "value": "ambitious"}
    assert inputs["areas"]["isMultiSelect"] is True and inputs["areas"]["value"] == "E,G"
    assert inputs["owner"]["type"] == "Input.Text" and inputs["owner"]["value"] == "Mette"
    [submit] = card["actions"]
    assert submit == {"type": "Action.Submit", "title": "Gem", "style": "positive",
                      "data": {"ambition": {"action": "form_submit",
                                            "args": {"workshop": "w1", "seq": "2", "form": "everything"}}}}


def test_values_an_input_cannot_hold_are_left_out() -> None:
    form = Form("f", "F", "Gem", fields=(
        FormField("d", "D", FieldKind.DATE, value="31-12-2028"),
        FormField("d2", "D2", FieldKind.DATE, value="2027-02-31"),
        FormField("n", "N", FieldKind.NUMBER, value="fem"),
        FormField("c", "C", FieldKind.CHOICE, value="gone", options=(("a", "A"),)),
        FormField("m", "M", FieldKind.CHOICES, value="gone,a", options=(("a", "A"), ("b", "B"))),
        FormField("t", "T", value="x" * 30, max_length=10),
        FormField("o", "O", FieldKind.CHOICE, value="fri tekst"),  # no options: a text input
    ))
    card = form_card(form)
    _check_card(card)
    inputs = {e["id"]: e for e in _inputs(card)}
    assert "value" not in inputs["d"] and "value" not in inputs["d2"]
    assert "value" not in inputs["n"] and "value" not in inputs["c"]
    assert inputs["m"]["value"] == "a"
    assert inputs["t"]["value"] == "x" * 30 and "maxLength" not in inputs["t"]
    assert inputs["o"] == {"type": "Input.Text", "id": "o", "label": "O", "value": "fri tekst"}


def test_a_form_sent_back_with_errors_shows_them_and_keeps_what_was_typed() -> None:
    typed = {"title": "Fjordly **ny**", "minutes": "fem", "story": "", "areas": "S"}
    card = form_card(ALL_KINDS, errors={"minutes": "Skriv et helt tal fra 1 til 240.", "gone": "<at>x</at> fejl"},
                     values=typed)
    _check_card(card)
    body = card["body"]
    ids = [e.get("id") for e in body]
    first_input = ids.index("title")
    assert [_text_of(e) for e in body[3:first_input]] == ["⚠️ <at>x</at> fejl"]  # above the fields
    assert body[3]["color"] == "attention"
    after = body[ids.index("minutes") + 1]
    assert after["type"] == "TextBlock" and after["color"] == "attention"
    assert _text_of(after) == "⚠️ Skriv et helt tal fra 1 til 240."
    assert sum(1 for e in body if e.get("color") == "attention") == 2
    inputs = {e["id"]: e for e in _inputs(card)}
    assert inputs["title"]["value"] == "Fjordly **ny**"  # an input's value is not Markdown
    assert "value" not in inputs["minutes"]  # "fem" is no number: the error says so
    assert "value" not in inputs["story"]  # emptied by the person, not refilled
    assert inputs["areas"]["value"] == "S" and inputs["deadline"]["value"] == "2028-12-31"


def test_labels_and_choices_are_plain_text() -> None:
    form = Form("f", "*F*", "{{Gem}}", fields=(
        FormField("c", "Niveau *vigtigt*", FieldKind.CHOICE, options=(("a", "<at>A</at> {{DATE(x)}}"),),
                  hint="fx [link](http://evil)"),))
    card = form_card(form)
    _check_card(card)
    [choice] = _inputs(card)
    assert choice["label"] == "Niveau *vigtigt*"  # a label is shown as it is: no backslash
    assert choice["placeholder"] == "fx [link](http://evil)"
    assert choice["choices"][0]["title"].replace(WJ, "") == "<at>A</at> {{DATE(x)}}"
    assert card["actions"][0]["title"].replace(WJ, "") == "{{Gem}}"


def test_a_field_named_like_the_bots_data_is_refused() -> None:
    for name in ("ambition", "msteams", ""):
        with pytest.raises(ValueError):
            form_card(Form("f", "F", "Gem", fields=(FormField(name, "X"),)))
    with pytest.raises(ValueError):
        form_card(Form("f", "F", "Gem", fields=(FormField("a", "A"), FormField("a", "B"))))


def test_a_form_in_a_card_never_expires() -> None:
    """`expired` is what to say when a form cannot open in time (a Slack modal); a card is
    posted in the chat and can be sent as long as it is there."""
    assert form_card(replace(ALL_KINDS, expired="Formularen kunne ikke åbnes.")) == form_card(ALL_KINDS)


def test_form_values() -> None:
    value = {**form_card(ALL_KINDS)["actions"][0]["data"],
             "title": "  Fjordly <at>x</at> ", "story": "linje 1\r\nlinje 2\n", "deadline": "2028-12-31",
             "minutes": "25", "level": "medium", "areas": "E, G,", "owner": "Mette", "stray": "?"}
    assert form_values(value, ALL_KINDS) == {
        "title": "Fjordly <at>x</at>", "story": "linje 1\nlinje 2", "deadline": "2028-12-31",
        "minutes": "25", "level": "medium", "areas": "E,G", "owner": "Mette"}
    assert form_values({**value, "stray": "?"})["stray"] == "?"
    assert SUBMIT_KEY not in form_values(value)
    assert form_values({"title": "x"}, ALL_KINDS) == {f.name: "x" if f.name == "title" else ""
                                                      for f in ALL_KINDS.fields}
    assert form_values({"n": 25.0, "m": 2.5, "b": False, "l": ["a", "b"], "o": {"x": 1}}) == {
        "n": "25", "m": "2.5", "b": "false", "l": "a,b"}


def _submitted_unchanged(card: dict[str, Any]) -> dict[str, Any]:
    """The activity `value` Teams sends when the person presses submit straight away: the
    button's data with each input's value beside it, as text (an empty input is left out)."""
    value = dict(card["actions"][0]["data"])
    for element in _inputs(card):
        if "value" in element:
            value[element["id"]] = str(element["value"])
    return value


@pytest.mark.parametrize("name", ["details_form", "measures_form", "agenda_form", "ambition_form",
                                  "goal_form", "owner_form"])
def test_a_real_form_submitted_unchanged_gives_back_its_values(name: str, scenes: dict[str, Scene]) -> None:
    form = _a_form(scenes[name])
    action, args, _ = parse_submit(_submitted_unchanged(form_card(form)))
    assert (action, args) == ("form_submit", {**form.args, "form": form.form})
    assert form_values(_submitted_unchanged(form_card(form)), form) == {f.name: f.value.strip() for f in form.fields}


@pytest.mark.parametrize("button", ["setup_details", "setup_measures", "setup_agenda"])
def test_the_engine_accepts_what_a_teams_form_sends(button: str) -> None:
    room = Room()
    room.set_up()
    room.press(FACILITATOR, "plenum", button)
    opened = room.form(FACILITATOR).form
    assert room.ws is not None
    action, args, _ = parse_submit(_submitted_unchanged(form_card(opened)))
    assert action == "form_submit"
    outcome = room.send(FormSubmitted(event_id=f"teams-{button}", org=room.org, conversation="plenum",
                                      actor=actor(FACILITATOR), workshop_id=room.ws.id,
                                      form=args.pop("form"), args=args,
                                      values=form_values(_submitted_unchanged(form_card(opened)), opened)))
    assert not outcome.form_errors, outcome.form_errors
    assert any(isinstance(e, Update) and e.key == "setup" for e in outcome.effects)
