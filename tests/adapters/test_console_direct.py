"""The console shows a direct message as one: to whom, and kept apart from the channel."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from rich.console import Console

from adapters.app import Store
from adapters.console.deliver import ConsoleDeliverer
from adapters.console.files import PlanSaver
from bot.clock import ManualClock
from bot.effects import Direct
from bot.i18n import Translator
from bot.plan.files import PlanFiles
from bot.store.uow import SqlUnitOfWork
from bot.ui import Button, Buttons, Message, Text
from tests.conftest import START


def test_a_direct_message_says_whom_it_is_for_and_its_buttons_can_be_pressed(
        tmp_path: Path, store: Store) -> None:
    out = io.StringIO()
    names = {"console:anders": "Anders"}
    saver = PlanSaver(PlanFiles(lambda: SqlUnitOfWork(store.sessions), ManualClock(START)), tmp_path)
    console = ConsoleDeliverer(Console(file=out, width=100), Translator("da"),
                               lambda user: names.get(user, user), saver)
    message = Message((Text("Hvordan går det med målet?"), Buttons((Button("I gang", "followup_status"),))))

    asyncio.run(console.deliver(Direct("plenum", "console:anders", message, key="goal"), None))

    shown = out.getvalue()
    assert "direkte besked til Anders" in shown and "Hvordan går det med målet?" in shown
    assert console.find_button("plenum", "console:anders", "followup_status", {}) is not None
