"""Follow-up survives a restart: a process that died while a reminder fired took that one-off
job out of the store, and nothing would ever remind the goal's owner again. The next start
puts back every follow-up timer that is missing, and leaves alone those still there."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from adapters.app import Store, units
from adapters.config import Settings
from adapters.console.chat import console_chat
from adapters.console.demo import Demo
from bot.domain.model import Phase
from bot.flow.followup import DIGEST, timer_id
from bot.scheduler import JobStoreTimers, create_scheduler, restore, stop

CPH = ZoneInfo("Europe/Copenhagen")


def test_a_restart_puts_back_the_follow_up_timers_a_crash_took_and_only_those(
        store: Store, database_url: str, tmp_path: Path) -> None:
    chat = console_chat(Settings(_env_file=None, bot_language="da", database_url=database_url), store,
                        Console(file=io.StringIO()), "demo-da", tmp_path / "plan.xlsx")
    asyncio.run(Demo(chat, Console(file=io.StringIO()), "da").run())
    with units(store)() as uow:
        [ws] = uow.workshops.following_up()
    assert ws.phase == Phase.FOLLOW_UP
    owners = {g.id for g in ws.goals.values() if g.owner_id}
    assert owners, "the demo leaves goals with owners"
    # The console keeps its timers in memory: the job store holds none, as after a crash
    # that took each of them out while it fired.
    scheduler = create_scheduler(store.engine)
    try:
        timers = JobStoreTimers(scheduler, chat.clock)  # type: ignore[arg-type]
        now = chat.clock.now()

        restored = restore(units(store), timers, now)

        expected = {timer_id(ws.id, goal) for goal in owners} | {timer_id(ws.id, DIGEST)}
        jobs = {job.id: job for job in scheduler.get_jobs(jobstore="default")}
        assert restored == len(expected) and set(jobs) == expected
        for job in jobs.values():
            moment = job.next_run_time.astimezone(CPH)
            assert moment > now and moment.weekday() < 5 and 8 <= moment.hour < 16, moment

        # A snoozed goal's timer is where the owner put it: a second start leaves it there.
        goal = sorted(owners)[0]
        moved = jobs[timer_id(ws.id, goal)].next_run_time + timedelta(days=7)
        scheduler.modify_job(timer_id(ws.id, goal), next_run_time=moved)
        assert restore(units(store), timers, now) == 0
        assert scheduler.get_job(timer_id(ws.id, goal)).next_run_time == moved
    finally:
        stop(scheduler)
