"""The single wiring point: configuration → store, service, and the adapters that are on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.config import Settings
from bot.plan.files import PlanFiles
from bot.ports import Clock
from bot.service import Defaults, WorkshopService
from bot.store.database import connect, sessions
from bot.store.outbox import SqlOutbox
from bot.store.schema import upgrade
from bot.store.uow import SqlUnitOfWork


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]
    outbox: SqlOutbox

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, migrate: bool = True) -> Store:
    engine = connect(url)
    if migrate:
        upgrade(engine)
    factory = sessions(engine)
    return Store(engine, factory, SqlOutbox(factory))


def units(store: Store) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(store.sessions)


def build_service(store: Store, clock: Clock, settings: Settings) -> WorkshopService:
    return WorkshopService(units(store), clock, Defaults(settings.bot_language, settings.bot_timezone))


def plan_files(store: Store, clock: Clock) -> PlanFiles:
    return PlanFiles(units(store), clock)
