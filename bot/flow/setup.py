"""Before the day starts: create the workshop, pick målepunkter, bind the group channels."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot import catalog
from bot.domain import agenda
from bot.domain.groups import AREAS, conversation_of, plenum_of, working_groups
from bot.domain.model import PLENUM, Conversation, Group, Member, Phase, Workshop
from bot.domain.names import slug
from bot.effects import CreateConversation
from bot.flow import views
from bot.flow.inputs import FormReader, clean
from bot.flow.turn import Refusal, Turn
from bot.i18n import LANGUAGES
from bot.ui import (
    Buttons,
    FieldKind,
    Fields,
    Form,
    FormField,
    Heading,
    Message,
    Note,
    Text,
)

MAX_MEASURES = 9
RECOMMENDED_MEASURES = 6
MAX_TITLE = 120
MAX_MANDATE = 1000
MAX_WHY = 500
MAX_VALUE = 40


def new_workshop(turn: Turn, args: Sequence[str]) -> None:
    if turn.has_workshop and turn.event.conversation in turn.ws.conversations:
        raise Refusal("refuse.workshop_exists", title=turn.ws.title)
    title = clean(" ".join(args))
    if not title:
        raise Refusal("refuse.new_needs_title")
    if len(title) > MAX_TITLE:
        raise Refusal("refuse.too_long", length=len(title), max=MAX_TITLE)
    event, now = turn.event, turn.now
    ws = Workshop(
        id="w" + hashlib.sha256(event.event_id.encode()).hexdigest()[:8],
        org=event.org, title=title, date=turn.today(), language=turn.ctx.language,
        timezone=turn.ctx.timezone, created_at=now, facilitators=(event.actor.id,),
        durations=dict(agenda.DEFAULT_MINUTES), updated_by=event.actor.id, updated_at=now)
    turn.begin(ws)
    turn.save(Member(id=event.actor.id, name=event.actor.name))
    turn.save(Conversation(id=event.conversation, group=PLENUM))
    for area in AREAS:
        turn.save(Group(code=area.value, area=area))
    turn.post(event.conversation, setup_card(turn), key="setup")
    turn.reply(turn.t("setup.created", id=ws.id))


def setup_card(turn: Turn) -> Message:
    ws, t = turn.ws, turn.t
    measures = sorted(ws.measures.values(), key=lambda m: m.position)
    groups = tuple(
        (views.group_label(turn, g.code),
         t("setup.channel_ok") if conversation_of(ws, g.code) else t("setup.channel_missing",
                                                                      code=g.code))
        for g in working_groups(ws))
    plan = " · ".join(t("setup.agenda_item", name=t(f"phase.{p}.name"), minutes=ws.durations[p])
                      for p in agenda.planned(ws.durations))
    started = ws.phase != Phase.SETUP
    return views.message(
        Heading(t("setup.heading", title=ws.title)),
        Fields(((t("setup.date"), t.date(ws.date)), (t("setup.language"), t(f"language.{ws.language}")),
                (t("setup.facilitator"), t.join([views.name_of(ws, f) for f in ws.facilitators])),
                (t("setup.mandate"), ws.mandate or t("common.none")))),
        Text(t("setup.measures", count=len(measures), recommended=RECOMMENDED_MEASURES,
               max=MAX_MEASURES)),
        Fields(tuple((t("setup.measure_line", area=m.area, why=t("setup.why_given") if m.why else ""),
                      m.name) for m in measures)) if measures else None,
        Fields(groups),
        Note(t("setup.agenda", plan=plan)),
        Note(t(f"setup.auto_advance_{AUTO[ws.auto_advance]}")),
        None if started else Note(t("setup.import_hint", word=t("command.measures"))),
        Note(t("setup.started")) if started else Buttons((
            views.button(turn, t("setup.edit_details"), "setup_details"),
            views.button(turn, t("setup.choose_measures"), "setup_measures"),
            views.button(turn, t("setup.edit_why"), "setup_why"),
            views.button(turn, t("setup.edit_agenda"), "setup_agenda"),
            *((views.button(turn, t("setup.create_channels"), "create_channels"),)
              if _without_channel(ws) else ()),
            views.button(turn, t("setup.start"), "start", "primary"),
        )),
    )


def show_setup(turn: Turn, args: Sequence[str] = ()) -> None:
    """`setup`: the card again, at the bottom of the channel (the old one stops updating)."""
    turn.require_facilitator("setup")
    turn.post(plenum_of(turn.ws), setup_card(turn), key="setup")


def refresh_setup(turn: Turn) -> None:
    turn.update(plenum_of(turn.ws), "setup", setup_card(turn))


def _form(turn: Turn, name: str, fields: tuple[FormField, ...], intro: str = "") -> Form:
    return Form(form=name, title=turn.t(f"form.{name}.title"), submit=turn.t("form.save"),
                fields=fields, args={"workshop": turn.ws.id, "seq": str(turn.ws.phase_seq)},
                intro=intro)


def _require_setup(turn: Turn) -> None:
    turn.require_facilitator("setup")
    turn.require_phase(Phase.SETUP)


def open_details(turn: Turn, args: Mapping[str, str]) -> None:
    _require_setup(turn)
    ws, t = turn.ws, turn.t
    turn.open_form(_form(turn, "details", (
        FormField("title", t("setup.title"), required=True, value=ws.title, max_length=MAX_TITLE),
        FormField("date", t("setup.date"), FieldKind.DATE, required=True, value=ws.date.isoformat()),
        FormField("language", t("setup.language"), FieldKind.CHOICE, required=True,
                  value=ws.language, options=tuple((lang, t(f"language.{lang}")) for lang in LANGUAGES)),
        FormField("mandate", t("setup.mandate"), FieldKind.LONG_TEXT, value=ws.mandate,
                  max_length=MAX_MANDATE, hint=t("setup.mandate_hint")),
    )))


def save_details(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    _require_setup(turn)
    form = FormReader(turn.t, values)
    title = form.text("title", MAX_TITLE, required=True)
    day = form.date("date", today=turn.today(), required=True)
    language = form.choice("language", LANGUAGES)
    mandate = form.text("mandate", MAX_MANDATE, multiline=True)
    form.done()
    turn.change(title=title, date=day, language=language, mandate=mandate)
    refresh_setup(turn)


def open_measures(turn: Turn, args: Mapping[str, str]) -> None:
    _require_setup(turn)
    t = turn.t
    options = tuple((m.id, t("setup.catalog_option", area=m.area, name=m.name(turn.ws.language)))
                    for m in catalog.load())
    turn.open_form(_form(turn, "measures", (
        FormField("measures", t("setup.choose_measures"), FieldKind.CHOICES, required=True,
                  value=",".join(sorted((k for k in turn.ws.measures if k in catalog.by_id()),
                                        key=lambda k: turn.ws.measures[k].position)),
                  options=options, hint=t("setup.measures_hint", recommended=RECOMMENDED_MEASURES,
                                          max=MAX_MEASURES)),
    ), intro=t("setup.catalog_illustrative")))


def save_measures(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    _require_setup(turn)
    shipped = catalog.by_id()
    form = FormReader(turn.t, values)
    chosen = form.choices("measures", list(shipped))
    if not chosen and "measures" not in form.errors:
        form.errors["measures"] = turn.t("form.required")
    elif len(chosen) > MAX_MEASURES:
        form.errors["measures"] = turn.t("setup.too_many", count=len(chosen), max=MAX_MEASURES)
    form.done()
    for old in list(turn.ws.measures.values()):
        if old.id not in chosen:
            turn.delete(old)
    for position, measure_id in enumerate(chosen, start=1):
        old = turn.ws.measures.get(measure_id)
        fresh = shipped[measure_id].to_measure(turn.ws.language, position)
        turn.save(replace(old, position=position) if old else fresh)
    refresh_setup(turn)


def open_why(turn: Turn, args: Mapping[str, str]) -> None:
    _require_setup(turn)
    t = turn.t
    measures = sorted(turn.ws.measures.values(), key=lambda m: m.position)
    if not measures:
        raise Refusal("refuse.no_measures")
    fields: list[FormField] = []
    for m in measures:
        fields.append(FormField(f"why_{m.id}", t("setup.why_for", name=m.name), FieldKind.LONG_TEXT,
                                value=m.why, max_length=MAX_WHY))
        fields.append(FormField(f"value_{m.id}", t("setup.value_for", name=m.name,
                                                     unit=m.unit or t("common.no_unit")),
                                value=m.current_value, max_length=MAX_VALUE))
    turn.open_form(_form(turn, "why", tuple(fields), intro=t("setup.why_intro")))


def save_why(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    _require_setup(turn)
    form = FormReader(turn.t, values)
    updates = [(m, form.text(f"why_{m.id}", MAX_WHY, multiline=True),
                form.text(f"value_{m.id}", MAX_VALUE)) for m in turn.ws.measures.values()]
    form.done()
    for measure, why, value in updates:
        if (why, value) != (measure.why, measure.current_value):
            turn.save(replace(measure, why=why, current_value=value))
    refresh_setup(turn)


def open_agenda(turn: Turn, args: Mapping[str, str]) -> None:
    _require_setup(turn)
    t = turn.t
    minutes = tuple(
        FormField(phase.value, t(f"phase.{phase}.name"), FieldKind.NUMBER, required=True,
                  value=str(turn.ws.durations[phase]),
                  hint=t("setup.break_hint") if phase in agenda.OPTIONAL else "")
        for phase in agenda.TIMED)
    auto = FormField("auto_advance", t("setup.auto_advance"), FieldKind.CHOICE, required=True,
                     value=AUTO[turn.ws.auto_advance], hint=t("setup.auto_advance_hint"),
                     options=tuple((v, t(f"setup.auto_advance_{v}")) for v in AUTO.values()))
    turn.open_form(_form(turn, "agenda", (*minutes, auto)))


AUTO = {False: "ask", True: "auto"}


def save_agenda(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    _require_setup(turn)
    form = FormReader(turn.t, values)
    durations = {phase.value: form.integer(phase.value, 0 if phase in agenda.OPTIONAL else 1,
                                           agenda.MAX_MINUTES) for phase in agenda.TIMED}
    auto = form.choice("auto_advance", list(AUTO.values())) if values.get("auto_advance") else "ask"
    form.done()
    turn.change(durations=durations, auto_advance=auto == AUTO[True])
    refresh_setup(turn)


def _without_channel(ws: Workshop) -> list[str]:
    return [g.code for g in working_groups(ws) if not conversation_of(ws, g.code)]


def create_channels(turn: Turn, args: Mapping[str, str]) -> None:
    """The platform makes a channel for each group that has none, named after the workshop."""
    _require_setup(turn)
    missing = _without_channel(turn.ws)
    if not missing:
        raise Refusal("refuse.channels_exist")
    for code in missing:
        turn.effects.append(CreateConversation(
            plenum_of(turn.ws), turn.ws.org, turn.ws.id, code,
            turn.t("setup.channel_name", title=slug(turn.ws.title) or turn.ws.id, group=code.casefold()),
            turn.event.actor.id))
    turn.reply(turn.t("setup.creating_channels", groups=turn.t.join(missing)))


def bind_group(turn: Turn, args: Sequence[str]) -> None:
    """`group E` in a channel makes it that group's channel."""
    turn.require_facilitator("bind_group")
    codes = [g.code for g in working_groups(turn.ws)]
    code = args[0].upper() if args else ""
    if code not in codes:
        raise Refusal("refuse.unknown_group", code=code or "?", codes=turn.t.join(codes))
    here = turn.event.conversation
    bound = turn.ws.conversations.get(here)
    if bound is not None and bound.group == PLENUM:
        raise Refusal("refuse.plenum_not_group")
    for old in list(turn.ws.conversations.values()):
        if old.group == code and old.id != here:
            turn.delete(old)
    turn.save(replace(bound, group=code) if bound else Conversation(id=here, group=code))
    turn.post(here, Message((Text(turn.t("setup.bound", group=views.group_label(turn, code))),)))
    if turn.ws.split_approved:
        views.welcome(turn, code, here)
    refresh_setup(turn)
