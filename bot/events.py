"""Inbound events: what an adapter hands the engine after parsing a platform request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, TypeVar


@dataclass(frozen=True)
class Actor:
    id: str  # platform-qualified and stable, e.g. "slack:U123" or "console:mette"
    name: str


SYSTEM = Actor("system", "system")


@dataclass(frozen=True, kw_only=True)
class Event:
    event_id: str  # the same id twice means the same event: it is handled once
    org: str  # Slack team, Teams tenant, or a console run
    conversation: str
    actor: Actor
    workshop_id: str = ""  # set when a button or form names its workshop
    trigger: str = ""  # an adapter's handle to answer in place (Slack trigger_id)


@dataclass(frozen=True)
class SharedFile:
    """A file sent along with a command (a Slack upload, a Teams attachment, a console path)."""

    name: str
    data: bytes


@dataclass(frozen=True, kw_only=True)
class Command(Event):
    text: str  # "next", "extend 5", "group E", …
    files: tuple[SharedFile, ...] = ()
    mentions: tuple[Actor, ...] = ()  # the people @mentioned in the command (never the bot), in order


@dataclass(frozen=True, kw_only=True)
class Action(Event):
    action: str
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class FormSubmitted(Event):
    form: str
    args: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TimerFired(Event):
    timer: str
    args: Mapping[str, str] = field(default_factory=dict)
    late: bool = False  # fired well after its time (the scheduler was down): say so


@dataclass(frozen=True, kw_only=True)
class MemberJoined(Event):
    pass


def channel_created(effect_org: str, workshop_id: str, group: str, conversation: str,
                    by: Actor) -> Command:
    """What a platform says once it made a group's channel: bind it, as `group E` typed there."""
    return Command(event_id=f"created:{workshop_id}:{group}:{conversation}", org=effect_org,
                   conversation=conversation, actor=by, workshop_id=workshop_id, text=f"group {group}")


def timer_fired(timer: str, args: Mapping[str, str], late: bool = False) -> TimerFired:
    """The event a timer turns into; its id makes a second firing a duplicate (late or not)."""
    tail = ":".join(f"{k}={v}" for k, v in sorted(args.items()))
    return TimerFired(
        event_id=f"timer:{timer}:{tail}", org="", conversation="", actor=SYSTEM,
        workshop_id=args.get("workshop", ""), timer=timer, args=dict(args), late=late,
    )


E = TypeVar("E", bound=Event)
NUL = "\x00"
# What the store keeps of an id (bot/store/tables.py): a longer one is no platform's, and
# cutting it short could make it another's, so such an event is not handled at all.
MAX_ID, MAX_EVENT_ID, MAX_NAME = 200, 400, 200


def storable(event: E) -> E:
    """`event` without a NUL character in any of its texts, and with a name the store can keep.
    No platform means a NUL and no screen shows one, but PostgreSQL cannot store one: a name or
    an id with a NUL in it failed the whole request, and the platform's retry of it the same way."""
    cleaned: E = _without_nul(event)
    if len(cleaned.actor.name) > MAX_NAME:  # a name is only shown: the start of it will do
        cleaned = replace(cleaned, actor=replace(cleaned.actor, name=cleaned.actor.name[:MAX_NAME]))
    return cleaned


def oversized(event: Event) -> str | None:
    """Which of the event's ids is longer than the store keeps, or None."""
    ids = {"event id": (event.event_id, MAX_EVENT_ID), "org": (event.org, MAX_ID),
           "conversation": (event.conversation, MAX_ID), "actor": (event.actor.id, MAX_ID),
           "workshop": (event.workshop_id, 64)}
    return next((name for name, (value, limit) in ids.items() if len(value) > limit), None)


def _without_nul(value: Any) -> Any:
    """`value` itself where it has no NUL (the usual case costs no copy)."""
    if isinstance(value, str):
        return value.replace(NUL, "") if NUL in value else value
    if isinstance(value, tuple):
        items = tuple(_without_nul(v) for v in value)
        return value if all(a is b for a, b in zip(items, value)) else items
    if isinstance(value, Mapping):
        pairs = {_without_nul(k): _without_nul(v) for k, v in value.items()}
        return value if all(k in value and value[k] is v for k, v in pairs.items()) else pairs
    if is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: new for f in fields(value) if f.init
                   if (new := _without_nul(getattr(value, f.name))) is not getattr(value, f.name)}
        return replace(value, **changed) if changed else value
    return value
