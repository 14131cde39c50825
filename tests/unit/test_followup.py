"""Follow-up after the workshop, months of it on an injected clock.

Timers run as APScheduler runs them: a timer scheduled again under the same id replaces the
earlier one, a cancelled one never fires. Reminders must land on Danish working days inside
working hours, stop when a goal is done or follow-up is closed, and reach only the owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.followup import status_of
from bot.domain.model import GoalStatus, Phase, SmartGoal
from bot.effects import Cancel, Direct, Effect, Schedule, Update
from bot.events import timer_fired
from tests.harness import FACILITATOR, GOAL, Room, actor, texts

CPH = ZoneInfo("Europe/Copenhagen")
# 14 days before this deadline is Easter Monday (29 March 2027)
DEADLINE = {**GOAL, "deadline": "12-04-2027"}


def in_follow_up() -> Room:
    room = Room()
    room.to_smart_goals()
    room.add_goal("Anders", "E", "E-energi", DEADLINE)
    room.add_goal("Hanne", "S", "S-tilfredshed")
    room.say(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    for goal, owner in zip(sorted(room.ws.goals.values(), key=lambda g: g.measure_id),
                           ("carsten", "ib"), strict=True):
        room.press(FACILITATOR, "plenum", "set_owner", goal=goal.id)
        room.fill(FACILITATOR, {"owner": owner, "next_step": "Første skridt"})
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.FOLLOW_UP, room.replies()
    return room


def pending(effects: list[Effect]) -> dict[str, Schedule]:
    """The timers as the job store holds them after these effects, in order."""
    timers: dict[str, Schedule] = {}
    for effect in effects:
        if isinstance(effect, Schedule):
            timers[effect.timer] = effect
        elif isinstance(effect, Cancel):
            timers.pop(effect.timer, None)
    return timers


def run_until(room: Room, until: datetime) -> Iterator[tuple[datetime, list[Effect]]]:
    """Fire every follow-up timer due before `until`, earliest first, like the scheduler."""
    while True:
        due = sorted((s.at, s.timer) for s in pending(room.effects).values()
                     if ":followup:" in s.timer and s.at <= until)
        if not due:
            room.now = until
            return
        at, timer = due[0]
        room.now = at
        schedule = pending(room.effects)[timer]
        room.effects.append(Cancel(timer))  # it ran: gone from the store
        yield at, list(room.send(timer_fired(timer, dict(schedule.args))).effects)


def directs_to(effects: list[Effect], name: str) -> list[str]:
    return [texts(e.message) for e in effects if isinstance(e, Direct) and e.user == actor(name).id]


def test_each_owner_gets_their_own_goals_when_the_workshop_ends() -> None:
    room = in_follow_up()
    carsten, ib = directs_to(room.effects, "Carsten"), directs_to(room.effects, "Ib")
    assert any("ansvarlig for 1 SMART-mål" in text for text in carsten)
    assert any(GOAL["text"] in text and "12.04.2027" in text for text in carsten)
    assert not any(GOAL["text"] in text and "12.04.2027" in text for text in ib)
    assert directs_to(room.effects, "Hanne") == []  # wrote the goal, does not own it
    assert any("2 ansvarlige" in text for text in room.posted_in("plenum"))


def test_six_months_of_reminders_fall_on_working_days_and_stop_when_done() -> None:
    room = in_follow_up()
    fired = list(run_until(room, datetime(2027, 6, 1, tzinfo=UTC)))
    moments = [at.astimezone(CPH) for at, _ in fired]

    assert moments, "no reminder in six months"
    for moment in moments:
        assert moment.weekday() < 5 and 8 <= moment.hour < 16, moment
    days = {m.date().isoformat() for m in moments}
    assert "2027-01-01" not in days and "2027-01-04" in days  # New Year's Day, then a weekend
    assert "2027-03-29" not in days and "2027-03-30" in days  # 14 days before: Easter Monday
    assert {"2027-04-09", "2027-04-12"} <= days  # 3 days before, and on the deadline itself
    anders_goal = next(g for g in room.ws.goals.values() if g.owner_id == actor("Carsten").id)
    reminders = [e for _, effects in fired for e in effects
                 if isinstance(e, Direct) and e.user == actor("Carsten").id]
    assert len(reminders) >= 6

    # Carsten says it is done: no more reminders for that goal
    room.act("Carsten", "dm", "followup_status", goal=anders_goal.id, status="done")
    assert status_of(room.ws, anders_goal.id) == GoalStatus.DONE
    later = list(run_until(room, datetime(2027, 12, 1, tzinfo=UTC)))
    assert not [e for _, effects in later for e in effects
                if isinstance(e, Direct) and e.user == actor("Carsten").id]
    assert [e for _, effects in later for e in effects if isinstance(e, Direct) and e.user == actor("Ib").id]


def test_an_answer_is_a_follow_up_entry_with_who_and_when_and_only_the_owner_may_answer() -> None:
    room = in_follow_up()
    goal = next(g for g in room.ws.goals.values() if g.owner_id == actor("Ib").id)

    refused = room.act("Karen", "dm", "followup_status", goal=goal.id, status="in_progress")
    assert "Ib" in texts(refused.effects[0].message) and not room.ws.followups

    room.act("Ib", "dm", "followup_status", goal=goal.id, status="in_progress")
    [entry] = room.ws.followups.values()
    assert (entry.status, entry.updated_by, entry.updated_at) == (GoalStatus.IN_PROGRESS, actor("Ib").id, room.now)


def test_a_snooze_moves_the_next_reminder_and_closing_stops_them_all() -> None:
    room = in_follow_up()
    goal = next(g for g in room.ws.goals.values() if g.owner_id == actor("Ib").id)
    room.now = datetime(2027, 1, 8, 14, 0, tzinfo=CPH)  # a Friday afternoon
    room.act("Ib", "dm", "followup_snooze", goal=goal.id, **{"for": "day"})
    timer = pending(room.effects)[f"{room.ws.id}:followup:{goal.id}"]
    assert timer.at.astimezone(CPH) == datetime(2027, 1, 11, 8, 0, tzinfo=CPH)  # Monday morning

    room.say(FACILITATOR, "plenum", "luk")
    assert room.ws.followup_closed
    assert not [s for s in pending(room.effects).values() if ":followup:" in s.timer]
    assert not [e for _, effects in run_until(room, room.now + timedelta(days=200)) for e in effects]


def test_the_facilitator_hears_once_a_month_of_goals_that_stand_still() -> None:
    room = in_follow_up()
    fired = list(run_until(room, datetime(2027, 5, 1, tzinfo=UTC)))
    digests = [t for _, effects in fired for t in directs_to(effects, FACILITATOR) if "står stille" in t]
    assert digests, "no digest although nobody answered for months"
    assert all("Carsten" in d and "Ib" in d for d in digests)  # one message listing both
    assert len(digests) <= 5


def test_an_owner_can_report_progress_and_a_comment_and_a_bad_number_is_explained() -> None:
    room = in_follow_up()
    goal = next(g for g in room.ws.goals.values() if g.owner_id == actor("Carsten").id)
    room.act("Carsten", "dm", "followup_update", goal=goal.id)

    refused = room.fill("Carsten", {"status": "in_progress", "progress": "cirka halvvejs"})
    assert "»cirka halvvejs« er ikke et tal" in refused.form_errors["progress"]
    assert not room.ws.followups  # nothing saved from a refused form

    room.fill("Carsten", {"progress": "128,5", "comment": "Tre afdelinger er renoveret"})
    [entry] = room.ws.followups.values()
    assert (entry.status, entry.progress, entry.comment) == (
        GoalStatus.IN_PROGRESS, 128.5, "Tre afdelinger er renoveret")


def test_my_goals_shows_an_owner_theirs_and_tells_others_they_have_none() -> None:
    room = in_follow_up()
    shown = room.say("Ib", "plenum", "mine mål")
    assert [texts(e.message) for e in shown.effects if isinstance(e, Direct)] and all(
        e.user == actor("Ib").id for e in shown.effects if isinstance(e, Direct))
    assert "ikke ansvarlig for nogen" in texts(room.say("Karen", "plenum", "mine mål").effects[0].message)



def test_each_month_the_plenum_sees_per_esg_area_what_is_done_on_track_and_late() -> None:
    room = in_follow_up()
    energy = next(g for g in room.ws.goals.values() if g.measure_id == "E-energi")
    before = len(room.posted_in("plenum"))

    list(run_until(room, datetime(2026, 12, 2, tzinfo=UTC)))  # the first working day of December
    [december] = room.posted_in("plenum")[before:]
    assert "Miljø: 🟨 0 gennemført · 1 på vej · 0 forsinket" in december
    assert "Sociale forhold: 🟨 0 gennemført · 1 på vej · 0 forsinket" in december
    assert "Governance" not in december  # no goals there
    assert "»handlingsplan«" in december

    room.act("Carsten", "dm", "followup_status", goal=energy.id, status="delayed")
    list(run_until(room, datetime(2027, 2, 3, tzinfo=UTC)))
    february = room.posted_in("plenum")[-1]
    assert "Miljø: 🟥 0 gennemført · 0 på vej · 1 forsinket" in february

    room.act("Carsten", "dm", "followup_status", goal=energy.id, status="done")
    list(run_until(room, datetime(2027, 3, 3, tzinfo=UTC)))
    assert "Miljø: 🟩 1 gennemført · 0 på vej · 0 forsinket" in room.posted_in("plenum")[-1]


def test_a_goal_past_its_deadline_and_not_done_counts_as_late_in_the_plenum() -> None:
    room = in_follow_up()
    list(run_until(room, datetime(2027, 5, 5, tzinfo=UTC)))  # the E goal's deadline was 12 April
    may = room.posted_in("plenum")[-1]
    assert "Miljø: 🟥 0 gennemført · 0 på vej · 1 forsinket" in may
    assert "Sociale forhold: 🟨 0 gennemført · 1 på vej · 0 forsinket" in may


def goal_of(room: Room, name: str) -> SmartGoal:
    return next(g for g in room.ws.goals.values() if g.owner_id == actor(name).id)


def test_an_owner_hands_a_goal_over_and_it_moves_only_when_the_new_owner_says_yes() -> None:
    room = in_follow_up()
    goal = goal_of(room, "Carsten")
    room.act("Carsten", "dm", "followup_handover", goal=goal.id)

    refused = room.fill("Carsten", {"to": "Nogen Andre"})
    assert "kender ikke »Nogen Andre«" in refused.form_errors["to"]
    asked = room.fill("Carsten", {"to": "anders"})
    [request] = [e for e in asked.effects if isinstance(e, Direct)]
    assert request.user == actor("Anders").id and "Carsten vil gerne give dig" in texts(request.message)
    assert "spurgt Anders" in room.replies(asked)
    assert room.ws.goals[goal.id].owner_id == actor("Carsten").id  # not before Anders says yes

    handover = {"goal": goal.id, "to": actor("Anders").id, "from": actor("Carsten").id}
    forged = room.act("Karen", "dm", "followup_accept", **handover)
    assert "til Anders" in room.replies(forged) and room.ws.goals[goal.id].owner_id == actor("Carsten").id

    accepted = room.act("Anders", "dm", "followup_accept", **handover)
    assert room.ws.goals[goal.id].owner == "Anders"
    kinds = [type(e).__name__ for e in accepted.effects if isinstance(e, (Update, Direct))]
    assert kinds[:2] == ["Update", "Direct"]  # the old card says where it went, then the key moves
    assert any("har sagt ja" in text for text in directs_to(list(accepted.effects), "Carsten"))
    assert "Tak! Du er nu ansvarlig" in directs_to(list(accepted.effects), "Anders")[0]

    again = room.act("Anders", "dm", "followup_accept", **handover)
    assert "allerede skiftet ansvarlig" in room.replies(again)

    fired = [e for _, effects in run_until(room, datetime(2027, 3, 1, tzinfo=UTC)) for e in effects]
    assert directs_to(fired, "Anders") and not directs_to(fired, "Carsten")  # reminders follow the goal


def test_a_declined_handover_leaves_the_goal_with_its_owner() -> None:
    room = in_follow_up()
    goal = goal_of(room, "Ib")
    room.act("Ib", "dm", "followup_handover", goal=goal.id)
    room.fill("Ib", {"to": "Hanne"})

    declined = room.act("Hanne", "dm", "followup_decline", goal=goal.id, to=actor("Hanne").id, **{"from": actor("Ib").id})

    assert room.ws.goals[goal.id].owner_id == actor("Ib").id
    assert any("Hanne har sagt nej tak" in text for text in directs_to(list(declined.effects), "Ib"))


def test_a_facilitator_reassigns_a_goal_at_once_and_both_owners_hear_of_it() -> None:
    room = in_follow_up()
    goal = goal_of(room, "Ib")
    room.act(FACILITATOR, "plenum", "followup_handover", goal=goal.id)
    assert "med det samme" in room.form(FACILITATOR).form.intro

    done = room.fill(FACILITATOR, {"to": "Karen"})

    assert room.ws.goals[goal.id].owner_id == actor("Karen").id
    assert "Tovholderen har gjort dig ansvarlig" in directs_to(list(done.effects), "Karen")[0]
    assert any("videre til Karen" in text for text in directs_to(list(done.effects), "Ib"))
    assert "Karen er nu ansvarlig" in room.replies(done)


def digests_in(fired: list[tuple[datetime, list[Effect]]]) -> list[str]:
    return [t for _, effects in fired for t in directs_to(effects, FACILITATOR) if "står stille" in t]


def test_the_facilitator_hears_of_a_goal_after_two_unanswered_reminders_and_not_after_one() -> None:
    room = in_follow_up()
    ib = goal_of(room, "Ib")
    # December: the digest and the first check-in fire at the same time; nothing is stuck yet
    assert not digests_in(list(run_until(room, datetime(2026, 12, 2, tzinfo=UTC))))
    assert room.ws.goals[ib.id].unanswered == 1

    room.act("Ib", "dm", "followup_status", goal=ib.id, status="in_progress")
    assert room.ws.goals[ib.id].unanswered == 0  # an answer starts the count over
    january = digests_in(list(run_until(room, datetime(2027, 1, 5, tzinfo=UTC))))
    assert not any("Ib" in d for d in january)

    [february] = digests_in(list(run_until(room, datetime(2027, 2, 2, tzinfo=UTC))))
    assert "Carsten: ikke startet, har ikke svaret på de sidste 2 påmindelser" in february
    assert "Ib:" not in february  # one reminder since the answer (January's)
    [march] = digests_in(list(run_until(room, datetime(2027, 3, 2, tzinfo=UTC))))
    assert "Ib: i gang, har ikke svaret på de sidste 2 påmindelser" in march

    room.act("Ib", "dm", "followup_snooze", goal=ib.id, **{"for": "week"})  # a snooze is an answer too
    assert room.ws.goals[ib.id].unanswered == 0


def test_a_goal_past_its_deadline_is_in_the_digest_with_its_deadline() -> None:
    room = in_follow_up()
    fired = list(run_until(room, datetime(2027, 5, 5, tzinfo=UTC)))
    assert "Carsten: ikke startet, deadline 12.04.2027 er overskredet" in digests_in(fired)[-1]


def test_the_facilitator_sets_how_often_and_when_and_the_reminders_follow() -> None:
    room = in_follow_up()
    refused = room.say("Ib", "plenum", "påmindelser")
    assert "kun tovholderen" in room.replies(refused)

    room.say(FACILITATOR, "plenum", "påmindelser")
    bad = room.fill(FACILITATOR, {"cadence": "quarterly", "start": "14", "end": "10"})
    assert "efter kl. 14" in bad.form_errors["end"] and room.ws.work_end == 16  # nothing changed
    beyond = room.fill(FACILITATOR, {"end": "24"})  # a day has no hour 24 to end on
    assert "1" in beyond.form_errors["end"] and "23" in beyond.form_errors["end"]
    saved = room.fill(FACILITATOR, {"start": "10", "end": "14"})
    assert "første arbejdsdag i hvert kvartal" in room.replies(saved)
    assert (room.ws.reminder_cadence, room.ws.work_start, room.ws.work_end) == ("quarterly", 10, 14)

    fired = list(run_until(room, datetime(2027, 12, 31, tzinfo=UTC)))
    check_ins = sorted({at.astimezone(CPH) for at, effects in fired for e in effects
                        if isinstance(e, Direct) and "Kvartalets opfølgning" in texts(e.message)})
    months = sorted({(m.year, m.month) for m in check_ins})
    assert months and all(month in (1, 4, 7, 10) for _, month in months), months
    for at, _ in fired:
        local = at.astimezone(CPH)
        assert local.weekday() < 5 and 10 <= local.hour < 14, local


def test_fortnightly_check_ins_come_every_two_weeks() -> None:
    room = in_follow_up()
    room.say(FACILITATOR, "plenum", "påmindelser")
    room.fill(FACILITATOR, {"cadence": "fortnightly"})
    ib = goal_of(room, "Ib")
    fired = [at for at, effects in run_until(room, datetime(2027, 3, 1, tzinfo=UTC))
             if any(isinstance(e, Direct) and e.user == actor("Ib").id for e in effects)]
    gaps = {(later - earlier).days for earlier, later in zip(fired, fired[1:], strict=False)}
    assert len(fired) >= 6 and gaps <= {13, 14, 15, 16}, gaps  # moved off weekends and holidays
    assert ib.deadline is None or ib.deadline.year > 2027


def test_evening_hours_move_the_check_in_from_nine_to_the_first_allowed_hour() -> None:
    room = in_follow_up()
    room.say(FACILITATOR, "plenum", "påmindelser")
    room.fill(FACILITATOR, {"start": "17", "end": "20"})
    fired = list(run_until(room, datetime(2027, 6, 1, tzinfo=UTC)))
    hours = {at.astimezone(CPH).hour for at, _ in fired}
    assert fired and hours == {17}, hours  # check-ins, deadline reminders and the digest alike
