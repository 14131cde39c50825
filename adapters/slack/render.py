"""Neutral messages and forms as Slack Block Kit: chat.postMessage payloads and modal views.

Everything in the neutral model is plain text. Whatever goes into a mrkdwn text object is
escaped (& < >) and marked `verbatim`, so a participant's `<!channel>`, `<@U123>` or bare
`@here` is shown as typed and never pings anyone. Blocks are built with `slack_sdk.models`,
whose validators check Slack's limits when `.to_dict()` runs; the renderer keeps within those
limits itself (splitting or shortening), so a long workshop never gets a message rejected.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    HeaderBlock,
    InputBlock,
    InputInteractiveElement,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.blocks import Block as SlackBlock
from slack_sdk.models.views import View

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

# Slack's limits (docs.slack.dev/reference/block-kit): the validators in slack_sdk check
# most of them; these are the ones the renderer has to stay under by itself.
MAX_BLOCKS = 50  # per message
MAX_TEXT = 3000  # per text object
MAX_FIELDS = 10  # per section
MAX_FIELD_TEXT = 2000  # per section field
MAX_BUTTONS = 25  # per actions block
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_TITLE = 24  # modal title, submit and close
MAX_LABEL = 2000  # input label and hint
MAX_OPTION_TEXT = 75
MAX_OPTIONS = 100  # per select menu
MAX_CHECKBOXES = 10  # more options than this need a multi-select menu
MAX_INPUT = 3000  # the most a plain_text_input's max_length may be
BAR = 10  # cells in a progress bar, as in the console
ELLIPSIS = "…"
STYLES = ("primary", "danger")

Payload = dict[str, Any]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^-?\d+$")


# -- text ---------------------------------------------------------------------------------
def escape(text: str) -> str:
    """Plain text as mrkdwn that shows exactly that text: no mention, link or channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timed(text: str, moments: Sequence[Moment]) -> str:
    """Escaped text whose times read in each reader's own time zone (Slack's date token, with
    the workshop's time as the fallback for clients that cannot show it)."""
    escaped = escape(text)
    for moment in moments:
        shown = escape(moment.shown)
        token = f"<!date^{int(moment.at.timestamp())}^{{time}}|{shown}>"
        escaped = escaped.replace(shown, token, 1)
    return escaped


def _mrkdwn(text: str) -> MarkdownTextObject:
    # verbatim: Slack otherwise auto-links bare channel names and parses some bare mentions
    return MarkdownTextObject(text=text, verbatim=True)


def _plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=_shorten(text, limit))


