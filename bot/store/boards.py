"""What the plenum board reads: the workshop a board link opens, and which workshops changed.

Reads only, in short sessions of their own and without the row lock a handler takes, so a
room full of screens never makes a click wait.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.model import Workshop
from bot.store.repository import SqlWorkshops, WorkshopCache
from bot.store.tables import WorkshopRow

MAX_TOKEN = 64


def find(sessions: sessionmaker[Session], token: str) -> str | None:
    """The id of the workshop whose open board link is `token`; None for any other text."""
    if not token or len(token) > MAX_TOKEN:
        return None
    with sessions() as session:
        return session.scalars(select(WorkshopRow.id).where(WorkshopRow.board_token == token)).first()


def versions(sessions: sessionmaker[Session], ids: Collection[str]) -> dict[str, int]:
    """Each workshop's version (it rises with every change); a deleted one is missing."""
    if not ids:
        return {}
    with sessions() as session:
        rows = session.execute(select(WorkshopRow.id, WorkshopRow.version).where(WorkshopRow.id.in_(ids)))
        return {workshop_id: version for workshop_id, version in rows}


def read(sessions: sessionmaker[Session], cache: WorkshopCache | None, workshop_id: str) -> Workshop | None:
    """The workshop as stored now, whole (from the cache when its version is the row's)."""
    with sessions() as session:
        return SqlWorkshops(session, cache).get(workshop_id, lock=False)
