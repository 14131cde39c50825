"""The console as a chat platform: people type and press buttons, the bot answers in print."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.text import Text as RichText

from adapters.app import Store, build_service, plan_files
from adapters.config import Settings
from adapters.console.deliver import ConsoleDeliverer, OpenedForm
from adapters.console.files import PlanSaver
from adapters.console.timers import ConsoleTimers
from bot.clock import ManualClock, ScaledClock
from bot.dispatch import Dispatcher
from bot.effects import CreateConversation
from bot.events import (Action, Actor, Command, Event, FormSubmitted, MemberJoined, SharedFile,
                        channel_created, timer_fired)
from bot.i18n import Translator
from bot.ports import Outbox
from bot.service import Result, WorkshopService

SHOWN_VALUE = 80
TICK_SECONDS = 0.25
_MENTION = re.compile(r"(?<!\S)@(\w[\w-]*)")  # `@hans` as a word of its own: not an e-mail address


def console_chat(settings: Settings, store: Store, out: Console, org: str,
                 plan_out: Path | None = None, public_url: str = "") -> ConsoleChat:
    """A console workshop on the store, with a hand-moved clock that starts at nine today.

    Plan files go to `plan_out`, or under their own name into the working directory;
    `public_url` is where the console's board server is (for the board's link).
    """
    zone = ZoneInfo(settings.bot_timezone)
    nine = datetime.combine(datetime.now(zone).date(), time(9), zone)
    clock = ScaledClock(nine, settings.bot_time_scale) if settings.bot_time_scale else ManualClock(nine)
    saver = PlanSaver(plan_files(store, clock), Path.cwd(), plan_out)
    return ConsoleChat(build_service(store, clock, settings, public_url), store.outbox, clock, out,
                       settings.bot_language, org, saver)


def _person_id(name: str) -> str:
    return "console:" + re.sub(r"\W+", "-", name.casefold()).strip("-")


class ConsoleChat:
    def __init__(self, service: WorkshopService, outbox: Outbox, clock: ManualClock | ScaledClock,
                 out: Console,
                 language: str, org: str, saver: PlanSaver) -> None:
        self.service = service
        self.clock = clock
        self.out = out
        self.org = org
        self.t = Translator(language)
        self.names: dict[str, str] = {}
        self.timers = ConsoleTimers()
        self.deliverer = ConsoleDeliverer(out, self.t, lambda user: self.names.get(user, user), saver,
                                          self._channel_created)
        self.dispatcher = Dispatcher(outbox, self.deliverer, self.timers, clock)
        self.last_event: Event | None = None
        self._turns = asyncio.Lock()  # typed commands and the running clock take turns

    @property
    def flowing(self) -> bool:
        """Whether time passes by itself (BOT_TIME_SCALE), or only when moved on."""
        return isinstance(self.clock, ScaledClock)

    def _channel_created(self, effect: CreateConversation, conversation: str) -> None:
        by = Actor(effect.requested_by, self.names.get(effect.requested_by, effect.requested_by))
        self.service.handle(channel_created(effect.org, effect.workshop_id, effect.group, conversation, by))

    def person(self, name: str) -> Actor:
        actor = Actor(_person_id(name), name)
        self.names[actor.id] = name
        return actor

    def _mentioned(self, text: str) -> tuple[Actor, ...]:
        """Everyone `text` @mentions, once each, in order: `@hans` is whoever typed `as Hans`,
        by the name they gave."""
        people: dict[str, Actor] = {}
        for name in _MENTION.findall(text):
            person = _person_id(name)
            people.setdefault(person, Actor(person, self.names.setdefault(person, name)))
        return tuple(people.values())

    def _echo(self, text: str) -> None:
        self.out.print(RichText(text, style="yellow"))

    async def send(self, event: Event) -> Result:
        async with self._turns:
            self.last_event = event
            result = self.service.handle(event)
            await self.dispatcher.drain()
            return result

    def _base(self, name: str, conversation: str) -> dict[str, object]:
        return {"event_id": uuid.uuid4().hex, "org": self.org, "conversation": conversation,
                "actor": self.person(name)}

    async def say(self, name: str, conversation: str, text: str,
                  files: tuple[SharedFile, ...] = ()) -> Result:
        shown = text if len(text) <= SHOWN_VALUE else self.t("console.long_text", length=len(text))
        self._echo(self.t("console.says", name=name, conversation=conversation, text=shown))
        for file in files:
            self._echo(self.t("console.attaches", name=file.name, size=len(file.data)))
        command = Command(**self._base(name, conversation), text=_MENTION.sub("", text).strip(),
                          files=files, mentions=self._mentioned(text))
        return await self.send(command)

    async def join_channel(self, name: str, conversation: str) -> Result:
        self._echo(self.t("console.joins", name=name, conversation=conversation))
        return await self.send(MemberJoined(**self._base(name, conversation)))

    async def press(self, name: str, conversation: str, action: str, **args: str) -> Result:
        """Press the newest button for `action` that `name` sees in `conversation`."""
        found = self.deliverer.find_button(conversation, self.person(name).id, action, args)
        if found is None:
            self._echo(self.t("console.no_button", label=action))
            return Result()
        return await self.press_number(name, found.number)

    async def press_number(self, name: str, number: int) -> Result:
        actor = self.person(name)
        pressable = self.deliverer.buttons.get(number)
        if pressable is None or pressable.audience not in (None, actor.id):
            self._echo(self.t("console.no_button", label=str(number)))
            return Result()
        button = pressable.button
        self._echo(self.t("console.presses", name=name, conversation=pressable.conversation,
                          label=button.label))
        return await self.send(Action(
            **{**self._base(name, pressable.conversation), "workshop_id": button.args.get("workshop", "")},
            action=button.action, args=dict(button.args)))

    def open_form(self, name: str) -> OpenedForm | None:
        return self.deliverer.forms.get(self.person(name).id)

    async def fill(self, name: str, values: Mapping[str, str]) -> Result:
        """Submit the form open for `name`, with `values` over what it already holds."""
        actor = self.person(name)
        opened = self.deliverer.forms.get(actor.id)
        if opened is None:
            self._echo(self.t("console.no_form", name=name))
            return Result()
        opened.values.update(values)
        self._echo(self.t("console.fills", name=name, title=opened.form.title))
        for f in opened.form.fields:
            value = opened.values.get(f.name, "")
            if f.name in values:
                labels = dict(f.options)
                value = ", ".join(labels.get(v, v) for v in value.split(",")) if labels else value
                shown = value if len(value) <= SHOWN_VALUE else self.t("console.long_text", length=len(value))
                self._echo(f"    {f.label}: {shown}")
        result = await self.send(FormSubmitted(
            **{**self._base(name, opened.conversation), "workshop_id": opened.form.args.get("workshop", "")},
            form=opened.form.form, args=dict(opened.form.args), values=dict(opened.values)))
        if result.form_errors:
            self._form_errors(opened, result.form_errors)
        elif self.deliverer.forms.get(actor.id) is opened:
            del self.deliverer.forms[actor.id]
        return result

    def _form_errors(self, opened: OpenedForm, errors: Mapping[str, str]) -> None:
        self.out.print(RichText(self.t("console.form_errors", title=opened.form.title), style="red"))
        labels = {f.name: f.label for f in opened.form.fields}
        for name, error in errors.items():
            self.out.print(RichText(f"  ✗ {labels.get(name, name)}: {error}", style="red"))

    async def replay(self) -> Result:
        """Send the last event again, as a platform does when it retries a delivery."""
        assert self.last_event is not None
        self._echo(self.t("console.replay"))
        return await self.send(self.last_event)

    async def advance(self, minutes: int) -> None:
        """Jump ahead: every timer due in the meantime fires, in order, at its own time."""
        target = self.clock.now() + timedelta(minutes=minutes)
        days, rest = divmod(minutes, 24 * 60)
        self._echo(self.t("console.time_passes_days", days=days) if days and not rest
                   else self.t("console.time_passes", minutes=minutes))
        while (due := self.timers.next_due(target)) is not None:
            timer, at, args = due
            self.clock.set(at)
            await self.send(timer_fired(timer, args))
        self.clock.set(target)

    async def wait(self, minutes: int) -> None:
        """Let `minutes` pass: in compressed real time when time flows, else at once."""
        if not isinstance(self.clock, ScaledClock):
            await self.advance(minutes)
            return
        target = self.clock.now() + timedelta(minutes=minutes)
        seconds = self.clock.real_seconds(target - self.clock.now())
        self._echo(self.t("console.time_flows", minutes=minutes, seconds=round(seconds)))
        while self.clock.now() < target:
            await self._until_next(target)
        await self.tick()

    async def tick(self) -> None:
        """Fire every timer that is due by now."""
        while (due := self.timers.next_due(self.clock.now())) is not None:
            timer, _, args = due
            await self.send(timer_fired(timer, args))

    async def _until_next(self, limit: datetime) -> None:
        """Sleep until the next timer (or `limit`), then fire what is due: a reminder comes at
        its own moment, however fast time runs."""
        assert isinstance(self.clock, ScaledClock)
        now = self.clock.now()
        upcoming = min((at for at in self.timers.moments() if at > now), default=limit)
        await asyncio.sleep(min(TICK_SECONDS, self.clock.real_seconds(min(upcoming, limit) - now)))
        await self.tick()

    async def run_clock(self) -> None:
        """While time flows, fire timers as they fall due (run as a background task)."""
        while isinstance(self.clock, ScaledClock):
            await self._until_next(self.clock.now() + timedelta(days=1))
