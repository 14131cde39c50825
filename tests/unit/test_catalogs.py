"""The Danish and English catalogs say the same things, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from bot.catalog import load
from bot.i18n import catalog

ROOT = Path(__file__).resolve().parents[2]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogs_have_the_same_keys_and_placeholders() -> None:
    da, en = catalog("da"), catalog("en")
    assert set(da) == set(en)
    different = [k for k in da if placeholders(da[k]) != placeholders(en[k])]
    assert different == []


def test_every_text_the_code_asks_for_exists() -> None:
    """Literal keys in the code (t("…"), Refusal("…")) must all be in the catalog."""
    da = catalog("da")
    pattern = re.compile(r'''(?:\bt|Refusal|turn\.t|self\.t)\(\s*"([a-z_]+(?:\.[a-z_]+)+)"''')
    used = {m for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("adapters/**/*.py")]
            for m in pattern.findall(path.read_text("utf-8"))}
    assert used and sorted(k for k in used if k not in da) == []


def test_the_shipped_measures_are_illustrative_examples_for_each_area() -> None:
    measures = load()
    assert {m.area for m in measures} == {"E", "S", "G"}
    assert all(sum(m.area == a for m in measures) >= 3 for a in "ESG")
    for m in measures:
        for language in ("da", "en"):
            text = m.texts[language]
            assert all(text[k].strip() for k in ("name", "description", "minimum", "medium", "ambitious"))
    assert "illustrative = true" in (ROOT / "bot/catalog/measures.toml").read_text("utf-8")