def _shorten(text: str, limit: int) -> str:
    """Plain text cut to `limit` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + ELLIPSIS


def _title(text: str, fallback: str) -> str:
    """A modal title or button label (≤ 24): cut at a word when that keeps most of it."""
    text = " ".join(text.split()) or fallback
    if len(text) <= MAX_TITLE:
        return text
    space = text.rfind(" ", MAX_TITLE // 2, MAX_TITLE)
    return (text[:space] if space > 0 else text[:MAX_TITLE - 1]).rstrip() + ELLIPSIS


def _safe_cut(text: str, at: int) -> int:
    """`at`, or earlier if it would cut an entity such as `&amp;` in two."""
    amp = text.rfind("&", max(0, at - 4), at)
    return amp if amp > 0 and ";" not in text[amp:at] else at


def _truncate(escaped: str, limit: int) -> str:
    """Escaped text cut to `limit` characters, never inside an entity."""
    if len(escaped) <= limit:
        return escaped
    return escaped[:_safe_cut(escaped, limit - 1)].rstrip() + ELLIPSIS


def _hard_cut(line: str, limit: int) -> int:
    """Where to break a line longer than `limit`: at a space in its second half, else at the limit."""
    space = line.rfind(" ", limit // 2, limit + 1)
    return _safe_cut(line, space if space > 0 else limit)


def _chunks(escaped: str, limit: int = MAX_TEXT) -> list[str]:
    """Escaped text in pieces of at most `limit` characters: whole lines where they fit,
    a long line broken at a space. Blank pieces are dropped (Slack rejects empty text)."""
    pieces: list[str] = []
    current: str | None = None
    for line in escaped.split("\n"):
        while len(line) > limit:
            if current is not None:
                pieces.append(current)
                current = None
            cut = _hard_cut(line, limit)
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        if current is None:
            current = line
        elif len(current) + 1 + len(line) <= limit:
            current += "\n" + line
        else:
            pieces.append(current)
            current = line
    if current is not None:
        pieces.append(current)
    return [p.strip("\n") for p in pieces if p.strip()]


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- messages -----------------------------------------------------------------------------
def message_payloads(message: Message) -> list[dict[str, Any]]:
    """One or more chat.postMessage payloads {"blocks": [...], "text": fallback}: a message
    longer than Slack allows (50 blocks, 3 000 characters per text, 10 fields per section,
    25 buttons per actions block, 150 characters per header) is split sensibly, never rejected."""
    numbers = itertools.count()  # buttons are numbered across the message, so no two share an id
    blocks = [rendered for block in message.blocks for rendered in _render(block, numbers)]
    parts = _split(blocks)
    fallback = _fallback(message)
    payloads = []
    for number, part in enumerate(parts, start=1):
        # the continuations say so in the notification, or three alike would look like a repeat
        suffix = f" ({number}/{len(parts)})" if len(parts) > 1 else ""
        text = _truncate(fallback, MAX_TEXT - len(suffix)) + suffix
        payloads.append({"blocks": [b.to_dict() for b in part], "text": text})
    return payloads


def _render(block: Block, numbers: Iterator[int]) -> list[SlackBlock]:
    match block:
        case Heading(text):
            return _heading(text)
        case Text(text, moments):
            return [SectionBlock(text=_mrkdwn(piece)) for piece in _chunks(_timed(text, moments))]
        case Fields(items):
            return _fields(items)
        case Note(text, moments):
            return [ContextBlock(elements=[_mrkdwn(piece)]) for piece in _chunks(_timed(text, moments))]
        case Progress(label, done, total):
            return [SectionBlock(text=_mrkdwn(_truncate(_bar(label, done, total), MAX_TEXT)))]
        case Buttons(buttons):
            return _actions(buttons, numbers)
    return []


def _heading(text: str) -> list[SlackBlock]:
    text = _one_line(text)  # a header is one line; so is bold mrkdwn
    if not text:
        return []
    if len(text) <= MAX_HEADER:
        return [HeaderBlock(text=PlainTextObject(text=text))]
    # an organisation's name alone may be 120 characters: a long heading stays whole, in bold
    return [SectionBlock(text=_mrkdwn(f"*{piece}*")) for piece in _chunks(escape(text), MAX_TEXT - 2)]


def _fields(items: Iterable[tuple[str, str]]) -> list[SlackBlock]:
    texts = [t for t in (_field(label, value) for label, value in items) if t]
    return [SectionBlock(fields=[_mrkdwn(t) for t in texts[i:i + MAX_FIELDS]])
            for i in range(0, len(texts), MAX_FIELDS)]


def _field(label: str, value: str) -> str:
    """A field as "*label*" over its value; a value too long for a field is shortened."""
    label = _truncate(escape(_one_line(label)), MAX_FIELD_TEXT // 4)
    value = escape(value.strip())
    if not label:
        return _truncate(value, MAX_FIELD_TEXT)
    head = f"*{label}*"
    if not value:
        return head
    return f"{head}\n{_truncate(value, MAX_FIELD_TEXT - len(head) - 1)}"


def _bar(label: str, done: int, total: int) -> str:
    filled = min(BAR, max(0, round(BAR * done / total))) if total > 0 else 0
    return f"{'▓' * filled}{'░' * (BAR - filled)} {done}/{total} {escape(_one_line(label))}".rstrip()


def _actions(buttons: Sequence[Button], numbers: Iterator[int]) -> list[SlackBlock]:
    elements = [_button(button, next(numbers)) for button in buttons]
    return [ActionsBlock(elements=elements[i:i + MAX_BUTTONS])
            for i in range(0, len(elements), MAX_BUTTONS)]


def _button(button: Button, number: int) -> ButtonElement:
    # the value says what the button does; the action_id only has to be unique
    suffix = f":{number}"
    return ButtonElement(
        text=_plain(_one_line(button.label) or button.action, MAX_BUTTON_TEXT),
        action_id=button.action[:MAX_ACTION_ID - len(suffix)] + suffix,
        value=button_value(button),
        style=button.style if button.style in STYLES else None,
    )


def _split(blocks: list[SlackBlock]) -> list[list[SlackBlock]]:
    parts = []
    while len(blocks) > MAX_BLOCKS:
        cut = _cut(blocks)
        parts.append(blocks[:cut])
        blocks = blocks[cut:]
    parts.append(blocks)
    return parts


def _cut(blocks: Sequence[SlackBlock]) -> int:
    """Where a message that is too long ends: before a header in the second half of what
    fits, so the next message starts with its own heading; else where the room ends, but
    never right after a header, which would leave it apart from what it heads."""
    for index in range(MAX_BLOCKS, MAX_BLOCKS // 2, -1):
        if isinstance(blocks[index], HeaderBlock):
            return index
    return MAX_BLOCKS - 1 if isinstance(blocks[MAX_BLOCKS - 1], HeaderBlock) else MAX_BLOCKS


def _fallback(message: Message) -> str:
    """The notification text: the summary, else the first heading or text, else anything."""
    headed = (b.text for b in message.blocks if isinstance(b, (Heading, Text)))
    anything = (_words(b) for b in message.blocks)
    text = next((t for t in (message.summary, *headed, *anything) if t.strip()), "")
    return escape(text.strip())


def _words(block: Block) -> str:
    match block:
        case Fields(items):
            return "\n".join(f"{label}: {value}" if value else label for label, value in items)
        case Progress(label, done, total):
            return f"{done}/{total} {label}"
        case Buttons(buttons):
            return " · ".join(b.label for b in buttons)
        case Heading(text) | Text(text) | Note(text):
            return text
    return ""


# -- buttons ------------------------------------------------------------------------------
def button_value(button: Button) -> str:
    """What a pressed button sends back: its action and args, as compact JSON (≤ 2000)."""
    value = json.dumps({"a": button.action, "args": dict(button.args)}, ensure_ascii=False,
                       separators=(",", ":"), sort_keys=True)
    if len(value) > MAX_BUTTON_VALUE:
        # cutting it would make a button that does something else: better not to post it
        raise ValueError(f"the {button.action!r} button's args are too long for Slack "
                         f"({len(value)} > {MAX_BUTTON_VALUE} characters)")
    return value


def parse_button(value: str) -> tuple[str, dict[str, str]]:
    """The action and args a button_value holds; ValueError for anything else."""
    try:
        data = json.loads(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"not a button value: {str(value)[:80]!r}") from error
    action = data.get("a") if isinstance(data, dict) else None
    args = data.get("args", {}) if isinstance(data, dict) else None
    if not (isinstance(action, str) and action and isinstance(args, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in args.items())):
        raise ValueError(f"not a button value: {str(value)[:80]!r}")
    return action, dict(args)


# -- forms --------------------------------------------------------------------------------
def modal(form: Form, errors: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A views.open `view`: type modal, callback_id = form.form, private_metadata = JSON of form.args,
    title (≤ 24 chars, shortened with …), submit/close labels, the intro as a section, one input block
    per field with block_id = action_id = field name, initial values from FormField.value, hints,
    optional when not required, max_length on text inputs."""
    errors = dict(errors or {})
    names = {f.name for f in form.fields}
    blocks: list[SlackBlock] = [SectionBlock(text=_mrkdwn(piece)) for piece in _chunks(escape(form.intro))]
    # an error that names no field still has to be seen: above the fields
    blocks += [_error(text) for name, text in errors.items() if name not in names]
    for field in form.fields:
        blocks.append(_input(field))
        if field.name in errors:
            blocks.append(_error(errors[field.name]))
    # No close label: the neutral Form has none and no language to pick one in, so Slack
    # shows its own "Cancel" in the user's language.
    view = View(type="modal", callback_id=form.form, title=_title(form.title, form.form),
                submit=_title(form.submit, "OK"), blocks=blocks,
                private_metadata=json.dumps(dict(form.args), ensure_ascii=False, separators=(",", ":")))
    return view.to_dict()


