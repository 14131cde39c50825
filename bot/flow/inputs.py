"""Reading what people typed: clean text, dates and numbers, or a clear error per field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date

from bot.flow.turn import FormInvalid
from bot.i18n import Translator

_DAY_FIRST = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def clean(text: str, multiline: bool = False) -> str:
    """Drop control and format characters (keeping line breaks where they belong)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = (c for c in text if (multiline and c == "\n")
            or unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    lines = "".join(kept).split("\n")
    return "\n".join(line.strip() for line in lines).strip()


def parse_date(text: str) -> date | None:
    """30-06-2027, 30/6/2027, 30.06.2027 or 2027-06-30; None if it is no real date."""
    text = text.strip()
    if m := _ISO.match(text):
        year, month, day = (int(g) for g in m.groups())
    elif m := _DAY_FIRST.match(text):
        day, month, year = (int(g) for g in m.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


class FormReader:
    """Reads a submitted form field by field and collects every error before refusing."""

    def __init__(self, t: Translator, values: Mapping[str, str]) -> None:
        self.t = t
        self.values = values
        self.errors: dict[str, str] = {}

    def text(self, name: str, max_length: int, *, required: bool = False,
             multiline: bool = False) -> str:
        value = clean(str(self.values.get(name, "")), multiline)
        if required and not value:
            self.errors[name] = self.t("form.required")
        elif len(value) > max_length:
            self.errors[name] = self.t("form.too_long", length=len(value), max=max_length)
        return value

    def date(self, name: str, *, today: date, required: bool = False,
             future: bool = False) -> date | None:
        raw = clean(str(self.values.get(name, "")))
        if not raw:
            if required:
                self.errors[name] = self.t("form.required")
            return None
        day = parse_date(raw)
        if day is None:
            self.errors[name] = self.t("form.bad_date", value=raw[:40],
                                       example=f"31-12-{today.year + 1}")
        elif future and day <= today:
            self.errors[name] = self.t("form.past_date", value=self.t.date(day))
        return day

    def choice(self, name: str, options: Sequence[str], *, required: bool = True) -> str:
        value = clean(str(self.values.get(name, "")))
        if value in options or (not value and not required):
            return value
        self.errors[name] = self.t("form.required" if not value else "form.bad_choice")
        return ""

    def choices(self, name: str, options: Sequence[str]) -> list[str]:
        picked = [v for v in (clean(p) for p in str(self.values.get(name, "")).split(",")) if v]
        if any(p not in options for p in picked):
            self.errors[name] = self.t("form.bad_choice")
        return list(dict.fromkeys(p for p in picked if p in options))

    def integer(self, name: str, low: int, high: int) -> int:
        raw = clean(str(self.values.get(name, "")))
        if raw.isdigit() and low <= int(raw) <= high:
            return int(raw)
        self.errors[name] = self.t("form.bad_number", low=low, high=high)
        return low

    def done(self) -> None:
        if self.errors:
            raise FormInvalid(self.errors)
