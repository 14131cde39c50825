"""The board's page and data: the HTML shell, the JSON the page draws, the closed-board page.

The page draws itself from JSON with the DOM's textContent, so nothing a person typed can
ever become markup; the shell's own text is escaped here. CSS and JS are files of this
package, served by this server: the page loads nothing from anywhere else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from bot.flow.board_view import Board
from bot.i18n import Translator

ASSETS = ("board.css", "board.js")
ASSET_PATH = "/board-static/"


@cache
def asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


@cache
def asset_url(name: str) -> str:
    """The asset's address, with its content's hash: a new version is never taken from a cache."""
    return f"{ASSET_PATH}{name}?v={hashlib.sha256(asset(name)).hexdigest()[:12]}"


def payload(board: Board, now: datetime, rate: float) -> dict[str, Any]:
    """What the page draws; `now` and `rate` let every screen run the same countdown as the
    server's clock (rate: workshop seconds per real second; 0 for a clock moved by hand)."""
    data = dataclasses.asdict(board)
    data["ends_at"] = board.ends_at.isoformat(timespec="milliseconds") if board.ends_at else None
    data["now"] = now.isoformat(timespec="milliseconds")
    data["rate"] = rate
    return data


def to_json(data: dict[str, Any]) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>` or `&` can end it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def board_page(board: Board, data: dict[str, Any]) -> str:
    t = Translator(board.language)
    return f"""<!doctype html>
<html lang="{escape(board.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>{escape(board.title)} – {escape(t("board.shared_heading"))}</title>
<link rel="stylesheet" href="{asset_url("board.css")}">
<script id="board-data" type="application/json">{to_json(data)}</script>
<script src="{asset_url("board.js")}" defer></script>
</head>
<body>
<header class="top">
  <div class="titles"><h1 id="title">{escape(board.title)}</h1><p id="phase" class="phase">{escape(board.phase_title)}</p></div>
  <div id="clock" class="clock" role="timer"><span id="clock-label" class="clock-label"></span><span id="countdown" class="countdown"></span><span id="ends" class="ends"></span></div>
</header>
<p id="progress" class="progress" hidden></p>
<main id="areas" class="areas"></main>
<p id="offline" class="offline" role="status" hidden></p>
</body>
</html>
"""


def gone_page(language: str) -> str:
    t = Translator(language)
    return f"""<!doctype html>
<html lang="{escape(t.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{escape(t("board.gone_title"))}</title>
<link rel="stylesheet" href="{asset_url("board.css")}">
</head>
<body class="gone">
<main class="gone-box"><h1>{escape(t("board.gone_title"))}</h1><p>{escape(t("board.gone"))}</p></main>
</body>
</html>
"""
