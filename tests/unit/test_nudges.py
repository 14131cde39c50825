"""Reminders as a phase runs out: minutes left, what each group still lacks, and what happens
when the time is up (ask the facilitator, or move on by itself)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.domain.model import Phase
from bot.effects import Cancel, Post, PostPrivate, Schedule
from bot.events import timer_fired
from bot.flow.turn import Outcome
from bot.ui import Buttons, Progress
from tests.harness import FACILITATOR, MEASURES, Room, actor, texts

LEFT_10 = "10 minutter tilbage – fasen slutter kl. {}."
LEFT_5 = "5 minutter tilbage – fasen slutter kl. {}."
DONE_EARLY = "I er færdige før tid"
NO_AMBITION = "»{}« mangler ambitionsniveau og ambitionssætning."
LATE = "Beskeden kommer for sent"
VAGUE = {"text": "Bedre energi", "indicator": "", "baseline": "", "target": "", "deadline": ""}


@dataclass
class AgendaRoom(Room):
    """A Room whose facilitator also fills in the agenda form before the start."""

    agenda: Mapping[str, str] = field(default_factory=dict)

    def set_up(self, measures: Iterable[str] = MEASURES, break_minutes: int = 10) -> None:
        super().set_up(measures, break_minutes)
        if self.agenda:
            self.press(FACILITATOR, "plenum", "setup_agenda")
            assert not self.fill(FACILITATOR, dict(self.agenda)).form_errors


def ambitions_at_half_past(language: str = "da", **agenda: str) -> AgendaRoom:
    """The intro runs its full 30 minutes, so the ambitions phase runs 09:30–09:55 local."""
    room = AgendaRoom(language=language, agenda=agenda)
    room.to_intro()
    room.press(FACILITATOR, "plenum", "propose_split")
    room.press(FACILITATOR, "plenum", "approve_split")
    room.advance(30)
    if room.ws.phase == Phase.INTRO:  # asked, not moved on by itself
        room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.AMBITIONS
    return room


def minute(room: Room, m: int) -> list[Outcome]:
    """Move to `m` minutes after the current phase started, firing the timers on the way."""
    target = room.ws.phase_started_at + timedelta(minutes=m)
    return room.advance(int((target - room.now).total_seconds() // 60))


def public(outcomes: Iterable[Outcome]) -> dict[str, list[str]]:
    heard: dict[str, list[str]] = {}
    for outcome in outcomes:
        for e in outcome.effects:
            if isinstance(e, Post):
                heard.setdefault(e.conversation, []).append(texts(e.message))
    return heard


def private(outcomes: Iterable[Outcome], name: str) -> list[PostPrivate]:
    return [e for o in outcomes for e in o.effects
            if isinstance(e, PostPrivate) and e.user == actor(name).id]


def armed(room: Room) -> dict[str, timedelta]:
    """The marks the last turn scheduled, as time from now."""
    return {e.args["mark"]: e.at - room.now for e in room.last.effects if isinstance(e, Schedule)}


def cancelled(room: Room) -> set[str]:
    """The marks the last turn cancelled."""
    return {e.timer.rsplit(":", 1)[-1] for e in room.last.effects if isinstance(e, Cancel)}


def schedule_of(room: Room, mark: str) -> Schedule:
    return [e for e in room.effects if isinstance(e, Schedule) and e.args["mark"] == mark][-1]


def deliver(room: Room, mark: str, late: bool = False, schedule: Schedule | None = None) -> Outcome:
    s = schedule or schedule_of(room, mark)
    return room.send(timer_fired(s.timer, dict(s.args), late=late))


# -- 1. the reminders of a 25-minute group phase ---------------------------------------------

def test_ten_minutes_before_the_end_everyone_at_work_hears_the_time_and_nothing_more() -> None:
    room = ambitions_at_half_past()
    fired = minute(room, 15)
    heard = public(fired)
    assert set(heard) == {"plenum", "E", "S", "G"}
    assert all(said == [LEFT_10.format("09:55")] for said in heard.values())
    assert not private(fired, FACILITATOR)


def test_five_minutes_before_the_end_each_group_hears_what_it_still_lacks() -> None:
    room = ambitions_at_half_past()
    room.write_ambition("Hanne", "S", "S-tilfredshed", "Flere beboere skal være tilfredse")
    room.write_ambition("Maja", "G", "G-kompetencer", "Bestyrelsen skal kende ESG")
    room.write_ambition("Maja", "G", "G-indkoeb", "Vi køber ansvarligt ind")
    fired = minute(room, 20)[-1:]  # the 5-minute reminder (the 10-minute one came first)
    heard = public(fired)
    [s] = heard["S"]
    assert s.startswith(LEFT_5.format("09:55")) and "Det mangler I stadig" in s
    assert NO_AMBITION.format("Udsættelser af lejere") in s and "Beboernes tilfredshed" not in s
    [e] = heard["E"]
    assert NO_AMBITION.format("Energiforbrug i boligerne") in e
    assert NO_AMBITION.format("CO2-udledning fra varme og el") in e
    [g] = heard["G"]
    assert DONE_EARLY in g and "mangler" not in g
    assert heard["plenum"] == [LEFT_5.format("09:55")]  # the plenum hears no group's gaps
    [progress] = private(fired, FACILITATOR)
    [bar] = [b for b in progress.message.blocks if isinstance(b, Progress)]
    assert (bar.done, bar.total) == (1, 3) and "1/3 grupper er færdige" in texts(progress.message)
    assert not private(fired, "Hanne") and not private(fired, "Maja")


# -- 2. the SMART-goal phase --------------------------------------------------------------------

def test_five_minutes_before_the_end_of_smart_goals_the_missing_and_weak_goals_are_listed() -> None:
    room = Room()
    room.to_smart_goals()  # 09:00–09:45
    room.add_goal("Anders", "E", "E-energi", VAGUE)
    for measure in ("S-tilfredshed", "S-udsaettelser"):
        room.add_goal("Hanne", "S", measure)
        goal = next(g for g in room.ws.goals.values() if g.measure_id == measure)
        room.act("Ib", "S", "support_goal", goal=goal.id)
    room.add_goal("Maja", "G", "G-kompetencer")
    room.press("Niels", "G", "support_goal")
    fired = minute(room, 40)[-1:]
    heard = public(fired)
    [e] = heard["E"]
    assert "»Energiforbrug i boligerne«, mål 1, opfylder ikke: Specifikt, Målbart" in e
    assert "»CO2-udledning fra varme og el« har intet SMART-mål endnu." in e
    [s] = heard["S"]
    assert DONE_EARLY in s
    [g] = heard["G"]
    assert "»Ansvarlige indkøb« har intet SMART-mål endnu." in g
    assert "ESG-kompetencer" not in g
    assert "1/3 grupper er færdige" in texts(private(fired, FACILITATOR)[-1].message)


# -- 3. short phases and the break --------------------------------------------------------------

@pytest.mark.parametrize(("minutes", "marks"), [
    ("15", {"5": timedelta(minutes=10), "end": timedelta(minutes=15)}),
    ("20", {"10": timedelta(minutes=10), "5": timedelta(minutes=15), "end": timedelta(minutes=20)}),
])
def test_a_phase_shorter_than_twenty_minutes_gets_no_ten_minute_reminder(
        minutes: str, marks: dict[str, timedelta]) -> None:
    room = AgendaRoom(agenda={"ambitions": minutes})
    room.to_ambitions()
    assert armed(room) == marks and ("10" in cancelled(room)) == ("10" not in marks)
    said = [t for t in room.posted_in("S") if "minutter tilbage" in t]
    minute(room, int(minutes))
    said = [t for t in room.posted_in("S") if "minutter tilbage" in t][len(said):]
    assert [t.split(" –")[0] for t in said] == [f"{m} minutter tilbage" for m in ("10", "5") if m in marks]


def test_the_break_has_no_reminders_says_when_we_start_again_and_ends_in_the_plenum() -> None:
    room = Room()
    room.to_ambitions()
    room.say(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.BREAK
    assert set(armed(room)) == {"end"} and cancelled(room) == {"10", "5"}
    assert "Vi starter igen kl. 09:10." in room.posted_in("plenum")[-1]
    fired = minute(room, 10)
    heard = public(fired)
    assert heard == {"plenum": ["Pausen er slut – vi starter igen nu."]}
    assert "Næste fase" in texts(private(fired, FACILITATOR)[-1].message)


# -- 4. extend, pause, resume and skip move or drop the reminders -------------------------------

def test_an_extension_moves_the_reminders_and_the_old_ones_fire_silently() -> None:
    room = ambitions_at_half_past()
    minute(room, 12)
    room.say(FACILITATOR, "plenum", "forlæng 10")
    assert armed(room) == {"10": timedelta(minutes=13), "5": timedelta(minutes=18),
                                "end": timedelta(minutes=23)}
    for m in (15, 20):  # the old 10- and 5-minute reminders
        fired = minute(room, m)
        assert fired and all(o.effects == () for o in fired)
    fired = minute(room, 25)  # the old end (stale) and the new 10-minute reminder
    assert len(fired) == 2 and public(fired)["S"] == [LEFT_10.format("10:05")]
    assert "Tiden er gået" not in "".join(room.posted_in("S")) and not private(fired, FACILITATOR)
    assert public(minute(room, 30))["S"][0].startswith(LEFT_5.format("10:05"))
    assert "Tiden er gået" in public(minute(room, 35))["S"][0]


def test_a_reminder_whose_moment_has_passed_is_not_scheduled_again() -> None:
    room = ambitions_at_half_past()
    minute(room, 24)
    room.say(FACILITATOR, "plenum", "forlæng 5")
    assert armed(room) == {"5": timedelta(minutes=1), "end": timedelta(minutes=6)}
    assert cancelled(room) == {"10"}
    said = public(minute(room, 30))["S"]
    assert len(said) == 2 and said[0].startswith(LEFT_5.format("10:00")) and "Tiden er gået" in said[1]


def test_pause_cancels_the_reminders_and_resume_arms_them_from_the_new_end() -> None:
    room = ambitions_at_half_past()
    minute(room, 12)
    room.say(FACILITATOR, "plenum", "pause")
    assert cancelled(room) == {"10", "5", "end"} and not armed(room)
    assert all(o.effects == () for o in minute(room, 42))  # nothing fires into a paused phase
    room.say(FACILITATOR, "plenum", "fortsæt")  # 13 minutes were left: the end is 10:25
    assert armed(room) == {"10": timedelta(minutes=3), "5": timedelta(minutes=8),
                                "end": timedelta(minutes=13)}
    assert public(minute(room, 45))["S"] == [LEFT_10.format("10:25")]


def test_resume_with_less_than_ten_minutes_left_arms_only_what_is_still_ahead() -> None:
    room = ambitions_at_half_past()
    minute(room, 18)  # the 10-minute reminder has been given
    room.say(FACILITATOR, "plenum", "pause")
    minute(room, 25)
    room.say(FACILITATOR, "plenum", "resume")
    assert armed(room) == {"5": timedelta(minutes=2), "end": timedelta(minutes=7)}


def test_a_phase_skipped_early_never_sends_its_reminders() -> None:
    room = ambitions_at_half_past()
    minute(room, 5)
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.AMBITIONS_PLENUM
    group_posts = len(room.posted_in("S"))
    fired = room.advance(19)  # the old 10- and 5-minute reminders come by
    assert len(fired) == 2 and all(o.effects == () for o in fired)
    fired = room.advance(1)  # the old end, and the plenum phase's own 10-minute reminder
    assert public(fired) == {"plenum": [LEFT_10.format("10:05")]}
    assert not private(fired, FACILITATOR)
    assert len(room.posted_in("S")) == group_posts and room.ws.phase == Phase.AMBITIONS_PLENUM


# -- 5. twice, and late ---------------------------------------------------------------------------

def test_the_end_delivered_again_after_next_is_harmless() -> None:
    room = ambitions_at_half_past()
    minute(room, 25)
    end, five = schedule_of(room, "end"), schedule_of(room, "5")
    room.say(FACILITATOR, "plenum", "next")
    phase, seq = room.ws.phase, room.ws.phase_seq
    assert deliver(room, "end", schedule=end).effects == ()
    assert deliver(room, "end", late=True, schedule=end).effects == ()
    assert deliver(room, "5", schedule=five).effects == ()
    assert (room.ws.phase, room.ws.phase_seq) == (phase, seq) == (Phase.AMBITIONS_PLENUM, seq)


def test_a_second_firing_is_the_same_event_late_or_not() -> None:
    room = ambitions_at_half_past()
    s = schedule_of(room, "10")
    assert timer_fired(s.timer, dict(s.args)).event_id == timer_fired(s.timer, dict(s.args), late=True).event_id


def test_a_late_reminder_says_so_everywhere() -> None:
    room = ambitions_at_half_past()
    ten, five = schedule_of(room, "10"), schedule_of(room, "5")
    room.now = ten.at + timedelta(minutes=2)  # the scheduler was down for a moment
    heard = public([deliver(room, "10", late=True, schedule=ten)])
    assert set(heard) == {"plenum", "E", "S", "G"}
    for [said] in heard.values():
        assert said.startswith("8 minutter tilbage – fasen slutter kl. 09:55.") and LATE in said
    room.now = five.at + timedelta(minutes=1)
    outcome = deliver(room, "5", late=True, schedule=five)
    assert LATE in public([outcome])["S"][0]
    assert LATE in texts(private([outcome], FACILITATOR)[0].message)
    room.now = room.ws.phase_ends_at + timedelta(minutes=1)
    choice = private([deliver(room, "end", late=True)], FACILITATOR)[0]
    assert LATE in texts(choice.message) and "Næste fase" in texts(choice.message)


def test_a_reminder_on_time_carries_no_late_note() -> None:
    room = ambitions_at_half_past()
    assert LATE not in "".join(t for said in public(minute(room, 25)).values() for t in said)


# -- 6. a reminder after the end ------------------------------------------------------------------

@pytest.mark.parametrize("after", [0, 7])
def test_a_reminder_that_comes_after_the_end_says_nothing(after: int) -> None:
    room = ambitions_at_half_past()
    ten, five = schedule_of(room, "10"), schedule_of(room, "5")
    room.now = room.ws.phase_ends_at + timedelta(minutes=after)  # e.g. after a restart
    assert deliver(room, "10", late=True, schedule=ten).effects == ()
    assert deliver(room, "5", late=True, schedule=five).effects == ()
    assert room.ws.phase == Phase.AMBITIONS


# -- 7. when the time is up ----------------------------------------------------------------------

def test_by_default_the_facilitator_chooses_when_time_is_up() -> None:
    room = ambitions_at_half_past()
    *_, end = minute(room, 25)
    [choice] = private([end], FACILITATOR)
    assert choice.conversation == "plenum"
    [buttons] = [b for b in choice.message.blocks if isinstance(b, Buttons)]
    assert [(b.label, b.action, b.args.get("minutes")) for b in buttons.buttons] == [
        ("Næste fase", "next", None), ("+5 min", "extend", "5"), ("+10 min", "extend", "10")]
    assert not private([end], "Hanne")
    assert room.ws.phase == Phase.AMBITIONS and "Vi går videre" not in "".join(room.posted_in("plenum"))


def test_with_auto_advance_a_finished_phase_moves_on_by_itself() -> None:
    room = ambitions_at_half_past(auto_advance="auto")  # the intro, being ready, moved on already
    assert "Vi går videre til næste fase" in "".join(room.posted_in("plenum"))
    fired = minute(room, 25)
    assert room.ws.phase == Phase.AMBITIONS_PLENUM
    plenum = public(fired)["plenum"]
    moved = plenum.index("Tiden er gået. Vi går videre til næste fase.")
    assert any("Fase 3 af 6" in t for t in plenum[moved + 1:])
    assert all("Næste fase" not in texts(p.message) for p in private(fired, FACILITATOR))


def test_with_auto_advance_the_break_ends_into_the_smart_goals() -> None:
    room = AgendaRoom(agenda={"auto_advance": "auto"})
    room.to_ambitions()
    room.say(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.BREAK
    plenum = public(minute(room, 10))["plenum"]
    assert plenum[:2] == ["Pausen er slut – vi starter igen nu.", "Tiden er gået. Vi går videre til næste fase."]
    assert room.ws.phase == Phase.SMART_GOALS


def test_with_auto_advance_a_wrap_up_that_is_not_ready_waits_and_tells_the_facilitator() -> None:
    room = AgendaRoom(agenda={"auto_advance": "auto"})
    room.to_smart_goals()
    room.add_goal("Anders", "E", "E-energi")
    room.say(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == Phase.WRAP_UP
    fired = minute(room, 15)
    assert room.ws.phase == Phase.WRAP_UP
    said = texts(private(fired, FACILITATOR)[-1].message)
    assert "Før næste fase mangler:\n• »Energiforbrug i boligerne«, mål 1, mangler en ansvarlig." in said
    assert "Næste fase" in said
    assert "Vi går videre" not in "".join(public(fired).get("plenum", []))


def test_with_auto_advance_an_intro_without_an_approved_split_waits() -> None:
    room = AgendaRoom(agenda={"auto_advance": "auto"})
    room.to_intro()
    fired = minute(room, 30)
    assert room.ws.phase == Phase.INTRO
    assert "Gruppefordelingen er ikke godkendt endnu." in texts(private(fired, FACILITATOR)[-1].message)
    assert "Vi går videre" not in "".join(public(fired).get("plenum", []))


# -- 8. in English -------------------------------------------------------------------------------

def test_an_english_workshop_is_reminded_in_english() -> None:
    room = ambitions_at_half_past(language="en")
    room.write_ambition("Hanne", "S", "S-tilfredshed", "More residents should be satisfied")
    assert public(minute(room, 15))["S"] == ["10 minutes left – the phase ends at 09:55."]
    fired = minute(room, 20)
    [s] = public(fired)["S"]
    assert s.startswith("5 minutes left – the phase ends at 09:55.\nThis is still missing:")
    assert "“Evictions of tenants” has no ambition level and ambition statement yet." in s
    assert "Resident satisfaction" not in s
    assert "0/3 groups are done" in texts(private(fired, FACILITATOR)[0].message)


# -- a bug found on the way ----------------------------------------------------------------------

def test_more_time_asked_for_a_while_after_time_is_up_is_more_time_from_now() -> None:
    room = ambitions_at_half_past()
    minute(room, 32)  # time was up at 09:55; the groups finish their sentences, then the facilitator chooses
    room.press(FACILITATOR, "plenum", "extend", minutes="5")  # at 10:02
    assert schedule_of(room, "end").at > room.now
    assert "Den slutter nu kl. 10:07" in room.posted_in("S")[-1]
