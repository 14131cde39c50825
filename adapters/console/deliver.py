"""The console as a platform: effects are printed, and remembered as a transcript."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text as RichText

from adapters.console.render import Line, render
from adapters.console.files import PlanSaver
from bot.effects import (CreateConversation, Direct, Effect, Invite, OpenForm, Post, PostPrivate, SendFile,
                         Update)
from bot.i18n import Translator
from bot.ui import Button, Form, Message


@dataclass(frozen=True)
class Seen:
    """One thing that appeared in a conversation, to everyone there or to one person."""

    conversation: str
    audience: str | None  # None: everyone in the conversation; else that person's id
    kind: str  # post, update, private, form or file
    key: str
    text: str


@dataclass
class Pressable:
    number: int
    conversation: str
    audience: str | None
    button: Button
    shown: int  # when it was last drawn: the newest copy of a button wins


@dataclass
class OpenedForm:
    conversation: str
    form: Form
    values: dict[str, str] = field(default_factory=dict)


class ConsoleDeliverer:
    def __init__(self, out: Console, t: Translator, name_of: Callable[[str], str],
                 saver: PlanSaver, created: Callable[[CreateConversation, str], None] = lambda e, c: None,
                 ) -> None:
        self.out = out
        self.created = created
        self.saver = saver
        self.files: list[Path] = []
        self.t = t
        self.name_of = name_of
        self.transcript: list[Seen] = []
        self.buttons: dict[int, Pressable] = {}
        self.forms: dict[str, OpenedForm] = {}
        self._numbers: dict[tuple[object, ...], int] = {}
        self._shown: dict[tuple[str, str], list[Line]] = {}
        self._drawn = 0

    async def deliver(self, effect: Effect, ref: str | None) -> str | None:
        match effect:
            case Post(conversation, message, key):
                lines = self._render(message, conversation, None)
                self._print(self._header(conversation), lines)
                self._remember(conversation, None, "post", key, lines)
                return key or None
            case Update(conversation, key, message):
                lines = self._render(message, conversation, None)
                before = self._shown.get((conversation, key), [])
                changed = [ln for ln in lines[1:] if ln not in before]
                if changed:
                    self._print(self._header(conversation, self.t("console.updated")), lines[:1] + changed)
                self._remember(conversation, None, "update", key, lines)
            case Direct(conversation, user, message, key):
                lines = self._render(message, conversation, user)
                self._print(self._header(conversation, self.t("console.direct_to", name=self.name_of(user))),
                            lines)
                self._remember(conversation, user, "direct", key, lines)
                return key or None
            case PostPrivate(conversation, user, message):
                lines = self._render(message, conversation, user)
                only = self.t("console.only_to", name=self.name_of(user))
                self._print(self._header(conversation, only), lines)
                self._remember(conversation, user, "private", "", lines)
            case SendFile(conversation, workshop_id, message):
                path = self.saver.save(workshop_id)
                self.files.append(path)
                lines = self._render(message, conversation, None)
                lines.append(Line(self.t("plan_file.saved", path=path), "bold green"))
                self._print(self._header(conversation), lines)
                self._remember(conversation, None, "file", "", lines)
            case CreateConversation(conversation, _, _, group, _, _):
                # In the terminal a group's channel is simply called by the group's code.
                line = Line(self.t("console.channel_created", conversation=group), "green")
                self._print(self._header(conversation), [line])
                self._remember(conversation, None, "channel", group, [line])
                self.created(effect, group)
            case Invite(conversation, users):
                names = self.t.join([self.name_of(u) for u in users])
                line = Line(self.t("console.invited", names=names), "green")
                self._print(self._header(conversation), [line])
                self._remember(conversation, None, "invite", "", [line])
            case OpenForm(conversation, user, form):
                self.forms[user] = OpenedForm(conversation, form, {f.name: f.value for f in form.fields})
                line = Line(self.t("console.form_opened", name=self.name_of(user), title=form.title), "magenta")
                self._print(self._header(conversation, self.t("console.only_to", name=self.name_of(user))), [line])
                self._remember(conversation, user, "form", form.form, [line])
        return None

    def _render(self, message: Message, conversation: str, audience: str | None) -> list[Line]:
        return render(message, lambda button: self._number(button, conversation, audience))

    def _number(self, button: Button, conversation: str, audience: str | None) -> int:
        identity = (conversation, audience, button.action, tuple(sorted(button.args.items())))
        number = self._numbers.setdefault(identity, len(self._numbers) + 1)
        self._drawn += 1
        self.buttons[number] = Pressable(number, conversation, audience, button, self._drawn)
        return number

    def _header(self, conversation: str, extra: str = "") -> Line:
        label = f"#{conversation}" + (f" · {extra}" if extra else "")
        return Line(f"── {label} " + "─" * max(3, 60 - len(label)), "blue")

    def _print(self, header: Line, lines: list[Line]) -> None:
        self.out.print(RichText(header.text, style=header.style))
        for line in lines:
            self.out.print(RichText("  " + line.text, style=line.style))

    def _remember(self, conversation: str, audience: str | None, kind: str, key: str,
                  lines: list[Line]) -> None:
        if key and audience is None:
            self._shown[(conversation, key)] = lines
        self.transcript.append(Seen(conversation, audience, kind, key,
                                    "\n".join(line.text for line in lines)))

    def find_button(self, conversation: str, user: str, action: str,
                    args: Mapping[str, str]) -> Pressable | None:
        """The newest button for `action` (with these args) that `user` can see here."""
        for pressable in sorted(self.buttons.values(), key=lambda p: -p.shown):
            button = pressable.button
            if (pressable.audience in (None, user) and pressable.conversation == conversation
                    and button.action == action
                    and all(button.args.get(k) == v for k, v in args.items())):
                return pressable
        return None
