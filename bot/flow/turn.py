"""One turn of the engine: the state being changed, the effects gathered, and the guards.

A handler gets a Turn, changes `turn.ws` through `save`/`change`, and adds effects. A
refusal is raised, never returned: the engine then drops every change and effect of the
turn and sends only the refusal to the person, so bad input changes nothing else.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.domain.model import COLLECTIONS, Phase, Record, Workshop
from bot.effects import Cancel, Direct, Effect, OpenForm, Post, PostPrivate, Schedule, SendFile, Update
from bot.events import Event
from bot.i18n import Translator
from bot.ui import Form, Message, Moment, Text

R = TypeVar("R", bound=Record)


class Refusal(Exception):
    """The person's request cannot be done; `key` names the explanation in the catalog."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class FormInvalid(Exception):
    """A submitted form has errors; they are shown on the form, field by field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Context:
    now: datetime  # aware, UTC
    language: str = "da"  # for people who are not in a workshop yet
    timezone: str = "Europe/Copenhagen"
    public_url: str = ""  # where people's browsers reach the server (links to the board)
    # The outside world's randomness, handed in like `now`, so the engine stays a function of
    # its inputs: a link no one can guess is derived from it (see bot.flow.board).
    entropy: str = field(default_factory=lambda: secrets.token_hex(32))


@dataclass(frozen=True)
class Outcome:
    state: Workshop | None
    effects: tuple[Effect, ...] = ()
    form_errors: Mapping[str, str] = field(default_factory=dict)


class Turn:
    def __init__(self, ws: Workshop | None, event: Event, ctx: Context) -> None:
        self._ws = ws
        self.event = event
        self.ctx = ctx
        self.now = ctx.now
        self.effects: list[Effect] = []
        self.t = Translator(ws.language if ws else ctx.language)

    # -- state --------------------------------------------------------------------------
    @property
    def ws(self) -> Workshop:
        if self._ws is None:
            raise Refusal("refuse.no_workshop")
        return self._ws

    @property
    def state(self) -> Workshop | None:
        return self._ws

    @property
    def has_workshop(self) -> bool:
        return self._ws is not None

    def begin(self, ws: Workshop) -> None:
        self._ws = ws
        self.t = Translator(ws.language)

    def change(self, **fields: object) -> None:
        self._ws = replace(self.ws, **fields)
        if "language" in fields:
            self.t = Translator(self.ws.language)

    def save(self, record: R) -> R:
        """Store a record in its collection, stamped with who changed it and when."""
        stamped = replace(record, version=record.version + 1,
                          updated_by=self.event.actor.id, updated_at=self.now)
        name = COLLECTIONS[type(record)]
        self.change(**{name: {**getattr(self.ws, name), stamped.key: stamped}})
        return stamped

    def delete(self, record: Record) -> None:
        name = COLLECTIONS[type(record)]
        self.change(**{name: {k: v for k, v in getattr(self.ws, name).items() if k != record.key}})

    # -- effects ------------------------------------------------------------------------
    def post(self, conversation: str, message: Message, key: str = "") -> None:
        self.effects.append(Post(conversation, message, key))

    def update(self, conversation: str | None, key: str, message: Message) -> None:
        if conversation is not None:
            self.effects.append(Update(conversation, key, message))

    def reply(self, message: Message | str) -> None:
        """A message to the person who acted, in the conversation they acted in."""
        if isinstance(message, str):
            message = Message((Text(message),), summary=message)
        self.effects.append(PostPrivate(self.event.conversation, self.event.actor.id, message))

    def direct(self, conversation: str, user: str, message: Message, key: str = "") -> None:
        """A message in `user`'s own chat with the bot; `conversation` says on which platform."""
        self.effects.append(Direct(conversation, user, message, key))

    def open_form(self, form: Form) -> None:
        form = replace(form, expired=self.t("form.expired"))
        self.effects.append(OpenForm(self.event.conversation, self.event.actor.id, form,
                                     self.event.trigger))

    def send_plan(self, conversation: str) -> None:
        caption = self.t("plan_file.caption")
        self.effects.append(SendFile(conversation, self.ws.id, Message((Text(caption),), summary=caption),
                                     self.t("plan_file.open")))

    def schedule(self, timer: str, at: datetime, args: Mapping[str, str]) -> None:
        self.effects.append(Schedule(timer, at, dict(args)))

    def cancel(self, timer: str) -> None:
        self.effects.append(Cancel(timer))

    # -- time ---------------------------------------------------------------------------
    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.ws.timezone if self._ws else self.ctx.timezone))

    def today(self) -> date:
        return self.local(self.now).date()

    def clock(self, moment: datetime) -> str:
        return self.t.time(self.local(moment))

    def moment(self, at: datetime) -> Moment:
        return Moment(at, self.clock(at))

    # -- guards -------------------------------------------------------------------------
    def require_workshop(self) -> None:
        """Buttons and forms act on a workshop: one that is gone, or another org's, is not there."""
        if self._ws is None:
            raise Refusal("refuse.no_workshop")

    @property
    def actor(self) -> str:
        return self.event.actor.id

    @property
    def is_facilitator(self) -> bool:
        return self._ws is not None and self.actor in self._ws.facilitators

    def require_facilitator(self, what: str) -> None:
        if self.actor not in self.ws.facilitators:
            raise Refusal("refuse.facilitator_only", what=self.t(f"what.{what}"))

    def require_phase(self, *phases: Phase) -> None:
        if self.ws.phase not in phases:
            raise Refusal("refuse.wrong_phase", phase=self.t(f"phase.{self.ws.phase}.name"))

    def require_fresh(self, args: Mapping[str, str]) -> None:
        """A button or form from an earlier phase is stale: it must not act on today's state."""
        if args.get("seq") != str(self.ws.phase_seq):
            raise Refusal("refuse.stale", phase=self.t(f"phase.{self.ws.phase}.name"))
