"""The outbox codec: every effect survives dumps/loads unchanged, as plain JSON.

Effects wait in the outbox as text, sometimes across a restart or a deploy, so the round trip
must give back exactly what the engine produced: every effect type, every message block,
every form field kind, and user text that is hostile on some platform (mentions, formulas).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.codec import dumps, loads
from bot.effects import (Cancel, CreateConversation, Direct, Effect, Invite, OpenForm, Post, PostPrivate,
                         Schedule, SendFile, Update)
from bot.ui import (Block, Button, Buttons, FieldKind, Fields, Form, FormField, Heading, Message,
                    Note, Progress, Text)
from tests.conftest import START

# User text that must come back byte for byte: Danish letters, emoji (outside the BMP),
# a Slack channel mention, a spreadsheet formula, markup, quotes, escapes and a newline.
TRICKY = ("Æblegrød på Østerbro, å å 🎉👩🏽‍💻", "<!channel>", "=SUM(A1)", "<@U123> *bold* _x_",
          "\"quoted\" \\back\\slash", "line 1\nline 2\ttab", "$dt", "")


def every_block(text: str) -> tuple[Block, ...]:
    """One block of each type in bot/ui.py, all carrying `text`."""
    return (
        Heading(text),
        Text(text),
        Fields(((text, "værdi"), ("Frist", text))),
        Note(text),
        Progress(text, 3, 7),
        Buttons((Button(text, "vote", {"measure": "E-energi", "note": text}, "primary"),
                 Button("Nej", "cancel", style="danger"),
                 Button("Måske", "later"))),
    )


def message(text: str = "Hej 👋") -> Message:
    return Message(every_block(text), summary=text)


def form(text: str = "Hej 👋") -> Form:
    """A form with one field of every FieldKind, each with the optional parts filled in."""
    fields = tuple(
        FormField(f"f_{kind.value}", f"{text} ({kind.value})", kind, required=n % 2 == 0,
                  value=text, options=(("a", "Æ"), ("b", text)), max_length=n * 100, hint=text)
        for n, kind in enumerate(FieldKind))
    return Form("goal", text, "Gem", fields, args={"group": "E", "note": text}, intro=text)


def every_effect(text: str = "Hej 👋") -> list[Effect]:
    return [
        Post("plenum", message(text), key="board"),
        Post("E", message(text)),
        Update("plenum", "board", message(text)),
        PostPrivate("E2", "U-anna", message(text)),
        Direct("plenum", "U-anna", message(text), key=f"followup:{text}"),
        OpenForm("S", "U-anna", form(text), trigger="trigger-1.2"),
        OpenForm("S", "U-anna", Form("empty", text, "OK", ())),
        SendFile("plenum", "w1234", message(text)),
        CreateConversation("plenum", "T1", "w1234", "E", f"fjordly-{text}", "U-anna"),
        Invite("E", ("U-anna", text)),
        Schedule("phase-end", START, {"phase": "ambitions", "note": text}),
        Schedule("reminder", datetime(2026, 11, 27, 9, 30, tzinfo=ZoneInfo("Europe/Copenhagen"))),
        Cancel("phase-end"),
    ]


def json_leaves(value: Any) -> Iterator[Any]:
    """Every scalar in decoded JSON, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from json_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_leaves(item)
    else:
        yield value


def test_the_fixtures_cover_every_block_type_and_field_kind() -> None:
    """If ui.py grows a block or field kind, this fails until the round trips below cover it."""
    assert {type(b) for b in every_block("x")} == set(Block.__args__)
    assert {f.kind for f in form().fields} == set(FieldKind)
    assert {type(e) for e in every_effect()} == set(Effect.__args__)


@pytest.mark.parametrize("effect", every_effect(), ids=lambda e: type(e).__name__)
def test_every_effect_round_trips_to_an_equal_object(effect: Effect) -> None:
    loaded = loads(dumps(effect))

    assert type(loaded) is type(effect)
    assert loaded == effect


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("effect_index", range(len(every_effect())))
def test_user_text_survives_unchanged(text: str, effect_index: int) -> None:
    effect = every_effect(text)[effect_index]

    assert loads(dumps(effect)) == effect


def test_user_text_is_carried_as_is_not_escaped_or_rewritten() -> None:
    """Escaping is the adapters' job; the outbox must hand them the original text."""
    for text in TRICKY:
        loaded = loads(dumps(Post("plenum", Message((Text(text),), summary=text))))
        assert loaded.message.blocks[0].text == text
        assert loaded.message.summary == text


def test_a_schedule_keeps_its_moment_and_zone_offset() -> None:
    at = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Copenhagen"))  # the DST night
    loaded = loads(dumps(Schedule("t", at)))

    assert loaded.at == at
    assert loaded.at.utcoffset() == timedelta(hours=1)
    assert loads(dumps(Schedule("t", START))).at.astimezone(UTC) == START


@pytest.mark.parametrize("effect", every_effect("Æblegrød 🎉 <!channel> =SUM(A1)"),
                         ids=lambda e: type(e).__name__)
def test_the_json_is_plain(effect: Effect) -> None:
    text = dumps(effect)

    def no_constants(name: str) -> None:  # NaN and Infinity are Python's extension to JSON
        raise AssertionError(f"non-standard JSON constant {name}")

    decoded = json.loads(text, parse_constant=no_constants)
    assert isinstance(decoded, dict)
    leaves = list(json_leaves(decoded))
    assert all(v is None or isinstance(v, (str, int, float, bool)) for v in leaves)
    assert not any(isinstance(v, str) and ("py/" in v or "__class__" in v or "pickle" in v)
                   for v in leaves)
    # Unicode is written as itself, so the stored payload stays readable in the database.
    if not isinstance(effect, (Schedule, Cancel)):
        assert "Æblegrød 🎉" in text


def test_datetimes_are_stored_as_iso_8601_text() -> None:
    at = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    leaves = list(json_leaves(json.loads(dumps(Schedule("t", at)))))

    assert "2026-11-27T09:30:00+01:00" in leaves
