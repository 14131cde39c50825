"""`ambition-bot console`: typing as different people, pressing numbers, filling forms, fast-forward."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from adapters.app import open_store
from adapters.config import Settings
from adapters.console.chat import console_chat
from adapters.console.repl import Repl
from bot.events import Actor, Command


def run(lines: list[str], tmp_path: Path) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120, soft_wrap=True, highlight=False)
    store = open_store(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    feed: Iterator[str] = iter(lines)

    def ask(prompt: str) -> str:
        console.print(prompt, end="", markup=False)
        line = next(feed)
        console.print(line, markup=False)
        return line

    chat = console_chat(Settings(), store, console, org="console-test", plan_out=tmp_path / "plan.xlsx")
    try:
        asyncio.run(Repl(chat, console, ask).run())
    finally:
        store.close()
    return out.getvalue()


def test_a_person_can_set_up_and_start_a_workshop_by_typing(tmp_path: Path) -> None:
    printed = run([
        "ny Fjordly [bold]A/S[/bold]",
        "2",  # [2] Vælg målepunkter: the form asks field by field
        "1,5,9",
        "as Anna", "start",
        "as Tovholder", "i E", "gruppe E", "i plenum",
        "tryk 6",  # Start workshoppen (after "Opret gruppekanaler")
        "spol 31",
        "quit",
    ], tmp_path)
    assert "Ambitionsworkshop – Fjordly [bold]A/S[/bold]" in printed  # typed text is never markup
    assert "Målepunkter: 3 valgt" in printed
    assert "Anna i #plenum › start" in printed and "kun tovholderen" in printed
    assert "Denne kanal hører nu til Gruppe E (Miljø)." in printed
    assert "Fase 1 af 6: Introduktion og gruppeopdeling" in printed
    assert "Tiden er gået: Introduktion og gruppeopdeling" in printed


def test_a_form_error_asks_again_for_just_that_field(tmp_path: Path) -> None:
    printed = run([
        "ny Fjordly",
        "1",  # [1] Ret oplysninger
        "", "31/02/2027", "", "",  # title kept, a bad date, language and mandate kept
        "15-01-2027",  # asked again: only the date
        "quit",
    ], tmp_path)
    assert "»31/02/2027« er ikke en gyldig dato" in printed
    assert "Dato: 15.01.2027" in printed


def test_console_help_and_leaving(tmp_path: Path) -> None:
    printed = run(["?", "afslut"], tmp_path)
    assert "som <navn>" in printed and "spol <tid>" in printed


@pytest.mark.parametrize("line", ["tryk 999", "press x"])
def test_pressing_a_button_that_is_not_there_is_harmless(line: str, tmp_path: Path) -> None:
    printed = run(["ny Fjordly", line, "quit"], tmp_path)
    assert "Traceback" not in printed


def test_the_bot_makes_and_binds_the_group_channels_when_asked(tmp_path: Path) -> None:
    printed = run([
        "ny Fjordly",
        "2", "1,5,9",  # three målepunkter
        "tryk 5",  # Opret gruppekanaler
        "tryk 6",  # Start workshoppen
        "quit",
    ], tmp_path)
    for group, area in (("E", "Miljø"), ("S", "Sociale forhold"), ("G", "Governance")):
        assert f"Kanalen #{group} er oprettet." in printed
        assert f"Denne kanal hører nu til Gruppe {group} ({area})." in printed
    assert "Fase 1 af 6: Introduktion og gruppeopdeling" in printed


def test_a_person_mentioned_with_at_is_the_person_who_types_by_that_name(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=120)
    store = open_store(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    chat = console_chat(Settings(), store, console, org="console-test")
    repl = Repl(chat, console, ask=lambda prompt: "")

    async def typing(lines: list[str]) -> None:
        for line in lines:
            await repl.line(line)

    try:
        asyncio.run(typing(["as Hans", "as Mette", "fagperson @hans @lise @hans"]))
    finally:
        store.close()
    command = chat.last_event
    assert isinstance(command, Command)
    assert command.text == "fagperson"
    assert command.mentions == (Actor("console:hans", "Hans"), Actor("console:lise", "lise"))
    assert command.actor == Actor("console:mette", "Mette")
