"""A whole ambitionsworkshop through Microsoft Teams, end to end.

Activities signed as the Bot Connector signs them go to the real `POST /api/messages`
(botbuilder's CloudAdapter checks them); the real service stores the workshop in SQLite; the
outbox dispatcher thread delivers through the real TeamsDeliverer (botbuilder, MSAL, msrest)
to a loopback HTTPS fake of the Bot Connector and Entra ID. The assertions are about what
people in Teams notice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from adapters.app import units
from adapters.teams.render import fallback_text, form_card, message_cards
from bot.codec import loads
from bot.effects import (
    CreateConversation,
    Direct,
    OpenForm,
    Post,
    PostPrivate,
    SendFile,
    Update,
)
from bot.events import timer_fired
from bot.flow.followup import owed_timers
from bot.flow.phases import phase_timers
from bot.store.tables import OutboxRow
from tests.e2e.teams_driver import (
    DM,
    PLENUM,
    ClientRefused,
    Shown,
    TeamsWorkshop,
    person,
)
from tests.fakes.teams_api import TENANT_ID
from tests.harness import MEASURES

F = "Mette"  # the facilitator
CHANNEL = {"E": "19:gruppe-e@thread.tacv2", "S": "19:gruppe-s@thread.tacv2",
           "G": "19:gruppe-g@thread.tacv2"}
GROUPS = {"E": ("Anders", "Birgitte", "Carsten"), "S": ("Hanne", "Ib", "Jonas"),
          "G": ("Maja", "Niels", "Pia")}
PEOPLE_SHORT = {code: names[:2] for code, names in GROUPS.items()}
SHORT = ("E-energi", "S-tilfredshed", "G-kompetencer")
TITLE = "Boligselskabet Fjordly"
# Markup a participant may type: a Teams mention, Markdown bold and a Markdown link
HOSTILE = "<at>Someone</at> **fed** [link](http://x)"
SENTENCES = {
    "E-energi": "Vi halverer energiforbruget i de ældste afdelinger inden 2035.",
    "E-co2": "Al varme og el er fossilfri, når vi runder 2035.",
    "S-tilfredshed": "Alle beboere skal føle sig hørt og trives – også de nye.",
    "S-udsaettelser": "Ingen bliver sat ud på grund af restance uden at have fået et tilbud om hjælp.",
    "G-kompetencer": "Organisationsbestyrelsen kan selv læse og udfordre en ESG-rapport.",
    "G-indkoeb": "Alle større indkøb vurderes på miljø og arbejdsforhold.",
}
COMMENT = "Godt mål! Hvad siger afdelingerne?"


def area(measure: str) -> str:
    return measure.partition("-")[0]


def in_the_future(years: int = 2) -> str:
    """A deadline as Teams' date input sends it: YYYY-MM-DD."""
    return f"{date.today().year + years}-06-30"


def goal(text: str, deadline: str | None = None) -> dict[str, str]:
    return {"text": text, "indicator": "Andel i procent", "baseline": "40 %", "target": "80 %",
            "deadline": deadline or in_the_future()}


# (author, measure, goal) in the order they are written; E-energi gets two
GOALS = [
    ("Anders", "E-energi", goal("Energirenovere 120 boliger i afdeling Fjordparken")),
    ("Birgitte", "E-energi", goal("Skifte 400 ventilationsanlæg til nye med varmegenvinding")),
    ("Carsten", "E-co2", goal("Lægge solceller på tagene i fem afdelinger")),
    ("Hanne", "S-tilfredshed", goal("Holde beboermøde i hver afdeling to gange om året")),
    ("Ib", "S-udsaettelser", goal("Ringe til hver beboer i restance inden for fem dage")),
    ("Maja", "G-kompetencer", goal("Give hele bestyrelsen et ESG-kursus")),
    ("Niels", "G-indkoeb", goal("Skrive miljø- og arbejdskrav ind i alle udbud over 500.000 kr.")),
]


