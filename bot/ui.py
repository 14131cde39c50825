"""The neutral message model. Every text in it is plain: adapters escape all of it.

Formatting is carried by structure (a heading, fields, a note), never by markup inside a
string, so user text can never turn into a mention, a link or a formula on any platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Moment:
    """A time of day inside a text: `shown` is how the text writes it (the workshop's time zone).
    A platform that can show each reader their own local time puts that in its place."""

    at: datetime
    shown: str


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Text:
    text: str
    moments: tuple[Moment, ...] = ()


@dataclass(frozen=True)
class Fields:
    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Note:
    """Small print under a block: times, who did what, hints."""

    text: str
    moments: tuple[Moment, ...] = ()


@dataclass(frozen=True)
class Progress:
    label: str
    done: int
    total: int


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    args: Mapping[str, str] = field(default_factory=dict)
    style: str = ""  # "primary", "danger" or ""


@dataclass(frozen=True)
class Buttons:
    buttons: tuple[Button, ...]


Block = Heading | Text | Fields | Note | Progress | Buttons


@dataclass(frozen=True)
class Message:
    blocks: tuple[Block, ...]
    summary: str = ""  # one line for notifications and plain-text fallbacks


class FieldKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    DATE = "date"
    NUMBER = "number"
    CHOICE = "choice"
    CHOICES = "choices"  # several may be picked; the value is comma-separated
    USER = "user"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = False
    value: str = ""
    options: tuple[tuple[str, str], ...] = ()  # (value, label)
    max_length: int = 0
    hint: str = ""


@dataclass(frozen=True)
class Form:
    form: str
    title: str
    submit: str
    fields: tuple[FormField, ...]
    args: Mapping[str, str] = field(default_factory=dict)
    intro: str = ""
    # What to tell the person if the form can no longer open (Slack opens a modal only within
    # seconds of the click); written by the engine, so it is in the workshop's language.
    expired: str = ""
