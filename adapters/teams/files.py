"""`GET /files/<token>`: the action plan behind a signed link (see links.py), built when opened."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from adapters.teams.links import BadLink, ExpiredLink, FileLinks
from bot.i18n import Translator
from bot.plan.files import PlanFiles, UnknownWorkshop


def plan_download(links: FileLinks, files: PlanFiles,
                  language: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def download(request: web.Request) -> web.Response:
        try:
            workshop = links.workshop_of(request.match_info["token"])
            attachment = await asyncio.to_thread(files.build, workshop)
        except ExpiredLink as expired:
            return _page(_language_of(files, expired.workshop_id, language), "plan_file.link_expired", 410)
        except (BadLink, UnknownWorkshop):
            return _page(language, "plan_file.link_bad", 404)
        # RFC 6266: a plain fallback name, and the real one (æøå) encoded for browsers that read it
        ascii_name = attachment.name.encode("ascii", "replace").decode().replace("?", "_")
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(attachment.name)}"
        return web.Response(body=attachment.data, content_type=attachment.media_type,
                            headers={"Content-Disposition": disposition, "Cache-Control": "no-store",
                                     "X-Content-Type-Options": "nosniff"})

    return download


def _language_of(files: PlanFiles, workshop_id: str, default: str) -> str:
    try:
        return files.language_of(workshop_id)
    except UnknownWorkshop:
        return default


def _page(language: str, key: str, status: int) -> web.Response:
    text = html.escape(Translator(language)(key))
    body = (f"<!doctype html><html lang=\"{language}\"><meta charset=\"utf-8\">"
            f"<title>{text}</title><body style=\"font: 1.25rem sans-serif; margin: 3rem\">"
            f"<p>{text}</p></body></html>")
    return web.Response(text=body, status=status, content_type="text/html",
                        headers={"Cache-Control": "no-store"})
