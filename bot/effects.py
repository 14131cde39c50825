"""Outbound effects: what the engine asks the world to do. Stored in the outbox first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.ui import Form, Message


@dataclass(frozen=True)
class Post:
    conversation: str
    message: Message
    key: str = ""  # names the message so that a later Update can replace it


@dataclass(frozen=True)
class Update:
    conversation: str
    key: str
    message: Message


@dataclass(frozen=True)
class PostPrivate:
    """A message only `user` sees (Slack ephemeral, a Teams reply to them alone)."""

    conversation: str
    user: str
    message: Message


@dataclass(frozen=True)
class Direct:
    """A message in `user`'s own chat with the bot, where it stays (follow-up after the
    workshop). `conversation` is the workshop's plenum: it says which platform and
    organisation, and keeps the workshop's messages in order."""

    conversation: str
    user: str
    message: Message
    key: str = ""  # names the message so that a later Update can replace it


@dataclass(frozen=True)
class OpenForm:
    conversation: str
    user: str
    form: Form
    trigger: str = ""


@dataclass(frozen=True)
class SendFile:
    """The workshop's action plan as a file. The adapter builds it when it delivers, from
    what is stored then, so the outbox holds no file and a retry sends the newest plan."""

    conversation: str
    workshop_id: str
    message: Message  # says what the file is
    open_label: str = ""  # for a platform that links to the file: the words on the button


@dataclass(frozen=True)
class CreateConversation:
    """A channel for a group, made by the platform and then bound to the group as if
    `requested_by` had typed `group <code>` in it."""

    conversation: str  # the plenum: where the request came from
    org: str
    workshop_id: str
    group: str
    name: str  # a suggestion; the platform may add to it to make it unique
    requested_by: str


@dataclass(frozen=True)
class Invite:
    """Bring these people into a group's channel (where the platform lets the bot do that)."""

    conversation: str
    users: tuple[str, ...]


@dataclass(frozen=True)
class Schedule:
    """Fire `timer` at `at` (replacing an earlier schedule of the same timer)."""

    timer: str
    at: datetime
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cancel:
    timer: str


Effect = (Post | Update | PostPrivate | Direct | OpenForm | SendFile | CreateConversation | Invite | Schedule
          | Cancel)
TIMER_EFFECTS = (Schedule, Cancel)


def conversation_of(effect: Effect) -> str:
    """Effects to one conversation are delivered in order; timers form their own lane."""
    return "" if isinstance(effect, TIMER_EFFECTS) else effect.conversation
