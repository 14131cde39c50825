"""Names made from what people wrote, for files, channels and ids: plain ASCII, Danish letters spelled out."""

from __future__ import annotations

import unicodedata

_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})


def slug(text: str, limit: int = 40) -> str:
    """"Boligselskabet Ærø/Nord" → "boligselskabet-aeroe-nord"; "" when nothing is left."""
    plain = unicodedata.normalize("NFKD", text.casefold().translate(_DANISH))
    words = "".join(ch if ch.isascii() and ch.isalnum() else " " for ch in plain).split()
    return "-".join(words)[:limit].strip("-")
