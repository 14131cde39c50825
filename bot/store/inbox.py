"""The inbox: events acknowledged to their platform before they are handled, kept until they are.

Slack wants an answer within 3 seconds, and the engine, the save and the outbox of a busy
workshop can take longer than a click should wait. So a click is answered once it is kept
here, and handled right after; a crash in between loses nothing, because the next start
handles what is still here (the service's dedupe makes handling one twice harmless).

On SQLite the inbox is a database of its own beside the main one: keeping a click must not
wait for the one writer of the main database, which is busy with exactly the work the click
is not waiting for any more. On PostgreSQL it is a table of the main database.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bot.codec import dumps_event, loads_event
from bot.events import Event
from bot.store.database import connect
from bot.store.tables import InboxRow

_FORGET = delete(InboxRow).where(InboxRow.event_id.in_(bindparam("ids", expanding=True)))


class SqlInbox:
    def __init__(self, engine: Engine, own: bool = False) -> None:
        self._engine = engine
        self._own = own  # an engine of its own, closed with the inbox
        # One statement for any number of events (executemany): compiled once, where a
        # statement with the rows in it was compiled afresh for every size of batch.
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._keep = (insert(InboxRow).on_conflict_do_nothing(index_elements=["event_id"])
                      .returning(InboxRow.event_id))
        # `keep`'s own connection, kept open: taken from the pool and given back for every
        # batch, it cost as much as the batch itself, twice per click (kept, then forgotten).
        self._connection: Connection | None = None

    @classmethod
    def beside(cls, main: Engine) -> SqlInbox:
        """The inbox for the database `main` connects to."""
        path = main.url.database
        if main.dialect.name != "sqlite" or not path or path == ":memory:":
            return cls(main)  # in memory: nothing outlives the process anyway
        engine = connect(f"sqlite:///{path}-inbox")
        InboxRow.metadata.create_all(engine, tables=[InboxRow.__table__])  # type: ignore[list-item]
        return cls(engine, own=True)

    def keep(self, events: Sequence[Event], handled: Collection[str] = ()) -> set[str]:
        """In one transaction: forget the `handled` event ids, and keep `events`; the ids of
        those newly kept (one kept already is a platform sending it again). One commit for
        many: under load, people's clicks are kept together, not one disk flush each.
        Called by one thread at a time (the intake's own)."""
        now = datetime.now(UTC)
        rows: dict[str, dict[str, object]] = {}  # in the order they came; a repeated id once
        for event in events:
            rows.setdefault(event.event_id, {"event_id": event.event_id, "received_at": now,
                                             "event": dumps_event(event)})
        try:
            return self._write(list(rows.values()), handled)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            # The database dropped the open connection (it restarted): what the pool's check
            # of a connection it hands out would have caught.
            return self._write(list(rows.values()), handled)

    def _write(self, rows: list[dict[str, object]], handled: Collection[str]) -> set[str]:
        if self._connection is None:
            self._connection = self._engine.connect()
        connection = self._connection
        try:
            with connection.begin():
                if handled:
                    connection.execute(_FORGET, {"ids": list(handled)})
                return set(connection.execute(self._keep, rows).scalars()) if rows else set()
        except Exception:
            self._connection = None  # a new one next time
            connection.close()
            raise

    def waiting(self, received_before: datetime | None = None) -> list[Event]:
        """What is kept and not handled yet, in the order it came."""
        query = select(InboxRow.event).order_by(InboxRow.id)
        if received_before is not None:
            query = query.where(InboxRow.received_at < received_before)
        with self._engine.connect() as connection:
            return [loads_event(text) for text in connection.execute(query).scalars()]

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(InboxRow)).scalar_one())

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._own:
            self._engine.dispose()
