"""Numbers as people type them in Danish or English: 9,8 · 1.234,5 · 1,234.5 · 12 %."""

from __future__ import annotations

import re

_DANISH_THOUSANDS = re.compile(r"[1-9]\d{0,2}(\.\d{3})+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def parse_number(text: str) -> float | None:
    """The number `text` stands for, or None. A lone comma is a decimal comma, as in Danish."""
    raw = text.strip().removesuffix("%").replace("\u2212", "-").replace(" ", "").replace("\u00a0", "")
    if "," in raw and "." in raw:  # whichever comes last separates the decimals
        thousands = "." if raw.rfind(",") > raw.rfind(".") else ","
        raw = raw.replace(thousands, "").replace(",", ".")
    elif "," in raw:
        raw = raw.replace(",", ".")
    elif _DANISH_THOUSANDS.fullmatch(raw.lstrip("+-")):
        raw = raw.replace(".", "")
    return float(raw) if _NUMBER.fullmatch(raw) else None


def show_number(value: float) -> str:
    """A number without a needless .0 (142.0 → 142)."""
    return str(int(value)) if value.is_integer() else repr(value)
