"""Before the workshop: the specialists (fagpersoner) who cannot come give their input.

The guide: "Såfremt fagpersoner ikke deltager på workshoppen er det relevant at få deres input
til målepunkter forinden." The facilitator names a specialist by @mentioning them
(`fagperson @Hans Hansen`) and picks the målepunkter and a deadline. The specialist gets a
direct message per målepunkt with a button to answer (where things stand, what is realistic,
pitfalls), and one reminder on the working day before the deadline if they have not answered
by then. The answers are shown in the group's conversation when it starts on the målepunkt (at
once, if it already has), and in the plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from bot.domain.groups import conversation_of, plenum_of
from bot.domain.model import Measure, Phase, SpecialistInput, Workshop
from bot.effects import Schedule
from bot.events import Actor, Command
from bot.flow import views
from bot.flow.followup import check_in_time, hours
from bot.flow.inputs import FormReader
from bot.flow.turn import Refusal, Turn
from bot.ui import Buttons, FieldKind, Fields, Form, FormField, Heading, Message, Note, Text

MAX_ANSWER = 1500
MAX_NAME = 200
FIELDS = ("situation", "realistic", "pitfalls")  # what a specialist is asked, in that order
# Asked before the groups have made up their minds: once the plenum has the ambitions, it is late.
OPEN_PHASES = (Phase.SETUP, Phase.INTRO, Phase.AMBITIONS)


def timer_id(workshop_id: str, input_id: str) -> str:
    return f"{workshop_id}:specialist:{input_id}"


def is_specialist_timer(workshop_id: str, timer: str) -> bool:
    return timer.startswith(f"{workshop_id}:specialist:")


def answered(ws: Workshop, measure_id: str) -> list[SpecialistInput]:
    return sorted((s for s in ws.specialists.values() if s.measure_id == measure_id and s.answered_at),
                  key=lambda s: (s.name, s.id))


# -- the facilitator names a specialist -----------------------------------------------------


def name(turn: Turn, args: Sequence[str]) -> None:
    """`fagperson @Hans Hansen`: a form for which målepunkter, and by when."""
    turn.require_facilitator("specialist")
    turn.require_phase(*OPEN_PHASES)
    person = _mentioned(turn)
    if not turn.ws.measures:
        raise Refusal("refuse.specialist_no_measures")
    t = turn.t
    options = tuple((m.id, t("specialist.option", area=m.area, name=m.name))
                    for m in sorted(turn.ws.measures.values(), key=lambda m: m.position))
    turn.open_form(Form(
        form="specialist", title=t("specialist.form_title"), submit=t("specialist.send"),
        intro=t("specialist.form_intro", name=person.name),
        args={"workshop": turn.ws.id, "user": person.id, "name": person.name},
        fields=(FormField("measures", t("specialist.measures"), FieldKind.CHOICES, required=True,
                          options=options),
                FormField("deadline", t("specialist.deadline"), FieldKind.DATE, required=True,
                          value=default_deadline(turn.ws, turn.today()).isoformat(),
                          hint=t("specialist.deadline_hint")))))


def _mentioned(turn: Turn) -> Actor:
    event = turn.event
    people = event.mentions if isinstance(event, Command) else ()
    if not people:
        raise Refusal("refuse.specialist_who")
    if len(people) > 1:
        raise Refusal("refuse.specialist_one")
    return people[0]


def default_deadline(ws: Workshop, today: date) -> date:
    """The day before the workshop, so the facilitator has the answers in time; today at the
    earliest."""
    return max(ws.date - timedelta(days=1), today)


def save_request(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    turn.require_facilitator("specialist")
    turn.require_phase(*OPEN_PHASES)
    user, person = args.get("user", ""), args.get("name", "")[:MAX_NAME]
    if not user:
        raise Refusal("refuse.unknown_item")
    form = FormReader(turn.t, values)
    picked = form.choices("measures", list(turn.ws.measures))
    deadline = form.date("deadline", today=turn.today(), required=True)
    if deadline is not None and deadline < turn.today():
        form.errors["deadline"] = turn.t("form.past_date", value=turn.t.date(deadline))
    if not picked and "measures" not in form.errors:
        form.errors["measures"] = turn.t("form.required")
    form.done()
    assert deadline is not None
    asked = {(s.user_id, s.measure_id): s for s in turn.ws.specialists.values()}
    for measure_id in picked:
        earlier = asked.get((user, measure_id))
        request = turn.save(replace(earlier, deadline=deadline, reminded=False) if earlier else
                            SpecialistInput(id=uuid.uuid4().hex[:12], measure_id=measure_id,
                                            user_id=user, name=person, deadline=deadline))
        turn.direct(plenum_of(turn.ws), user, request_card(turn, request), key=card_key(request))
        _schedule_reminder(turn, request)
    names = turn.t.join([turn.ws.measures[m].name for m in picked])
    turn.reply(turn.t("specialist.asked", name=person, measures=names, deadline=turn.t.date(deadline)))


def card_key(request: SpecialistInput) -> str:
    return f"specialist:{request.id}"


def request_card(turn: Turn, request: SpecialistInput, heading: str = "") -> Message:
    t, measure = turn.t, turn.ws.measures[request.measure_id]
    facilitator = views.name_of(turn.ws, turn.ws.facilitators[0]) if turn.ws.facilitators else ""
    return views.message(
        Heading(heading or t("specialist.request_heading", title=turn.ws.title)),
        Text(t("specialist.request", facilitator=facilitator, date=t.date(turn.ws.date))),
        Heading(t("measure.heading", name=measure.name, area=measure.area)),
        Text(measure.description) if measure.description else None,
        views.measure_facts(turn, measure),
        answer_fields(turn, request) if request.answered_at else
        Note(t("specialist.deadline_note", deadline=t.date(request.deadline))),
        Buttons((views.button(turn, t("specialist.edit" if request.answered_at else "specialist.answer"),
                              "specialist_answer", "primary", request=request.id),)))


def answer_fields(turn: Turn, request: SpecialistInput) -> Fields:
    t = turn.t
    return Fields(tuple((t(f"specialist.{field}"), getattr(request, field)) for field in FIELDS
                        if getattr(request, field)))


# -- the specialist answers ---------------------------------------------------------------


def _request_of(turn: Turn, args: Mapping[str, str]) -> SpecialistInput:
    """The request the button names, if it is the person's own (a forwarded button is not)."""
    request = turn.ws.specialists.get(args.get("request", ""))
    if request is None or request.measure_id not in turn.ws.measures:
        raise Refusal("refuse.unknown_item")
    if request.user_id != turn.actor:
        raise Refusal("refuse.specialist_not_yours", name=request.name)
    return request