def _error(text: str) -> ContextBlock:
    """An error shown in a freshly opened modal (inline errors exist only in a submission's ack)."""
    return ContextBlock(elements=[_mrkdwn(_truncate("⚠️ " + escape(_one_line(text)), MAX_TEXT))])


def _input(field: FormField) -> InputBlock:
    hint = field.hint.strip()
    return InputBlock(
        block_id=field.name, label=_plain(_one_line(field.label) or field.name, MAX_LABEL),
        element=_element(field), hint=_plain(hint, MAX_LABEL) if hint else None,
        optional=not field.required)


def _element(field: FormField) -> InputInteractiveElement:
    value = field.value.strip()
    match field.kind:
        case FieldKind.DATE:
            return DatePickerElement(action_id=field.name, initial_date=value if _is_date(value) else None)
        case FieldKind.NUMBER:
            # a value Slack cannot show as a whole number is left out rather than refused
            return NumberInputElement(action_id=field.name, is_decimal_allowed=False,
                                      initial_value=value if _INTEGER.match(value) else None)
        case FieldKind.CHOICE if field.options:
            return _select(field, value)
        case FieldKind.CHOICES if field.options:
            return _multi_select(field, [v.strip() for v in value.split(",") if v.strip()])
    # TEXT, LONG_TEXT, USER (the engine may hold a free-text name there, so no users_select),
    # and a choice without options
    return _text_input(field)


