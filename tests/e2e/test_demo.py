"""The whole demo, end to end: what each participant saw, and what is stored afterwards."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select

from adapters.app import open_store
from adapters.config import Settings
from adapters.console.chat import ConsoleChat, console_chat
from adapters.console.demo import Demo
from adapters.console.repl import duration_minutes
from bot.domain.model import AmbitionStatus, Phase
from bot.store.tables import ChangeRow, OutboxRow
from bot.store.uow import SqlUnitOfWork


def play(url: str, language: str, plan: Path) -> tuple[str, ConsoleChat, str]:
    out = io.StringIO()
    console = Console(file=out, width=120, soft_wrap=True, highlight=False)
    store = open_store(url)
    try:
        chat = console_chat(Settings(bot_language=language, database_url=url), store, console,
                            org=f"demo-{language}", plan_out=plan)
        workshop = asyncio.run(Demo(chat, console, language).run())
    finally:
        store.close()
    return workshop, chat, out.getvalue()


def seen_in(chat: ConsoleChat, conversation: str) -> str:
    """Everything everyone in a conversation saw (not what was shown to one person only)."""
    return "\n".join(s.text for s in chat.deliverer.transcript
                     if s.conversation == conversation and s.audience is None)


def private_to(chat: ConsoleChat, name: str) -> str:
    return "\n".join(s.text for s in chat.deliverer.transcript if s.audience == chat.person(name).id)


def test_the_danish_demo_runs_a_whole_workshop(database_url: str, tmp_path: Path) -> None:
    workshop, chat, printed = play(database_url, "da", tmp_path / "handlingsplan.xlsx")

    # every group worked on its own målepunkter, in its own channel
    assert "Beboernes tilfredshed (S)" in seen_in(chat, "S")
    assert "Energiforbrug i boligerne" not in seen_in(chat, "S")
    assert "CO2-udledning fra varme og el (E)" in seen_in(chat, "E2")
    for group in ("E", "E2", "S", "G"):
        assert "Fase 2 af 6" in seen_in(chat, group) and "Fase 4 af 6" in seen_in(chat, group)

    # each kind of bad input got a clear answer, to that person only
    assert "kun tovholderen, der kan starte workshoppen" in private_to(chat, "Jonas")
    assert "Jeg kender ikke kommandoen »hej«" in private_to(chat, "Ib")
    assert "kun tovholderen, der kan gå videre til næste fase" in private_to(chat, "Karen")
    assert "Du er med i Gruppe S (Sociale forhold)" in private_to(chat, "Hanne")
    assert "Hanne har ændret det samme imens" in private_to(chat, "Ib")
    assert "Alle beboere skal være tilfredse" in private_to(chat, "Ib")  # Ib's text came back
    assert "Knappen hører til en fase, der er slut" in private_to(chat, "Anders")
    assert "allerede 3 SMART-mål" in private_to(chat, "Jonas")
    assert "mangler en ansvarlig" in private_to(chat, "Mette")
    for form_error in ("Der kan højst være 9", "Udfyld venligst feltet", "10000 tegn",
                       "»31/02/", "er allerede overskredet"):
        assert form_error in printed
    assert "Det er kun tovholderen" not in seen_in(chat, "plenum")

    # the plan is posted, with what people typed shown as typed
    plan = seen_in(chat, "plenum").split("Handlingsplan – Boligselskabet Fjordly")[-1]
    assert plan.count("Ansvarlig: ") == 8 and "Næste skridt: =HYPERLINK(" in plan
    assert "Pia: Godt mål! <!channel>" in seen_in(chat, "plenum")

    store = open_store(database_url)
    try:
        with SqlUnitOfWork(store.sessions) as uow:
            ws = uow.workshops.get(workshop)
            history = uow.session.scalar(select(func.count()).select_from(ChangeRow)
                                         .where(ChangeRow.workshop_id == workshop,
                                                ChangeRow.actor == chat.person("Hanne").id))
            undelivered = uow.session.scalar(select(func.count()).select_from(OutboxRow)
                                             .where(OutboxRow.delivered_at.is_(None)))
    finally:
        store.close()
    assert ws is not None and ws.phase == Phase.FOLLOW_UP
    assert {a.status for a in ws.ambitions.values()} == {AmbitionStatus.AGREED}
    assert len(ws.ambitions) == 6 and len(ws.goals) == 8
    assert all(g.owner and g.next_step for g in ws.goals.values())
    assert any(g.next_step.startswith('=HYPERLINK("') for g in ws.goals.values())
    assert ws.measures["G-indkoeb"].group == "G" and ws.ambitions["G-indkoeb"].level == "medium"
    assert history >= 5  # her place in a group, two dots, a sentence and a goal: each with who and when
    assert undelivered == 0


def test_the_english_demo_speaks_english(tmp_path: Path) -> None:
    workshop, chat, printed = play(f"sqlite:///{tmp_path / 'en.sqlite3'}", "en", tmp_path / "plan.xlsx")
    assert workshop
    assert "Action plan – Fjordly Housing" in seen_in(chat, "plenum")
    assert "Phase 4 of 6: Group work: SMART goals" in seen_in(chat, "S")
    assert "Only the facilitator can start the workshop." in private_to(chat, "Jonas")
    for danish in ("Fase ", "Tovholder", "målepunkter", "Ansvarlig:"):
        assert danish not in printed


def test_the_readme_command_runs_the_demo_on_a_fresh_directory(tmp_path: Path) -> None:
    command = shutil.which("ambition-bot", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("the ambition-bot script is not installed next to this Python")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run([command, "demo"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Demoen er færdig" in result.stdout
    assert (tmp_path / "ambition-bot.sqlite3").exists()


def test_the_console_fast_forwards_months_of_follow_up(tmp_path: Path) -> None:
    assert [duration_minutes(t) for t in ("10", "3d", "2 uger", "6mdr", "1 month", "3x")] == [
        10, 3 * 1440, 14 * 1440, 180 * 1440, 30 * 1440, None]
    url = f"sqlite:///{tmp_path / 'follow-up.sqlite3'}"
    out = io.StringIO()
    console = Console(file=out, width=120, soft_wrap=True, highlight=False)
    store = open_store(url)
    try:
        chat = console_chat(Settings(bot_language="da", database_url=url), store, console,
                            org="demo-da", plan_out=tmp_path / "plan.xlsx")
        asyncio.run(Demo(chat, console, "da").run())
        before = len(private_to(chat, "Jonas"))
        asyncio.run(chat.advance(duration_minutes("3mdr") or 0))
        reminders = private_to(chat, "Jonas")[before:]
        # he answers each month; the next month's reminder, of the same kind, is still a
        # reminder of its own, not taken for a repeat of the last one
        months = []
        for _ in range(3):
            asyncio.run(chat.press("Jonas", "plenum", "followup_status", status="in_progress"))
            seen = len(private_to(chat, "Jonas"))
            asyncio.run(chat.advance(duration_minutes("31d") or 0))
            months.append(private_to(chat, "Jonas")[seen:].count("Månedens opfølgning"))
    finally:
        store.close()
    assert "Månedens opfølgning" in reminders  # Jonas owns a goal: he is reminded of it
    assert "Der går 90 dage" in out.getvalue()
    assert months == [1, 1, 1]