def open_answer(turn: Turn, args: Mapping[str, str]) -> None:
    request = _request_of(turn, args)
    t, measure = turn.t, turn.ws.measures[request.measure_id]
    turn.open_form(Form(
        form="specialist_answer", title=t("specialist.answer_title"), submit=t("form.save"),
        intro=t("specialist.answer_intro", name=measure.name),
        args={"workshop": turn.ws.id, "request": request.id},
        fields=tuple(FormField(field, t(f"specialist.{field}"), FieldKind.LONG_TEXT,
                               value=getattr(request, field), max_length=MAX_ANSWER,
                               hint=t(f"specialist.{field}_hint"))
                     for field in FIELDS)))


def save_answer(turn: Turn, args: Mapping[str, str], values: Mapping[str, str]) -> None:
    request = _request_of(turn, args)
    form = FormReader(turn.t, values)
    situation, realistic, pitfalls = (form.text(field, MAX_ANSWER, multiline=True) for field in FIELDS)
    if not (situation or realistic or pitfalls):
        form.errors["situation"] = turn.t("specialist.empty")
    form.done()
    request = turn.save(replace(request, situation=situation, realistic=realistic, pitfalls=pitfalls,
                                answered_at=turn.now))
    turn.update(plenum_of(turn.ws), card_key(request),
                request_card(turn, request, turn.t("specialist.thanks_heading")))
    turn.cancel(timer_id(turn.ws.id, request.id))
    if turn.ws.phase == Phase.AMBITIONS:  # the group is at it already: it sees the input now
        show_to_group(turn, turn.ws.measures[request.measure_id], [request])


# -- to the group ---------------------------------------------------------------------------


def show_to_group(turn: Turn, measure: Measure, given: list[SpecialistInput]) -> None:
    conversation = conversation_of(turn.ws, measure.group)
    if not conversation:
        return
    for request in given:
        turn.post(conversation, views.message(
            Heading(turn.t("specialist.group_heading", name=request.name, measure=measure.name)),
            answer_fields(turn, request)))


# -- the reminder ---------------------------------------------------------------------------


def _schedule_reminder(turn: Turn, request: SpecialistInput) -> None:
    """On the working day before the deadline; none if that is past already."""
    at = reminder_time(turn.ws, request)
    if at > turn.now:
        turn.effects.append(Schedule(timer_id(turn.ws.id, request.id), at,
                                     {"workshop": turn.ws.id, "request": request.id,
                                      "due": at.isoformat()}))
    else:
        turn.cancel(timer_id(turn.ws.id, request.id))


def reminder_time(ws: Workshop, request: SpecialistInput) -> datetime:
    work = hours(ws)
    day = request.deadline - timedelta(days=1)
    while not work.is_working_day(day):
        day -= timedelta(days=1)
    return work.at(day, check_in_time(ws))


def timer_fired(turn: Turn, args: Mapping[str, str]) -> None:
    request = turn.ws.specialists.get(args.get("request", ""))
    if (request is None or request.answered_at or request.reminded or turn.ws.phase not in OPEN_PHASES
            or request.measure_id not in turn.ws.measures):  # taken out of the workshop since
        return
    request = turn.save(replace(request, reminded=True))
    turn.direct(plenum_of(turn.ws), request.user_id, request_card(
        turn, request, turn.t("specialist.reminder_heading", deadline=turn.t.date(request.deadline))),
        key=card_key(request))