def _text_input(field: FormField) -> PlainTextInputElement:
    value = field.value
    limit = min(field.max_length, MAX_INPUT) if field.max_length > 0 else None
    if limit is not None and len(value) > limit:
        limit = None  # a stored value longer than the limit: the engine says so when it is saved
    return PlainTextInputElement(action_id=field.name, initial_value=value or None,
                                 multiline=True if field.kind == FieldKind.LONG_TEXT else None,
                                 max_length=limit)


def _is_date(value: str) -> bool:
    if not _ISO_DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _options(field: FormField, selected: Sequence[str]) -> list[Option]:
    """The field's options, at most 100: what is selected is always kept, the rest in order."""
    chosen = set(selected)
    room = MAX_OPTIONS - sum(1 for v, _ in field.options if v in chosen)
    kept = []
    for value, label in field.options:
        if value not in chosen:
            if room <= 0:
                continue
            room -= 1
        kept.append(Option(value=value, text=_plain(_one_line(label) or value, MAX_OPTION_TEXT)))
    return kept[:MAX_OPTIONS]


def _select(field: FormField, value: str) -> StaticSelectElement:
    options = _options(field, [value])
    initial = next((o for o in options if o.value == value), None)
    return StaticSelectElement(action_id=field.name, options=options, initial_option=initial)


def _multi_select(field: FormField, values: Sequence[str]) -> InputInteractiveElement:
    options = _options(field, values)
    initial = [o for o in options if o.value in set(values)] or None
    if len(options) <= MAX_CHECKBOXES:  # a short list reads better with all of it in view
        return CheckboxesElement(action_id=field.name, options=options, initial_options=initial)
    return StaticMultiSelectElement(action_id=field.name, options=options, initial_options=initial)


# -- submissions --------------------------------------------------------------------------
def form_values(state: Mapping[str, Any], form_fields: Sequence[FormField] | None = None) -> dict[str, str]:
    """view_submission `view.state.values` → {field name: value as the engine expects it}: text as typed,
    date "YYYY-MM-DD" (the engine accepts that), number as text, choice = the option value,
    choices = comma-separated option values, user = "slack:" + user id."""
    found: dict[str, str] = {}
    for block_id, actions in _state_values(state).items():
        if not isinstance(actions, Mapping) or not actions:
            continue
        entry = actions.get(block_id) or next(iter(actions.values()))
        if isinstance(entry, Mapping):
            found[str(block_id)] = _value(entry)
    if form_fields is None:
        return found
    # with the form at hand: exactly its fields, an untouched one as empty
    return {f.name: found.get(f.name, "") for f in form_fields}


def _state_values(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """`view.state.values`, also when handed `view.state` (a field may be named "values" too:
    then the inner entries are elements, not blocks)."""
    inner = state.get("values") if len(state) == 1 else None
    if isinstance(inner, Mapping) and all(
            isinstance(actions, Mapping) and all(isinstance(e, Mapping) for e in actions.values())
            for actions in inner.values()):
        return inner
    return state


def _value(entry: Mapping[str, Any]) -> str:
    match entry.get("type"):
        case "datepicker":
            return str(entry.get("selected_date") or "")
        case "static_select" | "radio_buttons" | "external_select":
            return str((entry.get("selected_option") or {}).get("value", ""))
        case "multi_static_select" | "checkboxes" | "multi_external_select":
            return ",".join(str(o.get("value", "")) for o in entry.get("selected_options") or ())
        case "users_select":
            user = entry.get("selected_user")
            return f"slack:{user}" if user else ""
        case "multi_users_select":
            return ",".join(f"slack:{u}" for u in entry.get("selected_users") or ())
    return str(entry.get("value") or "")


def form_errors(errors: Mapping[str, str]) -> dict[str, Any]:
    """The ack body that shows errors inline in the open modal: {"response_action": "errors", "errors": {block_id: text}}."""
    return {"response_action": "errors", "errors": {str(name): str(text) for name, text in errors.items()}}
