"""Neutral messages and forms as Adaptive Cards 1.5 for Microsoft Teams, as plain JSON-able dicts.

What Teams does with a TextBlock's text (and a Fact's title and value), in this order:

1. the date functions: `{{TIME(2026-11-27T08:30:00Z)}}` becomes the time in the reader's own
   time zone (learn.microsoft.com/adaptive-cards/authoring-cards/text-features; the JS SDK
   runs `TextFormatters.formatText` before Markdown);
2. a Markdown subset: `**bold**`, `_italic_`, `- lists`, `1. lists`, `[links](url)`; desktop and
   web follow CommonMark (backslash escapes, `&entities;`, `<autolinks>`), the mobile clients
   use the SDK's own parser (microsoft/Teams-AdaptiveCards-Mobile, MarkDownBlockParser.cpp),
   which honours a backslash only before `[ ] ) * _`;
3. mentions: `<at>name</at>`, but only together with an `msteams.entities` entry carrying the
   person's id. The renderer never writes one, so nothing here can notify anybody.

Everything in the neutral model is plain text, so `escape` makes every character show as typed,
with as few visible traces as possible on either parser:

* `* _ [ ]` get a backslash, which neither parser shows; so do `` ` `` and `~` (code spans and
  strikethrough in CommonMark), where the mobile parser, which knows neither, shows the
  backslash: a small blemish on rare characters, against code spans in which every other
  escape would show;
* a backslash is doubled where CommonMark would otherwise read it as an escape (before ASCII
  punctuation, at the end);
* where only a sequence is dangerous, an invisible WORD JOINER (U+2060) goes inside it instead of
  a backslash that mobile would show: `{⁠{` is no date function (the function rules allow no
  character between the braces), `<⁠at>` / `<⁠https://…>` are no tag, mention or autolink (a tag
  name must follow `<` at once), `&⁠lt;` is no entity, and a line that would start a list,
  quote, heading or indented code starts with the joiner, which is neither space nor a marker;
* parentheses stay: without an unescaped `[`/`]` there is no link for them to belong to.

A single newline in a TextBlock is a space in Teams and a blank line cannot be written at all
(microsoft/AdaptiveCards#5538, #1738), so every line of a text is a TextBlock of its own; a
blank line becomes a gap above the next one. Labels, placeholders, choice titles and button
titles are not Markdown (the JS SDK renders a label as a TextRun), so they only get the
invisible joiners.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

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

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"  # the newest Adaptive Card version Teams renders
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SUBMIT_KEY = "ambition"  # the bot's own part of an Action.Submit `data`
FORM_SUBMIT = "form_submit"
# Teams merges the inputs' values into the `data` object, by input id: an input with one of
# these ids would overwrite the bot's data or Teams' own `msteams` instructions.
RESERVED_IDS = frozenset({SUBMIT_KEY, "msteams"})

MAX_CARD_BYTES = 28_000  # Teams refuses a card larger than this
CARD_BUDGET = 26_000  # what a card may fill: the rest is room for the activity around it
ELEMENT_BUDGET = 12_000  # a FactSet grows up to this, so a card holds at least two elements
MAX_PIECE = 1_500  # characters in one TextBlock cut from a longer line (≤ 18 kB as JSON)
MAX_ACTIONS = 6  # Teams shows six actions of an ActionSet; the rest would hide in a menu
MAX_BUTTON_DATA = 2_000  # bytes of one button's data: six always fit in a card
MAX_TITLE = 100  # button titles: Teams cuts a long one at the button's edge anyway
MAX_FALLBACK = 1_000
MAX_EXPANDED = 10  # more options than this read better in a drop-down
BAR = 10  # cells in a progress bar, as in the console and Slack
ELLIPSIS = "…"
WORD_JOINER = "\u2060"

STYLES = {"primary": "positive", "danger": "destructive"}
HEADING = {"size": "large", "weight": "bolder"}
NOTE = {"isSubtle": True, "size": "small"}
ERROR = {"color": "attention"}

Card = dict[str, Any]
_BACKSLASHED = frozenset("*_[]`~")
_PUNCTUATION = frozenset(string.punctuation)
# Unicode's control characters (category Cc) but tab and line feed; and the characters
# that may need escaping (_escape_char): most text has none, and is used as it is.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPECIAL = re.compile(r"[\\*_\[\]`~<&{]")
# what opens a block at the start of a line: a quote, a heading, a list item (bullet or
# numbered) or a rule; leading whitespace is handled apart (indented code, indented markers)
_BLOCK_START = re.compile(r">|#{1,6}(\s|$)|[-+*](\s|$)|-[ \t]*-|\d{1,9}[.)](\s|$)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


# -- text ---------------------------------------------------------------------------------
def escape(text: str) -> str:
    """Plain text as TextBlock Markdown that shows exactly that text: no bold, list, link,
    mention, entity or date function. Control characters are dropped; lines stay lines."""
    return "\n".join(_escape_run(line, line_start=True) for line in _clean(text).split("\n"))


def _clean(text: str) -> str:
    """Text without control characters (they cannot be shown): every line end as \\n, tabs kept."""
    for line_end in ("\r\n", "\r", "\u2028", "\u2029"):
        text = text.replace(line_end, "\n")
    return _CONTROL.sub("", text)


def _escape_run(text: str, line_start: bool) -> str:
    escaped = text if _SPECIAL.search(text) is None else \
        "".join(_escape_char(c, text[i + 1:i + 2]) for i, c in enumerate(text))
    return WORD_JOINER + escaped if line_start and _starts_block(text) else escaped


def _escape_char(char: str, following: str) -> str:
    if char == "\\":
        # CommonMark reads a backslash before punctuation (or before a line end) as an escape
        return "\\\\" if not following or following in _PUNCTUATION else char
    if char in _BACKSLASHED:
        return "\\" + char
    return _join(char, following)


def _join(char: str, following: str) -> str:
    """`char`, followed by the invisible joiner where it would otherwise start markup."""
    starts_tag = char == "<" and (following.isascii() and following.isalpha() or following in ("/", "!", "?"))
    starts_entity = char == "&" and (following.isascii() and following.isalnum() or following == "#")
    starts_function = char == "{" and following == "{"
    return char + WORD_JOINER if following and (starts_tag or starts_entity or starts_function) else char


def _starts_block(line: str) -> bool:
    """Whether a line would open a Markdown block: heading, quote, list, rule or indented code."""
    return bool(line) and (line[0].isspace() or _BLOCK_START.match(line) is not None)


def _plain(text: str) -> str:
    """Text for a property that is not Markdown (label, placeholder, title): one line, no
    control characters, and no date function or tag even if a client looked for one."""
    line = _one_line(_clean(text))
    return "".join(_join(c, line[i + 1:i + 2]) for i, c in enumerate(line))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + ELLIPSIS


# -- lines with times in them -------------------------------------------------------------
@dataclass(frozen=True)
class _Run:
    """Part of a line: user text to escape, or a date function the renderer wrote."""

    text: str
    function: bool = False


Line = tuple[_Run, ...]


def _time_function(moment: Moment) -> str | None:
    """`{{TIME(…)}}` for a moment, which each reader sees in their own time zone; None for a
    moment without a time zone, which stays as the text writes it."""
    if moment.at.utcoffset() is None:
        return None
    return "{{TIME(" + moment.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + ")}}"


def _moment_spans(text: str, moments: Sequence[Moment]) -> list[tuple[int, int, str]]:
    """Where each moment's written time is in the text (its first place no other moment took)."""
    spans: list[tuple[int, int, str]] = []
    for moment in moments:
        function, shown = _time_function(moment), _clean(moment.shown)
        if function is None or not shown:
            continue
        start = text.find(shown)
        while start >= 0 and any(start < end and begin < start + len(shown) for begin, end, _ in spans):
            start = text.find(shown, start + 1)
        if start >= 0:
            spans.append((start, start + len(shown), function))
    return sorted(spans)


