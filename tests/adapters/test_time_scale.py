"""BOT_TIME_SCALE: a workshop's clock that runs by itself, faster than real time, so a demo or a
test sees reminders and time-ups without anyone fast-forwarding."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from rich.console import Console

from adapters.app import open_store
from adapters.config import Settings
from adapters.console.chat import console_chat
from adapters.console.repl import Repl
from bot.clock import ScaledClock
from tests.conftest import START

BOT = str(Path(sys.executable).with_name("ambition-bot"))


def test_the_scaled_clock_runs_faster_and_knows_when_that_is_in_real_time() -> None:
    clock = ScaledClock(START, scale=600)  # a real second is ten workshop minutes
    time.sleep(0.2)
    assert timedelta(minutes=1.9) <= clock.now() - START <= timedelta(minutes=10)
    real = clock.to_real(clock.now() + timedelta(minutes=10))
    assert 0.9 <= (real - clock.to_real(clock.now())).total_seconds() <= 1.1
    clock.set(START + timedelta(hours=2))  # `ff` jumps ahead; it never goes back
    assert clock.now() >= START + timedelta(hours=2)
    clock.set(START)
    assert clock.now() >= START + timedelta(hours=2)


def test_in_the_console_time_passes_by_itself_and_the_reminders_come(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, soft_wrap=True, highlight=False)
    store = open_store(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    lines: Iterator[str] = iter(["ny Fjordly", "2", "1,5,9", "i E", "gruppe E", "i plenum", "tryk 6",
                                 "", "quit"])

    def ask(prompt: str) -> str:
        line = next(lines)
        if line == "":
            time.sleep(3)  # nobody types: 3 real seconds are 60 workshop minutes
        return line

    settings = Settings(bot_time_scale=1200)
    chat = console_chat(settings, store, console, org="console-flow", plan_out=tmp_path / "p.xlsx")
    try:
        asyncio.run(Repl(chat, console, ask).run())
    finally:
        store.close()
    printed = out.getvalue()
    assert "Fase 1 af 6: Introduktion og gruppeopdeling" in printed
    assert "10 minutter tilbage" in printed and "5 minutter tilbage" in printed
    assert "Tiden er gået: Introduktion og gruppeopdeling" in printed
    assert "Der går" not in printed  # nobody fast-forwarded


def test_the_demo_runs_in_compressed_real_time(tmp_path: Path) -> None:
    env = {**os.environ, "BOT_TIME_SCALE": "600", "DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}"}
    done = subprocess.run([BOT, "demo", "--out", str(tmp_path / "plan.xlsx")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "sekunder i virkeligheden" in done.stdout  # time passed by itself, compressed
    assert "5 minutter tilbage" in done.stdout
    assert (tmp_path / "plan.xlsx").exists()
