"""Effects and events to JSON and back, for the outbox and the inbox. Only the message,
effect and event types are known."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import date, datetime
from enum import Enum
from typing import Any

from bot import effects, events, ui

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for module in (effects, events, ui)
    for cls in vars(module).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
}


def to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$": type(value).__name__, **fields}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, bytes):  # a file sent with a command
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def _rich(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_rich(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    if "$d" in value:
        return date.fromisoformat(value["$d"])
    if "$b" in value:
        return base64.b64decode(value["$b"])
    fields = {k: _rich(v) for k, v in value.items() if k != "$"}
    return _TYPES[value["$"]](**fields) if "$" in value else fields


def dumps(effect: effects.Effect) -> str:
    return json.dumps(to_plain(effect), ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> effects.Effect:
    return _rich(json.loads(text))


def dumps_event(event: events.Event) -> str:
    # ASCII: a lone surrogate (JSON can carry one, UTF-8 cannot) comes back as it went in.
    return json.dumps(to_plain(event), separators=(",", ":"))


def loads_event(text: str) -> events.Event:
    return _rich(json.loads(text))
