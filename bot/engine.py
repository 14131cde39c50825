"""The engine: (workshop, event, now) → (workshop, effects). Routing only; no I/O.

Every decision lives in `bot.flow`; this module finds the handler for an event and turns a
refusal into a private message that changes nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.domain.model import Level, Workshop
from bot.effects import PostPrivate
from bot.events import Action, Command, Event, FormSubmitted, MemberJoined, TimerFired
from bot.flow import (
    ambitions,
    board,
    followup,
    goals,
    grouping,
    handover,
    imported,
    info,
    phases,
    plenum,
    setup,
    specialists,
    wrapup,
)
from bot.flow.turn import Context, FormInvalid, Outcome, Refusal, Turn
from bot.i18n import LANGUAGES, Translator, catalog
from bot.ui import Message, Text

COMMANDS: Mapping[str, Callable[[Turn, Sequence[str]], None]] = {
    "new": setup.new_workshop,
    "group": setup.bind_group,
    "setup": setup.show_setup,
    "start": phases.start,
    "next": phases.advance,
    "extend": phases.extend,
    "pause": phases.pause,
    "resume": phases.resume,
    "join": grouping.join,
    "groups": grouping.propose,
    "split": grouping.subgroups,
    "move": grouping.move,
    "status": info.status,
    "help": info.help_,
    "plan": wrapup.show_plan,
    "measures": imported.import_measures,
    "close": followup.close,
    "mine": followup.my_goals,
    "reminders": followup.open_settings,
    "specialist": specialists.name,
    "board": board.command,
}
# Commands that make sense in a conversation that is not (yet) part of the workshop (`mine`
# answers in the person's own chat with the bot, wherever it is asked).
OUTSIDE = frozenset({"new", "group", "help", "mine"})

ACTIONS: Mapping[str, Callable[[Turn, Mapping[str, str]], None]] = {
    "setup_details": setup.open_details,
    "setup_measures": setup.open_measures,
    "setup_why": setup.open_why,
    "setup_agenda": setup.open_agenda,
    "create_channels": setup.create_channels,
    "start": phases.start,
    "next": phases.advance,
    "extend": phases.extend,
    "interest": grouping.choose_interest,
    "propose_split": grouping.propose,
    "approve_split": grouping.approve,
    "vote": ambitions.vote,
    "edit_ambition": ambitions.edit,
    "agree": plenum.agree,
    "send_back": plenum.send_back,
    "comment": plenum.comment,
    "add_goal": goals.add,
    "edit_goal": goals.edit,
    "support_goal": goals.support,
    "set_owner": wrapup.set_owner,
    "followup_status": followup.report,
    "followup_snooze": followup.snooze,
    "followup_update": followup.open_update,
    "followup_handover": handover.open_form,
    "followup_accept": handover.accept,
    "followup_decline": handover.decline,
    "specialist_answer": specialists.open_answer,
}

FORMS: Mapping[str, Callable[[Turn, Mapping[str, str], Mapping[str, str]], None]] = {
    "details": setup.save_details,
    "measures": setup.save_measures,
    "why": setup.save_why,
    "agenda": setup.save_agenda,
    "ambition": ambitions.save,
    "send_back": plenum.save_send_back,
    "comment": plenum.save_comment,
    "goal": goals.save,
    "owner": wrapup.save_owner,
    "followup": followup.save_update,
    "handover": handover.save_form,
    "reminders": followup.save_settings,
    "specialist": specialists.save_request,
    "specialist_answer": specialists.save_answer,
}


def _words() -> Mapping[str, str]:
    """Every word that names a command, in any language, mapped to the command."""
    words = {name: name for name in COMMANDS}
    for language in LANGUAGES:
        texts = catalog(language)
        words.update({texts[f"command.{name}"]: name for name in COMMANDS})
    return words


WORDS = _words()


def handle(ws: Workshop | None, event: Event, ctx: Context) -> Outcome:
    mine = ws if ws is not None and (ws.org == event.org or isinstance(event, TimerFired)) else None
    turn = Turn(mine, event, ctx)
    try:
        _route(turn, event)
    except Refusal as refusal:
        return Outcome(ws, (_refusal(mine, event, ctx, refusal),))
    except FormInvalid as invalid:
        return Outcome(ws, (), invalid.errors)
    return Outcome(turn.state or ws, tuple(turn.effects))


def _route(turn: Turn, event: Event) -> None:
    match event:
        case Command():
            name, args = parse(event.text)
            handler = COMMANDS.get(name)
            if handler is None:
                raise Refusal("refuse.unknown_command", word=(event.text.split() or ["?"])[0][:40])
            here = turn.has_workshop and event.conversation in turn.ws.conversations
            if not here and name not in OUTSIDE:
                raise Refusal("refuse.no_workshop")
            handler(turn, args)
        case Action():
            turn.require_workshop()
            _lookup(ACTIONS, event.action)(turn, event.args)
        case FormSubmitted():
            turn.require_workshop()
            _lookup(FORMS, event.form)(turn, event.args, event.values)
        case TimerFired():
            if turn.has_workshop and phases.is_phase_timer(turn.ws.id, event.timer):
                phases.timer_fired(turn, event.args, event.late)
            elif turn.has_workshop and followup.is_followup_timer(turn.ws.id, event.timer):
                followup.timer_fired(turn, event.args)
            elif turn.has_workshop and specialists.is_specialist_timer(turn.ws.id, event.timer):
                specialists.timer_fired(turn, event.args)
        case MemberJoined():
            if turn.has_workshop:
                grouping.member_joined(turn)


def _lookup(table: Mapping[str, Any], name: str) -> Any:
    if name not in table:
        raise Refusal("refuse.unknown_item")
    return table[name]


def parse(text: str) -> tuple[str, list[str]]:
    words = text.strip().split()
    if not words:
        return "help", []
    return WORDS.get(words[0].casefold().lstrip("/"), ""), words[1:]


def _refusal(ws: Workshop | None, event: Event, ctx: Context, refusal: Refusal) -> PostPrivate:
    t = Translator(ws.language if ws else ctx.language)
    text = t(refusal.key, **refusal.params)
    if isinstance(event, FormSubmitted):
        typed = "\n".join(_readable(t, str(v)) for v in event.values.values() if str(v).strip())
        if typed:  # what they wrote is not lost: it comes back to them
            text += "\n\n" + t("refuse.your_text", text=typed[:3000])
    return PostPrivate(event.conversation, event.actor.id, Message((Text(text),), summary=text))


def _readable(t: Translator, value: str) -> str:
    """A chosen level reads as its name, not its code."""
    return t(f"level.{value}.name") if value in tuple(Level) else value
