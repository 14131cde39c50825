"""`GET /files/<token>`: the action plan behind a signed link (see links.py), built when opened;
and the plan a person allowed into their OneDrive (app.py, fileConsent/invoke)."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.teams.links import BadLink, ExpiredLink, FileLinks
from bot.i18n import Translator
from bot.plan.files import Attachment, PlanFiles, UnknownWorkshop
from bot.store.tables import WorkshopRow


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


def tenant_plans(sessions: sessionmaker[Session], files: PlanFiles) -> Callable[[str, str], Attachment]:
    """The plan of a workshop for its own tenant only (UnknownWorkshop for any other): a file
    consent names its workshop in a value the client sends back, which another organisation's
    client can fill with any workshop's id."""
    def build(workshop_id: str, tenant: str) -> Attachment:
        with sessions() as session:
            org = session.scalar(select(WorkshopRow.org).where(WorkshopRow.id == workshop_id))
        if org is None or org != tenant:
            raise UnknownWorkshop(workshop_id)
        return files.build(workshop_id)

    return build


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
