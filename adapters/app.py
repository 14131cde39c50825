"""The single wiring point: configuration → store, service, and the adapters that are on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.config import Settings
from adapters.worker import DispatchWorker
from bot.clock import ScaledClock, SystemClock
from bot.dispatch import Deliverer, DeliveryError, Dispatcher
from bot.effects import Effect, conversation_of
from bot.events import Event
from bot.plan.files import PlanFiles
from bot.ports import Clock
from bot.scheduler import JobStoreTimers, TimerRunner, create_scheduler, restore
from bot.scheduler import stop as stop_scheduler
from bot.service import Defaults, WorkshopService
from bot.store.database import connect, sessions
from bot.store.memory import PlatformMemory
from bot.store.outbox import SqlOutbox
from bot.store.repository import WorkshopCache
from bot.store.schema import upgrade
from bot.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from adapters.teams.auth import Endpoints


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]
    outbox: SqlOutbox
    workshops: WorkshopCache = field(default_factory=WorkshopCache)
    memory: PlatformMemory = field(init=False)  # what adapters keep about their platforms

    def __post_init__(self) -> None:
        self.memory = PlatformMemory(self.sessions)

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, migrate: bool = True, owner: str | None = None) -> Store:
    """`owner`: who this process is to the outbox's claims (see SqlOutbox); none: a new one."""
    engine = connect(url)
    if migrate:
        upgrade(engine)
    factory = sessions(engine)
    return Store(engine, factory, SqlOutbox(factory, owner))


def units(store: Store) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(store.sessions, store.workshops)


def build_service(store: Store, clock: Clock, settings: Settings, public_url: str = "") -> WorkshopService:
    """`public_url`: where browsers reach this server, for the board's links (default:
    PUBLIC_BASE_URL)."""
    return WorkshopService(units(store), clock, Defaults(settings.bot_language, settings.bot_timezone,
                                                         public_url or settings.public_base_url))


def plan_files(store: Store, clock: Clock) -> PlanFiles:
    return PlanFiles(units(store), clock)


class PlatformRouter:
    """Hands each effect to the adapter of its conversation's platform (the id's prefix)."""

    def __init__(self, adapters: Mapping[str, Deliverer]) -> None:
        self.adapters = dict(adapters)

    async def deliver(self, effect: Effect, ref: str | None) -> str | None:
        platform = conversation_of(effect).partition(":")[0]
        adapter = self.adapters.get(platform)
        if adapter is None:
            raise DeliveryError(f"no adapter is on for platform {platform!r}")
        return await adapter.deliver(effect, ref)

    async def aclose(self) -> None:
        """Let each adapter close what it opened on this event loop (its HTTP connections)."""
        for adapter in self.adapters.values():
            if isinstance(adapter, Closing):
                await adapter.aclose()


@runtime_checkable
class Closing(Protocol):
    async def aclose(self) -> None: ...


def platform_deliverers(store: Store, settings: Settings, submit: Callable[[Event], object],
                        teams_without_auth: bool = False,
                        teams_endpoints: Endpoints | None = None) -> dict[str, Deliverer]:
    """A deliverer for each platform whose credentials are set, by conversation id prefix.
    `submit` takes what a platform reports back (a channel it made) to the service."""
    deliverers: dict[str, Deliverer] = {}
    if settings.teams_on or teams_without_auth:
        from adapters.teams.app import (  # botbuilder only where Teams is on
            cloud_adapter,
            file_links,
        )
        from adapters.teams.conversations import Conversations
        from adapters.teams.deliver import TeamsDeliverer

        deliverers["teams"] = TeamsDeliverer(
            cloud_adapter(settings, teams_endpoints), settings.microsoft_app_id,
            Conversations(store.memory), file_links(settings),
            files=plan_files(store, SystemClock()).build, created=submit)
    if settings.slack_on and settings.slack_bot_token:
        from adapters.slack.app import slack_client  # slack_sdk only where Slack is on
        from adapters.slack.deliver import SlackDeliverer

        client = slack_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        deliverers["slack"] = SlackDeliverer(client, plan_files(store, SystemClock()).build,
                                             created=submit)
    return deliverers


CLOCK_KEY = "clock:scaled"  # in the platform memory: "<real set-off> <workshop time then> <scale>"


@dataclass
class Runtime:
    """What `serve` runs beside its HTTP endpoints: the service, the outbox dispatcher on its
    own thread, and APScheduler (running in exactly one process, paused in the others)."""

    clock: Clock
    service: WorkshopService
    worker: Worker
    scheduler: BackgroundScheduler
    restored: int

    def stop(self) -> None:
        stop_scheduler(self.scheduler)
        self.worker.stop()


def scaled_clock(memory: PlatformMemory, scale: float) -> ScaledClock:
    """Workshop time that goes on across restarts: it runs from where the first process of
    this database and scale set it off, so a restarted server does not turn it back behind
    the phase ends and timers its former life stored (BOT_TIME_SCALE is for demos and soaks)."""
    real = datetime.now(UTC)
    kept = (memory.get(CLOCK_KEY) or "").split()
    if len(kept) == 3 and float(kept[2]) == scale:
        set_off, started = datetime.fromisoformat(kept[0]), datetime.fromisoformat(kept[1])
        return ScaledClock(started + (real - set_off) * scale, scale)
    memory.put(CLOCK_KEY, f"{real.isoformat()} {real.isoformat()} {scale}")
    return ScaledClock(real, scale)


class Worker(Protocol):
    """Delivers the outbox: on a thread here (DispatchWorker), or in a process of its own."""

    def wake(self) -> None: ...
    def stop(self) -> None: ...


Platforms = Callable[[Callable[[Event], object]], Mapping[str, Deliverer]]


def platforms(store: Store, settings: Settings, teams_without_auth: bool = False,
              teams_endpoints: Endpoints | None = None) -> Platforms:
    """The deliverers of every platform whose credentials are set, made once the service they
    report back to exists (`start_runtime`)."""
    return lambda submit: platform_deliverers(store, settings, submit, teams_without_auth, teams_endpoints)


def start_runtime(store: Store, settings: Settings, run_scheduler: bool,
                  deliverer: Deliverer | None = None, public_url: str = "", worker: Worker | None = None,
                  *, deliver_to: Platforms | None = None) -> Runtime:
    """The outbox is delivered on a thread of this process by `deliverer`, or by the platforms'
    deliverers (`deliver_to`); or `worker` delivers it. The platforms' deliverers are made
    before the thread starts: made after, what was waiting at start failed once with "no
    adapter is on" and went out a second late."""
    clock: ScaledClock | SystemClock = (
        scaled_clock(store.memory, settings.bot_time_scale) if settings.bot_time_scale
        else SystemClock())
    service = build_service(store, clock, settings, public_url)
    scheduler = create_scheduler(store.engine)
    timers = JobStoreTimers(scheduler, clock)
    if worker is None:
        if deliver_to is not None:
            deliverer = PlatformRouter(deliver_to(service.handle))
        assert deliverer is not None, "a deliverer or a worker"
        worker = thread = DispatchWorker(Dispatcher(store.outbox, deliverer, timers, clock),
                                         closing=deliverer.aclose if isinstance(deliverer, Closing) else None)
        thread.start()
    restored = 0
    if run_scheduler:
        TimerRunner(service.handle, clock, worker.wake).install()
        restored = restore(units(store), timers, clock.now())
        scheduler.resume()
    return Runtime(clock, service, worker, scheduler, restored)