def _timed_lines(text: str, moments: Sequence[Moment]) -> list[Line]:
    text = _clean(text)
    runs: list[_Run] = []
    position = 0
    for start, end, function in _moment_spans(text, moments):
        runs += [_Run(text[position:start]), _Run(function, function=True)]
        position = end
    runs.append(_Run(text[position:]))
    lines: list[list[_Run]] = [[]]
    for run in runs:
        if run.function:
            lines[-1].append(run)
            continue
        first, *rest = run.text.split("\n")
        lines[-1] += [_Run(first)] if first else []
        lines += [[_Run(part)] if part else [] for part in rest]
    return [tuple(line) for line in lines]


def _is_blank(line: Line) -> bool:
    return all(not run.function and not run.text.strip() for run in line)


def _length(runs: Iterable[_Run]) -> int:
    return sum(len(run.text) for run in runs)


def _pieces(line: Line, limit: int = MAX_PIECE) -> list[Line]:
    """A line too long for one TextBlock, in pieces of at most `limit` characters cut at spaces
    (or anywhere, in a word longer than that); a date function is never cut."""
    if _length(line) <= limit:
        return [line]
    pieces: list[list[_Run]] = [[]]
    for run in line:
        if run.function:
            if _length(pieces[-1]) + len(run.text) > limit:
                pieces.append([])
            pieces[-1].append(run)
            continue
        text = run.text
        while _length(pieces[-1]) + len(text) > limit:
            room = limit - _length(pieces[-1])
            cut = text.rfind(" ", 0 if pieces[-1] else room // 2, room + 1)
            if cut <= 0 and pieces[-1]:
                pieces.append([])  # nothing of it fits behind what is there: a fresh piece
                continue
            cut = cut if cut > 0 else room
            pieces[-1].append(_Run(text[:cut].rstrip(" ")))
            pieces.append([])
            text = text[cut:].lstrip(" ")
        if text:
            pieces[-1].append(_Run(text))
    return [tuple(piece) for piece in pieces if not _is_blank(tuple(piece))]


def _markdown(line: Line) -> str:
    return "".join(run.text if run.function else _escape_run(run.text, line_start=index == 0)
                   for index, run in enumerate(line))


# -- card elements ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Element:
    body: dict[str, Any]
    size: int  # bytes as JSON
    heading: bool = False  # a heading starts a new card when the message has to be split


def _element(body: dict[str, Any], heading: bool = False) -> _Element:
    return _Element(body, _bytes(body), heading)


def _bytes(value: Any) -> int:
    # ASCII-only JSON, as Python's json writes it by default: never smaller than the UTF-8 form
    return len(json.dumps(value))


def _text_blocks(text: str, moments: Sequence[Moment] = (), style: Mapping[str, Any] | None = None
                 ) -> list[dict[str, Any]]:
    """One TextBlock per line (Teams shows a lone newline as a space); a blank line is a gap."""
    blocks: list[dict[str, Any]] = []
    gap = False
    for line in _timed_lines(text, moments):
        if _is_blank(line):
            gap = bool(blocks)
            continue
        for piece in _pieces(line):
            block: dict[str, Any] = {"type": "TextBlock", "text": _markdown(piece), "wrap": True, **(style or {})}
            if blocks:
                block["spacing"] = "medium" if gap else "none"
            blocks.append(block)
            gap = False
    return blocks


def _render(block: Block) -> list[_Element]:
    match block:
        case Heading(text):
            blocks = _text_blocks(_one_line(text), style=HEADING)
            return [_element(b, heading=index == 0) for index, b in enumerate(blocks)]
        case Text(text, moments):
            return [_element(b) for b in _text_blocks(text, moments)]
        case Fields(items):
            return [_element(b) for b in _fact_sets(items)]
        case Note(text, moments):
            return [_element(b) for b in _text_blocks(text, moments, NOTE)]
        case Progress(label, done, total):
            return [_element(b) for b in _text_blocks(_bar(label, done, total))]
        case Buttons(buttons):
            return [_element(b) for b in _action_sets(buttons)]
    return []


def _bar(label: str, done: int, total: int) -> str:
    filled = min(BAR, max(0, round(BAR * done / total))) if total > 0 else 0
    return f"{'▓' * filled}{'░' * (BAR - filled)} {done}/{total} {_one_line(_clean(label))}".rstrip()


def _fact_sets(items: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Label/value pairs as FactSets of at most ELEMENT_BUDGET bytes; a pair too long for a
    FactSet becomes a bold label over its text, so nothing is cut off."""
    blocks: list[dict[str, Any]] = []
    facts: list[dict[str, str]] = []
    for label, value in items:
        label, value = _one_line(_clean(label)), _clean(value).strip()
        if not label and not value:
            continue
        fact = {"title": escape(label), "value": _fact_value(value)}
        if _bytes(fact) > ELEMENT_BUDGET // 2:
            blocks += [_fact_set(facts)] if facts else []
            facts = []
            blocks += _text_blocks(label, style={"weight": "bolder"}) + _text_blocks(value)
            continue
        if facts and _bytes(_fact_set([*facts, fact])) > ELEMENT_BUDGET:
            blocks.append(_fact_set(facts))
            facts = []
        facts.append(fact)
    return blocks + ([_fact_set(facts)] if facts else [])


def _fact_set(facts: list[dict[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": facts}


def _fact_value(value: str) -> str:
    # a fact value is one Markdown paragraph: its lines are kept apart the way Teams asks for
    return "\n\n".join(escape(line) for line in value.split("\n") if line.strip())


def _action_sets(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    actions = [_submit(button.label, button.action, button_data(button), STYLES.get(button.style))
               for button in buttons]
    return [{"type": "ActionSet", "actions": actions[i:i + MAX_ACTIONS]}
            for i in range(0, len(actions), MAX_ACTIONS)]


def _submit(title: str, fallback: str, data: dict[str, Any], style: str | None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Submit", "title": _shorten(_plain(title) or fallback, MAX_TITLE),
                              "data": data}
    if style:
        action["style"] = style
    return action


# -- messages -----------------------------------------------------------------------------
def message_cards(message: Message) -> list[Card]:
    """One or more Adaptive Cards, in order, each under CARD_BUDGET bytes: a long message is
    split between blocks (before a heading where one is near), a long text between lines."""
    elements = [element for block in message.blocks for element in _render(block)]
    if not elements:
        # a card with nothing in it shows as an empty bubble: say at least what the message is
        elements = [_element(b) for b in _text_blocks(fallback_text(message))]
    return [_card([element.body for element in part]) for part in _split(elements)]


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> Card:
    card: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        card["actions"] = actions
    return card


_EMPTY_CARD = _bytes(_card([]))


def _card_bytes(elements: Sequence[_Element]) -> int:
    # a JSON list of n items adds a ", " between them
    return _EMPTY_CARD + sum(e.size for e in elements) + 2 * max(0, len(elements) - 1)


def _split(elements: Sequence[_Element]) -> list[list[_Element]]:
    parts: list[list[_Element]] = []
    current: list[_Element] = []
    for element in elements:
        while current and _card_bytes([*current, element]) > CARD_BUDGET:
            cut = _cut(current)
            parts.append(current[:cut])
            current = current[cut:]
        current.append(element)
    parts.append(current)
    return parts


def _cut(elements: Sequence[_Element]) -> int:
    """Where a full card ends: before a heading in its second half, so the next card starts
    with its own heading; else at the end, but never right after a heading."""
    for index in range(len(elements) - 1, len(elements) // 2, -1):
        if elements[index].heading:
            return index
    return len(elements) - 1 if len(elements) > 1 and elements[-1].heading else len(elements)


def fallback_text(message: Message) -> str:
    """One line for notifications and previews (Activity.summary): the summary, else the first
    heading or text, else anything. Plain text with the invisible joiners only: put it through
    `escape` before using it where Teams reads Markdown (Activity.text)."""
    headed = (b.text for b in message.blocks if isinstance(b, (Heading, Text)))
    anything = (_words(b) for b in message.blocks)
    text = next((t for t in (message.summary, *headed, *anything) if t.strip()), "")
    return _shorten(_plain(text), MAX_FALLBACK)


def _words(block: Block) -> str:
    match block:
        case Fields(items):
            return " · ".join(f"{label}: {value}" if value else label for label, value in items)
        case Progress(label, done, total):
            return f"{done}/{total} {label}"
        case Buttons(buttons):
            return " · ".join(b.label for b in buttons)
        case Heading(text) | Text(text) | Note(text):
            return text
    return ""


def attachment(card: Card) -> dict[str, Any]:
    """A card as a Bot Framework attachment."""
    return {"contentType": CONTENT_TYPE, "content": card}


# -- buttons and submissions --------------------------------------------------------------
def button_data(button: Button) -> dict[str, Any]:
    """A button's Action.Submit `data`: {"ambition": {"action": …, "args": {…}}}."""
    return _data(button.action, button.args)


def _data(action: str, args: Mapping[str, str]) -> dict[str, Any]:
    if not (isinstance(action, str) and action):
        raise ValueError(f"a button needs an action, not {action!r}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in args.items()):
        raise ValueError(f"the {action!r} button's args must be strings: {dict(args)!r}")
    data = {SUBMIT_KEY: {"action": action, "args": dict(args)}}
    if _bytes(data) > MAX_BUTTON_DATA:
        # cutting it would make a button that does something else: better not to post it
        raise ValueError(f"the {action!r} button's args are too long ({_bytes(data)} > {MAX_BUTTON_DATA} bytes)")
    return data


def parse_submit(value: Mapping[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
    """An Action.Submit's activity `value` → (action, args, input values); ValueError for
    anything this renderer did not make."""
    data = value.get(SUBMIT_KEY) if isinstance(value, Mapping) else None
    if not isinstance(data, Mapping) or not set(data) <= {"action", "args"}:
        raise ValueError(f"not a submission of this bot: {_sample(value)}")
    action, args = data.get("action"), data.get("args", {})
    if not (isinstance(action, str) and action and isinstance(args, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in args.items())):
        raise ValueError(f"not a submission of this bot: {_sample(value)}")
    return action, dict(args), form_values(value)


def _sample(value: Any) -> str:
    return repr(value)[:120]


def form_values(value: Mapping[str, Any], form: Form | None = None) -> dict[str, str]:
    """The inputs' values in a submitted `value`, as the engine takes them: text trimmed,
    a date YYYY-MM-DD, a number as text, several choices comma-separated. With the form at
    hand: exactly its fields, one left empty (or not sent) as ""."""
    if not isinstance(value, Mapping):
        raise TypeError(f"not a submission: {_sample(value)}")
    found = {str(key): text for key, raw in value.items()
             if key not in RESERVED_IDS and (text := _submitted(raw)) is not None}
    if form is None:
        return found
    return {f.name: _field_value(f, found.get(f.name, "")) for f in form.fields}


def _submitted(raw: Any) -> str | None:
    """An input's value as text; None for what no input sends (an object)."""
    match raw:
        case None:
            return ""
        case bool():
            return "true" if raw else "false"
        case int():
            return str(raw)
        case float():
            return str(int(raw)) if raw.is_integer() else str(raw)
        case str():
            return _clean(raw).strip()
        case list() | tuple():
            return ",".join(part for item in raw if (part := _submitted(item)))
    return None


def _field_value(field: FormField, text: str) -> str:
    if field.kind == FieldKind.CHOICES:
        return ",".join(v.strip() for v in text.split(",") if v.strip())
    return text


# -- forms --------------------------------------------------------------------------------
def form_card(form: Form, errors: Mapping[str, str] | None = None,
              values: Mapping[str, str] | None = None) -> Card:
    """The form as a card with inputs (Teams has no modal for this bot): the title as a heading,
    the intro, one labelled input per field, and the submit button. With `errors`, each shows
    in red under its field (one that names no field above them all) and the inputs keep the
    submitted `values`, so nothing typed is lost."""
    _check_ids(form)
    errors, values = dict(errors or {}), dict(values or {})
    names = {f.name for f in form.fields}
    body = _text_blocks(_one_line(form.title), style=HEADING) + _text_blocks(form.intro)
    for name, text in errors.items():
        body += [] if name in names else _error(text)
    for field in form.fields:
        body.append(_input(field, values.get(field.name, field.value)))
        body += _error(errors[field.name]) if field.name in errors else []
    # (form.expired is for a platform whose forms open only just after the click; a card is
    # posted in the chat and stays there, so it never applies here)
    submit = _submit(form.submit, "OK", _data(FORM_SUBMIT, {**form.args, "form": form.form}), "positive")
    card = _card(body, [submit])
    if _bytes(card) > CARD_BUDGET:
        # a form is one card (its inputs go back together): too big, Teams would refuse it
        raise ValueError(f"the {form.form!r} form is too large for a Teams card ({_bytes(card)} bytes)")
    return card


def _check_ids(form: Form) -> None:
    names = [f.name for f in form.fields]
    if any(not name for name in names) or len(set(names)) < len(names) or RESERVED_IDS & set(names):
        raise ValueError(f"the {form.form!r} form's field names cannot be input ids: {names!r}")


def _error(text: str) -> list[dict[str, Any]]:
    return _text_blocks("⚠️ " + _one_line(text), style=ERROR)


def _input(field: FormField, value: str) -> dict[str, Any]:
    label = _plain(field.label) or field.name
    element: dict[str, Any] = {"id": field.name, "label": label}
    if field.required:
        # shown by Teams itself when the field is left empty: the person never waits for the bot
        element |= {"isRequired": True, "errorMessage": f"⚠️ {label}"}
    if field.hint.strip():
        element["placeholder"] = _plain(field.hint)
    return element | _kind(field, _clean(value).strip())


def _kind(field: FormField, value: str) -> dict[str, Any]:
    """The input's type and value for the field's kind; a value the input cannot hold is left out."""
    match field.kind:
        case FieldKind.DATE:
            return {"type": "Input.Date"} | ({"value": value} if _is_date(value) else {})
        case FieldKind.NUMBER:
            number = _number(value)
            return {"type": "Input.Number"} | ({"value": number} if number is not None else {})
        case FieldKind.CHOICE if field.options:
            return _choice_set(field, [value], multiple=False)
        case FieldKind.CHOICES if field.options:
            return _choice_set(field, [v.strip() for v in value.split(",")], multiple=True)
    # TEXT, LONG_TEXT, USER (a name: Teams' people picker needs Microsoft Graph), a choice without options
    return _text_input(field, value)


def _text_input(field: FormField, value: str) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "Input.Text"}
    if field.kind == FieldKind.LONG_TEXT:
        element["isMultiline"] = True
    if 0 < field.max_length and len(value) <= field.max_length:
        # a stored value longer than the limit: the engine says so when it is saved
        element["maxLength"] = field.max_length
    return element | ({"value": value} if value else {})


def _choice_set(field: FormField, selected: Sequence[str], multiple: bool) -> dict[str, Any]:
    known = [v for v, _ in field.options if v in set(selected)]
    element: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "style": "expanded" if multiple and len(field.options) <= MAX_EXPANDED else "compact",
        "choices": [{"title": _plain(label) or v, "value": v} for v, label in field.options],
    }
    if multiple:
        element["isMultiSelect"] = True
    return element | ({"value": ",".join(known)} if known else {})


def _is_date(value: str) -> bool:
    if not _ISO_DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _number(value: str) -> int | float | None:
    if not _NUMBER.match(value):
        return None
    return float(value) if "." in value else int(value)

