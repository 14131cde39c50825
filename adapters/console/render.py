"""Neutral messages as terminal lines. Buttons get numbers, so a person can press them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.ui import Block, Button, Buttons, Fields, Heading, Message, Note, Progress, Text

BAR = 10


@dataclass(frozen=True)
class Line:
    text: str
    style: str = ""  # a rich style name; the text itself is never parsed as markup


def render(message: Message, number: Callable[[Button], int]) -> list[Line]:
    lines: list[Line] = []
    for block in message.blocks:
        lines.extend(_block(block, number))
    return lines


def _block(block: Block, number: Callable[[Button], int]) -> list[Line]:
    match block:
        case Heading(text):
            return [Line(f"▌ {text}", "bold")]
        case Text(text):
            return [Line(t) for t in text.split("\n")]
        case Fields(items):
            return [Line(f"{label}: {value}" if value else label) for label, value in items]
        case Note(text):
            return [Line(f"· {t}", "dim") for t in text.split("\n")]
        case Progress(label, done, total):
            filled = round(BAR * done / total) if total else 0
            return [Line(f"{'▓' * filled}{'░' * (BAR - filled)} {done}/{total} {label}")]
        case Buttons(buttons):
            return [Line("   ".join(f"[{number(b)}] {b.label}" for b in buttons), "cyan")]
    return []