async def test_a_whole_workshop_runs_through_teams(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path) as teams:
        # --- setup: the card in the plenum, målepunkter picked on a form card ---------------
        first_post = await teams.say(F, PLENUM, f"ny {TITLE}")
        card = teams.newest(PLENUM)
        assert card.headings == [f"Ambitionsworkshop – {TITLE}"]
        assert all(card.button(action, {}) for action in (
            "setup_details", "setup_measures", "setup_why", "setup_agenda", "create_channels", "start"))
        [created] = teams.dms(F)
        assert "Workshoppen er oprettet" in created
        assert len(teams.messages(PLENUM)) == 1  # the confirmation went to Mette alone

        await teams.press(F, PLENUM, "setup_measures")
        form = teams.form(F)
        assert form.conversation == PLENUM and form.headings == ["Vælg målepunkter"]
        [choices] = form.inputs()
        assert (choices["type"], choices["isMultiSelect"]) == ("Input.ChoiceSet", True)
        answered = await teams.fill(F, {"measures": list(MEASURES)})
        assert answered.id == form.id and answered.submits() == []  # saved: the card has no button now
        assert teams.current(card).versions > 1  # the setup card was edited, not posted again
        assert "Ansvarlige indkøb" in teams.current(card).texts

        for code, channel in CHANNEL.items():
            await teams.say(F, channel, f"gruppe {code}")
            assert f"Gruppe {code}" in teams.texts(channel)
        assert "mangler kanal" not in teams.current(card).texts
        assert "Opret gruppekanaler" not in teams.current(card).texts  # nothing left to create
        assert [m.id for m in teams.messages(PLENUM) if m.headings[:1] == card.headings] == [card.id]

        # --- phase 1: introduction and the split into groups -------------------------------
        await teams.press(F, PLENUM, "start")
        assert "Fase 1 af 6: Introduktion og gruppeopdeling" in teams.headings(PLENUM)
        for code, people in GROUPS.items():
            for name in people:
                await teams.press(name, PLENUM, "interest", area=code)
        # the facilitator's controls are hers alone: in her chat with the bot, not the channel
        assert teams.buttons(F, PLENUM, "propose_split") == []
        await teams.press(F, DM, "propose_split")
        await teams.press(F, PLENUM, "approve_split")
        for code, people in GROUPS.items():
            welcome = teams.newest(CHANNEL[code]).texts
            assert all(name in welcome for name in people), welcome

        # --- phase 2: dots and ambition sentences in the group channels --------------------
        await teams.say(F, PLENUM, "næste")
        phase2 = "Fase 2 af 6: Gruppearbejde: ambitionsniveau og ambitionssætning"
        assert phase2 in teams.headings(PLENUM)
        for code, channel in CHANNEL.items():
            assert phase2 in teams.headings(channel)
            voted_on = {args["m"] for args in teams.buttons(GROUPS[code][0], channel, "vote")}
            assert voted_on == {m for m in MEASURES if area(m) == code}

        # a dot changes the vote card where it stands: a PUT of that activity, no new post
        vote_card, _ = teams.find_button("Anders", CHANNEL["E"], "vote", m="E-energi", level="medium")
        posted = len(teams.messages(CHANNEL["E"]))
        mark = len(teams.fake.calls)
        await teams.press("Anders", CHANNEL["E"], "vote", m="E-energi", level="medium")
        assert connector_calls(teams, mark) == [("update", CHANNEL["E"], vote_card.id)]
        assert len(teams.messages(CHANNEL["E"])) == posted
        assert "Mellem · 1" in teams.current(vote_card).texts

        for code, people in GROUPS.items():
            for measure in (m for m in MEASURES if area(m) == code):
                for number, name in enumerate(people):
                    if (name, measure) != ("Anders", "E-energi"):
                        level = ("medium", "ambitious", "medium")[number]
                        await teams.press(name, CHANNEL[code], "vote", m=measure, level=level)

        # a participant asking for the next phase: told so in a DM, the channel hears nothing
        before = len(teams.messages(CHANNEL["S"]))
        await teams.say("Jonas", CHANNEL["S"], "næste")
        assert len(teams.messages(CHANNEL["S"])) == before
        assert "Det er kun tovholderen, der kan gå videre til næste fase" in teams.dms("Jonas")[-1]
        assert phase2 in teams.headings(PLENUM)[-1:]
        # writing to the bot in a one-to-one chat: the answer comes there
        await teams.dm("Jonas", "hjælp")
        assert "Kommandoer" in teams.dms("Jonas")[-1]

        # an empty ambition sentence: the same card, drawn again with the error and the level
        # picked; the fixed one saves it, and the card loses its button
        await teams.press("Anders", CHANNEL["E"], "edit_ambition", m="E-energi")
        form = teams.form("Anders")
        assert form.conversation == CHANNEL["E"]
        with pytest.raises(ClientRefused):  # Teams itself does not send an empty required field
            await teams.fill("Anders", {"sentence": ""})
        mark = len(teams.fake.calls)
        refused = await teams.fill("Anders", {"level": "ambitious", "sentence": "   "})
        assert refused.id == form.id and refused.versions == 2
        assert "⚠️ Udfyld venligst feltet." in refused.texts
        assert input_values(refused)["level"] == "ambitious"  # what was picked is kept
        assert refused.submits()  # it can be sent again
        assert connector_calls(teams, mark) == [("update", CHANNEL["E"], form.id)]  # nothing posted
        saved = await teams.fill("Anders", {"sentence": SENTENCES["E-energi"]})
        assert saved.submits() == [] and "⚠️" not in saved.texts
        assert SENTENCES["E-energi"] in teams.current(vote_card).texts

        writers = {"E-co2": "Carsten", "S-tilfredshed": "Hanne", "S-udsaettelser": "Ib",
                   "G-kompetencer": "Maja", "G-indkoeb": "Niels"}
        for measure, name in writers.items():
            await teams.press(name, CHANNEL[area(measure)], "edit_ambition", m=measure)
            assert (await teams.fill(name, {"sentence": SENTENCES[measure]})).submits() == []

        # --- phase 3: the plenum agrees -----------------------------------------------------
        await teams.say(F, PLENUM, "næste")
        assert "Fase 3 af 6: Plenum: enighed om ambitionsniveau og -sætning" in teams.headings(PLENUM)
        await teams.press("Pia", PLENUM, "comment", m="S-udsaettelser")
        assert (await teams.fill("Pia", {"text": COMMENT})).submits() == []
        assert f"Pia: {COMMENT}" in plenum_card(teams, "agree", "S-udsaettelser")

        # a participant pressing the facilitator's button: a refusal in her DM, the card unchanged
        agree_card, _ = teams.find_button("Pia", PLENUM, "agree", m="G-indkoeb")
        mark = len(teams.fake.calls)
        await teams.press("Pia", PLENUM, "agree", m="G-indkoeb")
        assert {conversation for _, conversation, _ in connector_calls(teams, mark)} <= {
            teams.conversation("Pia", DM), ""}  # "": the chat made for the refusal
        assert "Det er kun tovholderen, der kan markere enighed" in teams.dms("Pia")[-1]
        assert teams.current(agree_card).versions == agree_card.versions

        for measure in MEASURES:
            await teams.press(F, PLENUM, "agree", m=measure)
            assert "✓ Vedtaget i plenum" in plenum_card(teams, "agree", measure)

        # --- the break, then phase 4: SMART goals in the groups -----------------------------
        await teams.say(F, PLENUM, "næste")
        assert any("Pause" in h for h in teams.headings(PLENUM))
        await teams.say(F, PLENUM, "næste")
        assert "Fase 4 af 6: Gruppearbejde: SMART-mål" in teams.headings(PLENUM)

        # a deadline in the past: the card comes back with the error under the date and every
        # text as typed; a future date is taken
        await teams.press("Birgitte", CHANNEL["E"], "add_goal", m="E-energi")
        refused = await teams.fill("Birgitte", {**GOALS[1][2], "deadline": "2020-01-01"})
        assert "allerede overskredet" in refused.texts and refused.submits()
        kept = input_values(refused)
        assert {k: kept[k] for k in ("text", "indicator", "baseline", "target")} == {
            k: GOALS[1][2][k] for k in ("text", "indicator", "baseline", "target")}
        assert (await teams.fill("Birgitte", {"deadline": GOALS[1][2]["deadline"]})).submits() == []

        for name, measure, values in GOALS:
            if name != "Birgitte":
                await teams.press(name, CHANNEL[area(measure)], "add_goal", m=measure)
                assert (await teams.fill(name, values)).submits() == []
        goal_cards = [s for code in CHANNEL.values() for s in teams.messages(code)
                      if s.button("support_goal", {})]
        assert len(goal_cards) == len(GOALS)
        deadline = date.fromisoformat(in_the_future()).strftime("%d.%m.%Y")
        assert all(deadline in card.texts for card in goal_cards)
        solar, _ = teams.find_button("Anders", CHANNEL["E"], "support_goal")  # the newest: Carsten's
        await teams.press("Anders", CHANNEL["E"], "support_goal")
        assert "Skrevet af Carsten · bakket op af Anders" in teams.current(solar).texts
        assert "Vi står inde for målet · 1" in teams.current(solar).texts

        # --- phase 5: the goals are presented; phase 6: owners ------------------------------
        await teams.say(F, PLENUM, "næste")
        assert "Fase 5 af 6: Plenum: præsentation af SMART-mål" in teams.headings(PLENUM)
        # a reply in the thread of her first post counts as said in the channel; the bot's
        # answer is a new post in the channel, where everyone sees it
        await teams.say_in_thread(F, f"{PLENUM};messageid={first_post['id']}", "næste")
        assert "Fase 6 af 6: Opsamling, overlevering og næste skridt" in teams.headings(PLENUM)
        owners: dict[str, str] = {}
        goal_ids = [args["goal"] for args in teams.buttons(F, PLENUM, "set_owner")]
        assert len(goal_ids) == len(GOALS)
        everyone = [name for group in GROUPS.values() for name in group]
        for number, goal_id in enumerate(goal_ids):
            owner = everyone[number % len(everyone)]
            await teams.press(F, PLENUM, "set_owner", goal=goal_id)
            assert "owner" in {i["id"] for i in teams.form(F).inputs()}
            saved = await teams.fill(F, {"owner": owner, "next_step": f"Oplæg til bestyrelsen ({owner})"})
            assert saved.submits() == []
            owners[goal_id] = owner
        assert any(f"{len(GOALS)}/{len(GOALS)}" in s.texts for s in teams.messages(PLENUM))

        # --- the end: the plan in the plenum, with a button that opens the workbook ---------
        await teams.say(F, PLENUM, "næste")
        plan = next(s for s in reversed(teams.messages(PLENUM)) if f"Handlingsplan – {TITLE}" in s.headings)
        assert all(g["text"] in plan.texts for _, _, g in GOALS)
        [link_card] = [s for s in teams.messages(PLENUM) if s.links()]
        assert "Åbn handlingsplanen (Excel)" in link_card.texts
        download = await teams.download_plan()
        assert download.status == 200
        assert download.headers["Content-Type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        assert ".xlsx" in download.headers["Content-Disposition"]
        sheet = load_workbook(BytesIO(download.body))["Handlingsplan"]
        header, *rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
        goal_column, owner_column = header.index("SMART-mål"), header.index("Ansvarlig")
        assert sorted(r[goal_column] for r in rows) == sorted(g["text"] for _, _, g in GOALS)
        assert sorted(r[owner_column] for r in rows) == sorted(owners.values())

        # a link changed by one character opens nothing, and says so in Danish
        [url] = link_card.links()
        tampered = url[:-1] + ("A" if url[-1] != "A" else "B")
        refused_download = await teams.get(tampered)
        assert refused_download.status == 404
        assert "Linket til handlingsplanen virker ikke" in refused_download.body.decode()
        assert (await teams.get(url)).status == 200  # the link as posted still works

        # --- what held all along ------------------------------------------------------------
        assert never_mentions(teams)
        calls = [c for c in teams.fake.calls if c.route in ("send", "reply", "update", "create")]
        assert all(c.headers.get("Authorization", "").removeprefix("Bearer ") in teams.fake.issued
                   for c in calls)
        assert [(c.route, c.status) for c in teams.fake.calls if c.status != 200] == []
        assert teams.store.outbox.backlog() == 0 and teams.set_aside() == []


async def test_the_setup_card_makes_a_thread_per_group_and_the_groups_work_there(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path) as teams:
        await teams.say(F, PLENUM, f"ny {TITLE}")
        await teams.press(F, PLENUM, "setup_measures")
        await teams.fill(F, {"measures": list(SHORT)})
        # Teams bots cannot make channels (that takes Microsoft Graph): a thread per group
        await teams.press(F, PLENUM, "create_channels")
        threads = {code: thread_of(teams, code) for code in CHANNEL}
        assert all(thread.startswith(PLENUM + ";messageid=") for thread in threads.values())
        assert len(set(threads.values())) == 3
        setup = next(s for s in teams.messages(PLENUM) if s.button("start", {}))
        assert "mangler kanal" not in setup.texts and "Opret gruppekanaler" not in setup.texts
        assert "Kanalerne til gruppe E, S og G oprettes nu" in teams.dms(F)[-1]

        await play(teams, SHORT, channels=threads, new=False, until="follow_up")
        for code, thread in threads.items():  # everything a group did stayed in its thread
            shown = teams.messages(thread)
            assert any(f"Gruppe {code}" in h for s in shown for h in s.headings)
            assert {args["m"] for args in teams.buttons("Anders", thread, "vote")} == {
                m for m in SHORT if area(m) == code}
            forms = [s for s in shown if s.is_form]
            assert len(forms) == 2 and all(f.submits() == [] for f in forms)  # ambition, goal: saved
            assert any(s.button("support_goal", {}) for s in shown)
        assert not any(s.submits("vote") or s.submits("add_goal") for s in teams.messages(PLENUM))

        # a command typed inside a group's thread: the answer is private, the thread stays as it was
        before = teams.messages(threads["E"])
        await teams.say_in_thread(F, threads["E"], "status")
        assert teams.messages(threads["E"]) == before
        assert f"Status – {TITLE}" in teams.dms(F)[-1]
        await teams.say(F, PLENUM, "næste")
        assert (await teams.download_plan()).status == 200
        assert teams.store.outbox.backlog() == 0 and teams.set_aside() == []


async def test_a_teams_outage_in_the_middle_delays_the_workshop_but_loses_nothing(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path, settle_seconds=60) as teams:

        async def outage(step: str) -> None:
            if step == "ambitions":  # the plenum and every group channel are posted to at once
                teams.fake.fail_next("*", status=503, times=5)
            if step == "smart_goals":  # throttled: Teams says when to come back
                teams.fake.fail_next("*", status=429, retry_after=1, times=2)

        await play(teams, SHORT, before=outage)

        failed = [c.status for c in teams.fake.calls if c.status >= 300]
        assert sorted(failed) == [429] * 2 + [503] * 5
        assert (await teams.download_plan()).status == 200  # the workshop got to its end
        # every message the bot meant to send arrived once, in the order it was written
        wanted, got = intended(teams), delivered(teams)
        assert set(got) == set(wanted)
        for conversation in wanted:
            assert got[conversation] == wanted[conversation], conversation
        assert teams.store.outbox.backlog() == 0 and teams.set_aside() == []


async def test_an_activity_sent_again_changes_nothing_and_posts_nothing_twice(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path) as teams:
        await play(teams, SHORT, until="ambitions_plenum")
        # a dot, sent twice: Teams re-sends an activity when the bot answered too slowly
        vote = await teams.press("Hanne", CHANNEL["S"], "vote", m="S-tilfredshed", level="medium")
        vote_card, _ = teams.find_button("Hanne", CHANNEL["S"], "vote", m="S-tilfredshed")
        drawn = teams.current(vote_card)
        mark = len(teams.fake.calls)
        await teams.send(vote)
        assert connector_calls(teams, mark) == []
        assert teams.current(vote_card) == drawn

        # `næste`, sent twice: one phase further, announced once
        command = await teams.say(F, PLENUM, "næste")
        headings = teams.headings(PLENUM)
        mark = len(teams.fake.calls)
        await teams.send(command)
        assert connector_calls(teams, mark) == []
        assert teams.headings(PLENUM) == headings
        assert headings.count("Fase 3 af 6: Plenum: enighed om ambitionsniveau og -sætning") == 1

        # a form sent twice: saved once; its card is drawn again just as it was (the turn that
        # saved it may have died before drawing it), and nothing new is posted
        await teams.press("Pia", PLENUM, "comment", m="G-kompetencer")
        await teams.fill("Pia", {"text": COMMENT})
        submitted = teams.sent[-1]
        card = teams.form("Pia")
        mark = len(teams.fake.calls)
        await teams.send(submitted)
        assert [call[0] for call in connector_calls(teams, mark)] == ["update"]
        assert teams.current(card).activity == card.activity
        assert plenum_card(teams, "agree", "G-kompetencer").count(COMMENT) == 1


OTHER_TENANT = "0badc0de-0000-4000-8000-00000000beef"


def from_other_tenant(activity: dict[str, Any]) -> dict[str, Any]:
    """The same activity, as it would come from a Teams tenant the workshop is not in."""
    moved = json.loads(json.dumps(activity))
    moved["channelData"]["tenant"] = {"id": OTHER_TENANT}
    moved["conversation"]["tenantId"] = OTHER_TENANT
    return moved


async def test_an_activity_from_another_tenant_cannot_see_or_change_the_workshop(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path) as teams:
        await play(teams, SHORT, until="ambitions_plenum")
        assert OTHER_TENANT != TENANT_ID
        vote_card, button = teams.find_button("Ib", CHANNEL["S"], "vote", m="S-tilfredshed", level="minimum")
        drawn = teams.current(vote_card)
        plenum_before = [(s.id, s.versions) for s in teams.messages(PLENUM)]

        # the facilitator's own id, a valid workshop id, a real button: but from another tenant
        for activity in (
            from_other_tenant(teams.fake.channel_message("status", person=person(F), channel=PLENUM)),
            from_other_tenant(teams.fake.channel_message("næste", person=person(F), channel=PLENUM)),
            from_other_tenant(teams.fake.card_submit(
                button["data"], reply_to_id=vote_card.id, conversation_id=f"{CHANNEL['S']};messageid={vote_card.id}",
                person=person("Ib"))),
            from_other_tenant(teams.fake.channel_message("handlingsplan", person=person(F), channel=PLENUM)),
        ):
            await teams.send(activity)

        assert teams.current(vote_card) == drawn
        assert [(s.id, s.versions) for s in teams.messages(PLENUM)] == plenum_before
        assert "Fase 2 af 6" not in " ".join(teams.dms(F)[-3:])  # no status of it was shown
        assert not any("Status – " in text or TITLE in text for text in teams.dms(F)[-3:])
        assert all("Der kører ingen ambitionsworkshop" in text for text in teams.dms(F)[-3:])
        assert "Der kører ingen ambitionsworkshop" in teams.dms("Ib")[-1]

        # and the workshop goes on for its own tenant as before
        await teams.say(F, PLENUM, "næste")
        assert "Fase 3 af 6: Plenum: enighed om ambitionsniveau og -sætning" in teams.headings(PLENUM)


async def test_after_a_restart_timers_and_the_next_phase_still_reach_every_channel(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path) as teams:
        await play(teams, SHORT, until="ambitions_plenum")  # phase 2 runs, its timers are armed
        tokens = len(teams.fake.token_requests)
        await teams.restart()

        # the 5-minute reminder, as the scheduler hands it to the service when it comes due:
        # nobody has written since the restart, so only the stored references can reach Teams
        with units(teams.store)() as uow:
            [ws] = uow.workshops.with_clock()
        [(timer, _, args)] = [t for t in phase_timers(ws) if t[2]["mark"] == "5"]
        before = {where: len(teams.messages(where)) for where in (PLENUM, *CHANNEL.values())}
        teams.runtime.service.handle(timer_fired(timer, args))
        await teams.settle()
        for where in (PLENUM, *CHANNEL.values()):
            assert len(teams.messages(where)) == before[where] + 1, where
            assert "minutter tilbage – fasen slutter kl." in teams.texts(where)
        assert "grupper er færdige" in teams.dms(F)[-1]
        assert len(teams.fake.token_requests) > tokens  # the new process got a token of its own

        await teams.say(F, PLENUM, "næste")
        phase3 = "Fase 3 af 6: Plenum: enighed om ambitionsniveau og -sætning"
        assert phase3 in teams.headings(PLENUM)
        await teams.press("Pia", PLENUM, "comment", m="E-energi")
        await teams.restart()
        await teams.press(F, PLENUM, "agree", m="E-energi")  # an old card works after a restart
        assert "✓ Vedtaget i plenum" in plenum_card(teams, "agree", "E-energi")
        # and a form card drawn before it is still answered on the card
        refused = await teams.fill("Pia", {"text": "  "})
        assert "⚠️ Udfyld venligst feltet." in refused.texts and refused.submits()
        assert (await teams.fill("Pia", {"text": COMMENT})).submits() == []
        assert f"Pia: {COMMENT}" in plenum_card(teams, "agree", "E-energi")
        assert teams.store.outbox.backlog() == 0 and teams.set_aside() == []


async def test_markup_a_participant_types_is_shown_literally_and_mentions_nobody(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path) as teams:
        # a typed message arrives as Teams' HTML text: the `<` someone typed comes as `&lt;`
        typed_title = "Fjordly " + HOSTILE.replace("<", "&lt;").replace(">", "&gt;")
        await play(teams, SHORT, title=typed_title, until="ambitions_plenum")
        setup = teams.messages(PLENUM)[0]
        assert setup.headings == [f"Ambitionsworkshop – Fjordly {HOSTILE}"]

        writer = PEOPLE_SHORT["E"][0]
        await teams.press(writer, CHANNEL["E"], "edit_ambition", m="E-energi")
        assert (await teams.fill(writer, {"sentence": HOSTILE})).submits() == []
        vote_card, _ = teams.find_button(writer, CHANNEL["E"], "vote", m="E-energi")
        await teams.say(F, PLENUM, "næste")
        await teams.press("Hanne", PLENUM, "comment", m="E-energi")
        assert (await teams.fill("Hanne", {"text": HOSTILE})).submits() == []

        agree_card, _ = teams.find_button(F, PLENUM, "agree", m="E-energi")
        for shown in (teams.current(setup), teams.current(vote_card), teams.current(agree_card)):
            assert HOSTILE in shown.texts  # a reader sees exactly what was typed ...
            for markup in ("<at>", "</at>", "**fed**", "[link](http://x)"):
                assert markup not in shown.markdown, markup  # ... because Teams never reads it as markup
        assert f"Hanne: {HOSTILE}" in teams.current(agree_card).texts
        assert never_mentions(teams)


async def test_a_specialist_named_by_mention_answers_in_their_own_chat_and_the_group_sees_it(
        tmp_path: Path) -> None:
    """Before the workshop: `@Ambition fagperson @Grete` in the plenum; Grete, who is not in
    the workshop, answers in her one-to-one chat with the bot, and group E reads her input
    when the group work starts."""
    async with TeamsWorkshop(tmp_path) as teams:
        await play(teams, SHORT, until="intro")
        await teams.say(F, PLENUM, "fagperson", mentions=["Grete"])
        assert (await teams.fill(F, {"measures": ["E-energi"]})).submits() == []
        [request] = teams.dms("Grete")
        assert "Dit input til ambitionsworkshoppen" in request and "Giv dit input" in request

        await teams.press("Grete", DM, "specialist_answer")
        assert (await teams.fill("Grete", {"situation": "Energimærker for 40 % af boligerne"})).submits() == []
        assert "Tak for dit input" in teams.dms("Grete")[0]  # the request card says so, in place

        await play(teams, SHORT, until="ambitions_plenum", new=False)
        shown = [m.texts for m in teams.messages(CHANNEL["E"]) if "Input fra fagperson Grete" in m.texts]
        assert len(shown) == 1 and "Energimærker for 40 % af boligerne" in shown[0]
        assert not [m for m in teams.messages(CHANNEL["S"]) if "Input fra fagperson" in m.texts]
        assert teams.store.outbox.backlog() == 0 and teams.set_aside() == []


# --- bugs these tests found, not fixed yet -------------------------------------------------


async def test_a_conversation_that_moved_to_another_service_url_is_written_to_there(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path) as teams:
        await teams.say(F, PLENUM, f"ny {TITLE}")  # the deliverer has written to the plenum
        # Teams may move a conversation to another Bot Connector address at any time; the bot
        # must write to the address of the newest activity (here: the fake under another name)
        moved = f"https://localhost:{teams.fake.port}/teams/"
        activity = teams.fake.channel_message("setup", person=person(F), channel=PLENUM)
        activity["serviceUrl"] = moved
        mark = len(teams.fake.calls)
        await teams.send(activity)  # `setup`: the setup card again, at the bottom of the plenum
        [post] = [c for c in teams.fake.calls[mark:] if c.route == "send" and c.conversation_id == PLENUM]
        assert post.headers["Host"] == f"localhost:{teams.fake.port}"


async def test_a_form_saved_while_teams_throttles_is_shown_saved_once_teams_is_back(tmp_path: Path) -> None:
    async with TeamsWorkshop(tmp_path) as teams:
        await play(teams, SHORT, until="break")  # phase 3: comments on the agree cards
        await teams.press("Pia", PLENUM, "comment", m="E-energi")
        # Teams throttles updates for about four seconds: longer than msrest's three retries
        # (a second apart, as Retry-After says) of the card's answer; the agree card's update
        # from the outbox takes its share of the refusals and is retried until it goes through
        teams.fake.fail_next("update", status=429, retry_after=1, times=8)
        await teams.fill("Pia", {"text": COMMENT})
        await teams.settle()
        assert f"Pia: {COMMENT}" in plenum_card(teams, "agree", "E-energi")  # it was saved
        if teams.form("Pia").submits():  # still offered, so Pia presses it again
            await teams.fill("Pia")
        assert plenum_card(teams, "agree", "E-energi").count(COMMENT) == 1
        assert teams.form("Pia").submits() == []


# --- helpers ------------------------------------------------------------------------------


def connector_calls(teams: TeamsWorkshop, mark: int) -> list[tuple[str, str, str]]:
    """(route, conversation, activity) of each Bot Connector call since `mark`, tokens aside."""
    return [(c.route, c.conversation_id, c.activity_id) for c in teams.fake.calls[mark:]
            if c.route not in ("token", "openid")]


def input_values(card: Shown) -> dict[str, str]:
    return {i["id"]: str(i.get("value", "")) for i in card.inputs()}


def plenum_card(teams: TeamsWorkshop, action: str, measure: str) -> str:
    shown, _ = teams.find_button(F, PLENUM, action, m=measure)
    return shown.texts


def thread_of(teams: TeamsWorkshop, code: str) -> str:
    """The thread the bot made in the plenum channel for group `code`: its opening post is
    the thread's name, "<workshop>-gruppe-<code>"."""
    [thread] = [conversation for (conversation, activity_id), posted in teams.fake.posted.items()
                if conversation == f"{PLENUM};messageid={activity_id}"
                and str(posted.activity.get("text", "")).endswith(f"-gruppe-{code.casefold()}")]
    return thread


def never_mentions(teams: TeamsWorkshop) -> bool:
    """No activity the bot sent carries a mention entity, in the activity or in a card."""
    for activity in teams.bot_activities():
        if any(e.get("type") == "mention" for e in activity.get("entities") or ()):
            return False
        for attachment in activity.get("attachments") or ():
            if "entities" in json.dumps((attachment.get("content") or {}).get("msteams") or {}):
                return False
    return True


async def play(teams: TeamsWorkshop, measures: tuple[str, ...],
               before: Callable[[str], Awaitable[None]] | None = None, until: str = "",
               channels: Mapping[str, str] = CHANNEL, new: bool = True, title: str = TITLE) -> None:
    """A short whole workshop, two people a group. `before(step)` runs before each step;
    with `until` it stops just before that step. `new=False`: the workshop exists already,
    with its målepunkter and its groups' `channels` (threads the bot made, say)."""
    people = PEOPLE_SHORT

    async def at(step: str) -> bool:
        if before is not None:
            await before(step)
        return step == until

    if await at("setup"):
        return
    if new:
        await teams.say(F, PLENUM, f"ny {title}")
        await teams.press(F, PLENUM, "setup_measures")
        assert (await teams.fill(F, {"measures": list(measures)})).submits() == []
        for code, channel in channels.items():
            await teams.say(F, channel, f"gruppe {code}")
    if await at("intro"):
        return
    await teams.press(F, PLENUM, "start")
    for code, names in people.items():
        for name in names:
            await teams.press(name, PLENUM, "interest", area=code)
    await teams.press(F, DM, "propose_split")
    await teams.press(F, PLENUM, "approve_split")
    if await at("ambitions"):
        return
    await teams.say(F, PLENUM, "næste")
    for measure in measures:
        code = area(measure)
        for name in people[code]:
            await teams.press(name, channels[code], "vote", m=measure, level="ambitious")
        await teams.press(people[code][0], channels[code], "edit_ambition", m=measure)
        assert (await teams.fill(people[code][0], {"sentence": SENTENCES[measure]})).submits() == []
    if await at("ambitions_plenum"):
        return
    await teams.say(F, PLENUM, "næste")
    for measure in measures:
        await teams.press(F, PLENUM, "agree", m=measure)
    if await at("break"):
        return
    await teams.say(F, PLENUM, "næste")
    if await at("smart_goals"):
        return
    await teams.say(F, PLENUM, "næste")
    for measure in measures:
        code = area(measure)
        await teams.press(people[code][1], channels[code], "add_goal", m=measure)
        assert (await teams.fill(people[code][1], goal(f"Et SMART-mål for {measure}"))).submits() == []
    if await at("goals_plenum"):
        return
    await teams.say(F, PLENUM, "næste")
    if await at("wrap_up"):
        return
    await teams.say(F, PLENUM, "næste")
    for goal_id in [args["goal"] for args in teams.buttons(F, PLENUM, "set_owner")]:
        await teams.press(F, PLENUM, "set_owner", goal=goal_id)
        assert (await teams.fill(F, {"owner": "Anders"})).submits() == []
    if await at("follow_up"):
        return
    await teams.say(F, PLENUM, "næste")


def intended(teams: TeamsWorkshop) -> Mapping[str, list[tuple[str, str]]]:
    """What the bot wrote to its outbox, per Teams conversation in order, as the Bot Connector
    calls it means: (route, the activity's summary)."""
    wanted: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with teams.store.sessions() as session:
        for lane, payload in session.execute(select(OutboxRow.lane, OutboxRow.payload).order_by(OutboxRow.id)):
            effect = loads(payload)
            conversation = lane.removeprefix("teams:")
            match effect:
                case Post(message=message):
                    wanted[conversation] += [("send", fallback_text(message))] * len(message_cards(message))
                case Update(message=message):
                    wanted[conversation].append(("update", fallback_text(message)))
                case PostPrivate(user=user, message=message) | Direct(user=user, message=message):
                    chat = teams.fake.personal_conversation_id(user.removeprefix("teams:"))
                    wanted[chat] += [("send", fallback_text(message))] * len(message_cards(message))
                case OpenForm(form=form):
                    form_card(form)  # it can be drawn
                    wanted[conversation].append(("send", form.title))
                case SendFile(message=message):
                    wanted[conversation].append(("send", fallback_text(message)))
                case CreateConversation():
                    wanted[conversation].append(("create", ""))
    return wanted


def delivered(teams: TeamsWorkshop) -> Mapping[str, list[tuple[str, str]]]:
    """The Bot Connector calls Teams took, per conversation in order. The answers drawn on a
    form card as it is submitted are made in the request, not from the outbox: left out."""
    forms = {activity_id for (conversation, activity_id), posted in teams.fake.posted.items()
             if Shown(conversation, activity_id, posted.versions[0], 0).is_form}
    got: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for call in teams.fake.calls:
        if call.status != 200 or call.route not in ("send", "update", "create"):
            continue
        if call.route == "update" and call.activity_id in forms:
            continue
        if call.route == "create":
            if (call.body.get("channelData") or {}).get("channel"):
                got[PLENUM].append(("create", ""))
            continue  # a 1:1 chat made for a private message is no message of its own
        got[call.conversation_id].append((call.route, str(call.body.get("summary", ""))))
    return got


async def test_follow_up_runs_in_the_owners_personal_chats(tmp_path: Path) -> None:
    """After the workshop: each owner's goals in their one-to-one chat with the bot, a
    reminder there after a restart, answered on the card, and a goal handed over to someone
    who says yes in their own chat."""
    async with TeamsWorkshop(tmp_path) as teams:
        await play(teams, SHORT)  # Anders owns every goal
        assert any("Du er ansvarlig for 3 SMART-mål" in text for text in teams.dms("Anders"))
        await teams.restart()

        # the check-in, as the scheduler hands it over when it comes due
        with units(teams.store)() as uow:
            [ws] = uow.workshops.following_up()
        goal = min(ws.goals.values(), key=lambda g: g.measure_id)
        [reminder] = [t for t in owed_timers(ws, teams.runtime.clock.now()) if t.args.get("goal") == goal.id]
        teams.runtime.service.handle(timer_fired(reminder.timer, reminder.args))
        await teams.settle()
        assert "Månedens opfølgning" in teams.dms("Anders")[-1]

        card, _ = teams.find_button("Anders", DM, "followup_status", goal=goal.id, status="in_progress")
        await teams.press("Anders", DM, "followup_status", goal=goal.id, status="in_progress")
        assert "Status: i gang" in teams.current(card).texts  # the card in his chat shows his answer

        await teams.press("Anders", DM, "followup_handover", goal=goal.id)
        assert (await teams.fill("Anders", {"to": "Hanne"})).submits() == []
        assert "vil gerne give dig dette SMART-mål" in teams.dms("Hanne")[-1]
        await teams.press("Hanne", DM, "followup_accept", goal=goal.id)
        with units(teams.store)() as uow:
            handed = uow.workshops.get(ws.id)
        assert handed is not None and handed.goals[goal.id].owner == "Hanne"
        assert "Tak! Du er nu ansvarlig for målet" in "\n".join(teams.dms("Hanne"))
        assert "givet videre til Hanne" in teams.current(card).texts  # Anders' old card says so

        # `mine mål` written in one's own chat with the bot, which belongs to no workshop
        before = len(teams.dms("Hanne"))
        await teams.dm("Hanne", "mine mål")
        assert [text for text in teams.dms("Hanne")[before:] if "Et SMART-mål for E-energi" in text]
        await teams.dm("Ib", "mine mål")
        assert "Du er ikke ansvarlig for nogen SMART-mål" in teams.dms("Ib")[-1]
        assert teams.store.outbox.backlog() == 0 and teams.set_aside() == []
