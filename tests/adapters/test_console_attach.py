"""`vedhæft <fil> [tekst]` in the console: a command sent with a file, as with a chat upload."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from rich.console import Console

from adapters.app import open_store, units
from adapters.config import Settings
from adapters.console.chat import console_chat
from adapters.console.repl import Repl
from bot.domain.model import Workshop

ORG = "console-test"
GOOD = ("ESG-område;Målepunkt;Beskrivelse;Nuværende værdi;Enhed\r\n"
        "E;Energiforbrug i boligerne;Varme og el pr. m²;142;kWh/m²\r\n"
        "S;Beboertilfredshed;Andel af beboerne, der er tilfredse;78,5;%\r\n"
        "G;Bestyrelsens kompetencer;Kurser for bestyrelsen;3;kurser\r\n")
NAMES = ("Energiforbrug i boligerne", "Beboertilfredshed", "Bestyrelsens kompetencer")


def run(lines: list[str], tmp_path: Path, language: Literal["da", "en"] = "da") -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, soft_wrap=True, highlight=False)
    store = open_store(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    feed: Iterator[str] = iter(lines)

    def ask(prompt: str) -> str:
        console.print(prompt, end="", markup=False)
        line = next(feed)
        console.print(line, markup=False)
        return line

    chat = console_chat(Settings(bot_language=language), store, console, org=ORG,
                        plan_out=tmp_path / "plan.xlsx")
    try:
        asyncio.run(Repl(chat, console, ask).run())
    finally:
        store.close()
    return out.getvalue()


def workshop(tmp_path: Path) -> Workshop | None:
    store = open_store(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    try:
        with units(store)() as uow:
            return uow.workshops.by_conversation(ORG, "plenum")
    finally:
        store.close()


def good_file(tmp_path: Path, name: str = "målepunkter.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(GOOD.encode("utf-8"))
    return path


def test_attaching_a_csv_with_the_command_imports_the_measures(tmp_path: Path) -> None:
    path = good_file(tmp_path)
    printed = run(["ny Fjordly", f"vedhæft {path} målepunkter", "quit"], tmp_path)
    assert "Traceback" not in printed
    assert "› målepunkter" in printed  # what was said is echoed
    assert "📎 målepunkter.csv" in printed  # with the file shown as attached
    assert "3 målepunkter er indlæst fra »målepunkter.csv«" in printed
    assert "Målepunkter: 3 valgt" in printed  # the set-up card is updated, and lists them
    for line in ("E: Energiforbrug i boligerne", "S: Beboertilfredshed", "G: Bestyrelsens kompetencer"):
        assert line in printed
    ws = workshop(tmp_path)
    assert ws is not None
    assert sorted(m.name for m in ws.measures.values()) == sorted(NAMES)
    assert {m.name: m.current_value for m in ws.measures.values()}["Beboertilfredshed"] == "78,5"


def test_attaching_a_file_that_is_not_there_says_so_and_changes_nothing(tmp_path: Path) -> None:
    run(["ny Fjordly", "quit"], tmp_path)
    before = workshop(tmp_path)
    assert before is not None and not before.measures

    printed = run(["vedhæft /no/such/file.csv målepunkter", "status", "quit"], tmp_path)

    assert "Traceback" not in printed
    assert "Filen /no/such/file.csv findes ikke" in printed
    assert "📎" not in printed and "indlæst" not in printed
    assert "Fase: Opsætning" in printed and "Målepunkter: 0" in printed  # the console goes on
    after = workshop(tmp_path)
    assert after is not None
    assert after.version == before.version and after.measures == before.measures == {}


def test_attach_without_text_means_the_measures_command(tmp_path: Path) -> None:
    path = good_file(tmp_path, "fra-prioriteringen.csv")
    printed = run(["ny Fjordly", f"attach {path}", "quit"], tmp_path)
    assert "Traceback" not in printed
    assert "› målepunkter" in printed
    assert "3 målepunkter er indlæst fra »fra-prioriteringen.csv«" in printed
    ws = workshop(tmp_path)
    assert ws is not None and sorted(m.name for m in ws.measures.values()) == sorted(NAMES)


def test_attach_without_text_in_an_english_console_uses_the_english_word(tmp_path: Path) -> None:
    path = good_file(tmp_path, "measures.csv")
    printed = run(["new Fjordly", f"attach {path}", "quit"], tmp_path, language="en")
    assert "› measures" in printed
    assert "3 measurement points were imported from “measures.csv”" in printed
    ws = workshop(tmp_path)
    assert ws is not None and len(ws.measures) == 3


def test_an_attached_file_with_a_mistake_is_explained_and_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rettes.csv"
    path.write_bytes((GOOD + "X;Tryghed;;;\r\n").encode("utf-8"))
    printed = run(["ny Fjordly", f"vedhæft {path} målepunkter", "quit"], tmp_path)
    assert "Målepunkterne i »rettes.csv« er ikke indlæst" in printed
    assert "Række 5: »X« er ikke et ESG-område" in printed
    ws = workshop(tmp_path)
    assert ws is not None and not ws.measures


def test_the_console_help_tells_how_to_attach(tmp_path: Path) -> None:
    printed = run(["?", "quit"], tmp_path)
    assert "vedhæft <fil> [tekst]" in printed
