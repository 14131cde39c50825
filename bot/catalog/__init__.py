"""The shipped catalog of illustrative målepunkter (an organisation replaces them with its own)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bot.domain.model import Area, Level, Measure

_LEVEL_KEYS = {Level.MINIMUM: "minimum", Level.MEDIUM: "medium", Level.AMBITIOUS: "ambitious"}


@dataclass(frozen=True)
class CatalogMeasure:
    id: str
    area: Area
    unit: str
    texts: Mapping[str, Mapping[str, str]]  # language -> name, description, minimum, …

    def name(self, language: str) -> str:
        return self.texts[language]["name"]

    def to_measure(self, language: str, position: int) -> Measure:
        text = self.texts[language]
        return Measure(
            id=self.id, area=self.area, name=text["name"], description=text["description"],
            unit=self.unit, group=self.area.value, position=position,
            inspiration={level.value: text[key] for level, key in _LEVEL_KEYS.items()},
        )


@cache
def load() -> tuple[CatalogMeasure, ...]:
    data = tomllib.loads(resources.files(__package__).joinpath("measures.toml").read_text("utf-8"))
    return tuple(
        CatalogMeasure(id=m["id"], area=Area(m["area"]), unit=m["unit"],
                       texts={"da": m["da"], "en": m["en"]})
        for m in data["measure"]
    )


def by_id() -> Mapping[str, CatalogMeasure]:
    return {m.id: m for m in load()}
