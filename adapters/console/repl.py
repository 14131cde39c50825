"""`ambition-bot console`: run a workshop by hand, as anyone, with time on fast-forward."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.text import Text as RichText

from adapters.console.chat import ConsoleChat
from bot.events import SharedFile
from bot.ui import FieldKind, FormField

Ask = Callable[[str], str]
AS, IN, PRESS, FORWARD, ATTACH, QUIT, HELP = (
    {"as", "som"}, {"in", "i"}, {"press", "tryk"}, {"ff", "wait", "spol", "vent"},
    {"attach", "vedhæft"}, {"quit", "exit", "afslut"}, {"?", "console"})


class Repl:
    def __init__(self, chat: ConsoleChat, out: Console, ask: Ask) -> None:
        self.chat = chat
        self.out = out
        self.ask = ask
        self.t = chat.t
        self.name = self.t("console.default_name")
        self.conversation = "plenum"

    def _say(self, text: str, style: str = "") -> None:
        self.out.print(RichText(text, style=style))

    async def run(self) -> None:
        self._say(self.t("console.intro"), "green")
        clock = asyncio.create_task(self.chat.run_clock()) if self.chat.flowing else None
        try:
            await self._loop()
        finally:
            if clock is not None:
                clock.cancel()

    async def _loop(self) -> None:
        while True:
            prompt = self.t("console.prompt", name=self.name, conversation=self.conversation)
            try:
                line = (await asyncio.to_thread(self.ask, prompt)).strip()
            except (EOFError, KeyboardInterrupt, StopIteration):
                break
            if not await self.line(line):
                break

    async def line(self, line: str) -> bool:
        """Handle one typed line; False when the person wants to leave."""
        word, _, rest = line.partition(" ")
        word, rest = word.casefold(), rest.strip()
        if not line:
            return True
        if word in QUIT:
            return False
        if word in HELP:
            self._say(self.t("console.help"))
        elif word in AS and rest:
            self.name = rest
            self.chat.person(rest)
        elif word in IN and rest:
            self.conversation = rest.lstrip("#")
        elif (word in PRESS and rest.isdigit()) or (word.isdigit() and not rest):
            await self.chat.press_number(self.name, int(rest or word))
        elif word in FORWARD and (minutes := duration_minutes(rest)) is not None:
            await self.chat.advance(minutes)
        elif word in ATTACH and rest:
            await self.attach(*_path_and_text(rest))
        else:
            await self.chat.say(self.name, self.conversation, line)
        await self.fill_forms()
        return True

    async def attach(self, path: str, text: str) -> None:
        """`attach FILE TEXT`: say TEXT with the file attached, as in a chat with uploads."""
        file = Path(path).expanduser()
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            self._say(self.t("console.file_missing", path=path), "red")
            return
        except OSError:
            self._say(self.t("console.no_file", path=path), "red")
            return
        await self.chat.say(self.name, self.conversation, text.strip() or self.t("command.measures"),
                            (SharedFile(file.name, data),))

    async def fill_forms(self) -> None:
        """A form opened for the person at the keyboard is filled in right away, field by field."""
        asking: set[str] | None = None
        while (opened := self.chat.open_form(self.name)) is not None:
            self._say(f"📝 {opened.form.title}", "bold magenta")
            if opened.form.intro:
                self._say(opened.form.intro, "dim")
            values = {}
            for field in opened.form.fields:
                if asking is None or field.name in asking:
                    values[field.name] = await asyncio.to_thread(
                        self._ask_field, field, opened.values.get(field.name, ""))
            result = await self.chat.fill(self.name, values)
            if not result.form_errors:
                return
            asking = set(result.form_errors)

    def _ask_field(self, field: FormField, current: str) -> str:
        if field.hint:
            self._say(f"  {field.hint}", "dim")
        options = list(field.options)
        for number, (_, label) in enumerate(options, start=1):
            self._say(f"  {number}. {label}")
        required = " *" if field.required else ""
        answer = self.ask(self.t("console.field", label=field.label, required=required,
                                 current=current or "–")).strip()
        if not answer:
            return current
        if field.kind in (FieldKind.CHOICE, FieldKind.CHOICES) and options:
            picked = [p.strip() for p in answer.split(",")]
            values = [options[int(p) - 1][0] if p.isdigit() and 0 < int(p) <= len(options) else p
                      for p in picked]
            return ",".join(values)
        return answer


def _path_and_text(rest: str) -> tuple[str, str]:
    """`"my file.csv" målepunkter` or `file.csv målepunkter`: a path may be quoted."""
    if rest[0] in "\"'":
        closing = rest.find(rest[0], 1)
        if closing > 0:
            return rest[1:closing], rest[closing + 1:]
    path, _, text = rest.partition(" ")
    return path, text


# `spol 10` is ten minutes; a unit makes it hours, days, weeks or months (of 30 days), so that
# months of follow-up after the workshop can be watched in a moment.
_DURATION = re.compile(r"^(\d{1,6})\s*([a-zæøå]*)$")
_UNITS = {"": 1, "m": 1, "min": 1, "t": 60, "h": 60, "d": 24 * 60, "dag": 24 * 60, "dage": 24 * 60,
          "day": 24 * 60, "days": 24 * 60, "u": 7 * 24 * 60, "uge": 7 * 24 * 60, "uger": 7 * 24 * 60,
          "w": 7 * 24 * 60, "week": 7 * 24 * 60, "weeks": 7 * 24 * 60, "md": 30 * 24 * 60,
          "mdr": 30 * 24 * 60, "mo": 30 * 24 * 60, "month": 30 * 24 * 60, "months": 30 * 24 * 60}


def duration_minutes(text: str) -> int | None:
    """Minutes in "10", "3d", "2 uger" or "6mdr"; None for anything else."""
    match = _DURATION.match(text.strip().casefold())
    if match is None or match.group(2) not in _UNITS:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]

