"""Message catalogs: every user-visible text, in Danish and English."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@cache
def catalog(language: str) -> Mapping[str, str]:
    text = resources.files(__package__).joinpath(f"{language}.toml").read_text("utf-8")
    return _flatten(tomllib.loads(text))


def language_or_default(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


class Translator:
    """Text in one language; formats dates and times the local way."""

    def __init__(self, language: str) -> None:
        self.language = language_or_default(language)
        self._texts = catalog(self.language)

    def __call__(self, key: str, **params: object) -> str:
        template = self._texts.get(key)
        if template is None:
            raise KeyError(f"no text {key!r} in the {self.language} catalog")
        return template.format(**params) if params else template

    def has(self, key: str) -> bool:
        return key in self._texts

    def date(self, day: date) -> str:
        return day.strftime(self("format.date"))

    def time(self, moment: datetime) -> str:
        return moment.strftime(self("format.time"))

    def join(self, items: list[str]) -> str:
        if len(items) < 2:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self('format.and')} {items[-1]}"
