"""A whole ambitionsworkshop through Slack, end to end.

Signed requests go to the real `POST /slack/events`; the real service stores the workshop in
SQLite; the outbox dispatcher thread delivers through the real SlackDeliverer and slack_sdk to
a loopback fake of the Slack Web API. The assertions are about what people in Slack notice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from adapters.app import units
from adapters.slack.render import message_payloads
from bot.codec import loads
from bot.effects import Direct, Invite, OpenForm, Post, PostPrivate, SendFile, Update
from bot.events import timer_fired
from bot.flow.followup import owed_timers
from bot.store.tables import OutboxRow
from tests.e2e.slack_driver import Shown, SlackWorkshop, user_id
from tests.fakes.slack_api import TOKEN
from tests.harness import MEASURES

F = "Mette"  # the facilitator
PLENUM = "C-plenum"
CHANNEL = {"E": "C-E", "S": "C-S", "G": "C-G"}
GROUPS = {"E": ("Anders", "Birgitte", "Carsten"), "S": ("Hanne", "Ib", "Jonas"),
          "G": ("Maja", "Niels", "Pia")}
TITLE = "Boligselskabet Fjordly"
INJECTION = "<!channel>"
SENTENCES = {
    "E-energi": "Vi halverer energiforbruget i de ældste afdelinger inden 2035.",
    "E-co2": "Al varme og el er fossilfri, når vi runder 2035.",
    "S-tilfredshed": f"Alle beboere skal føle sig hørt og trives {INJECTION} – også de nye.",
    "S-udsaettelser": "Ingen bliver sat ud på grund af restance uden at have fået et tilbud om hjælp.",
    "G-kompetencer": "Organisationsbestyrelsen kan selv læse og udfordre en ESG-rapport.",
    "G-indkoeb": "Alle større indkøb vurderes på miljø og arbejdsforhold.",
}
PEOPLE_SHORT = {code: names[:2] for code, names in GROUPS.items()}
SHORT = ("E-energi", "S-tilfredshed", "G-kompetencer")
COMMENT = f"Godt mål! {INJECTION} hvad siger afdelingerne?"


def area(measure: str) -> str:
    return measure.partition("-")[0]


def in_the_future(years: int = 2) -> str:
    """A deadline as Slack's datepicker sends it: YYYY-MM-DD."""
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


def calls_since(slack: SlackWorkshop, mark: int) -> list[tuple[str, dict]]:
    return [(c.method, c.params) for c in slack.fake.calls[mark:]]


def posts_in(slack: SlackWorkshop, channel: str) -> int:
    return sum(1 for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == channel)


async def test_a_whole_workshop_runs_through_slack(tmp_path: Path) -> None:
    async with SlackWorkshop(tmp_path) as slack:
        # --- setup: the card in the plenum, målepunkter picked in a modal -----------------
        await slack.command(F, PLENUM, f"ny {TITLE}")
        card = slack.newest(PLENUM)
        assert card.blocks[0] == {"type": "header", "text": {"type": "plain_text", "text":
                                                              f"Ambitionsworkshop – {TITLE}"}}
        assert {"section", "context", "actions"} <= {b["type"] for b in card.blocks}
        assert all(card.button(action, {}) for action in ("setup_details", "setup_measures",
                                                           "setup_why", "setup_agenda", "start"))
        assert len(slack.ephemerals(F, PLENUM)) == 1  # "the workshop is created", to Mette only

        await slack.press(F, PLENUM, "setup_measures")
        modal = slack.form(F).view
        assert modal["type"] == "modal" and modal["callback_id"] == "measures"
        assert await slack.fill(F, {"measures": list(MEASURES)}) == {}
        assert slack.newest(PLENUM).ts == card.ts  # the card was edited, not posted again
        assert "Ansvarlige indkøb" in slack.texts(PLENUM)

        for code, channel in CHANNEL.items():
            await slack.command(F, channel, f"gruppe {code}")
            assert f"Gruppe {code}" in slack.texts(channel)
        assert "mangler kanal" not in slack.newest(PLENUM).texts  # the card again, in place
        assert posts_in(slack, PLENUM) == 1

        # --- phase 1: introduction and the split into groups -------------------------------
        await slack.press(F, PLENUM, "start")
        assert "Fase 1 af 6: Introduktion og gruppeopdeling" in headers(slack, PLENUM)
        for code, people in GROUPS.items():
            for name in people:
                await slack.press(name, PLENUM, "interest", area=code)
        await slack.press(F, PLENUM, "propose_split")  # a button only Mette was shown
        await slack.press(F, PLENUM, "approve_split")
        for code, people in GROUPS.items():
            welcome = slack.newest(CHANNEL[code]).texts
            assert all(name in welcome for name in people), welcome

        # --- phase 2: dots and ambition sentences in the group channels --------------------
        await slack.command(F, PLENUM, "næste")
        assert "Fase 2 af 6: Gruppearbejde: ambitionsniveau og ambitionssætning" in headers(slack, PLENUM)
        for code, channel in CHANNEL.items():
            assert "Fase 2 af 6: Gruppearbejde: ambitionsniveau og ambitionssætning" in headers(slack, channel)
            voted_on = {args["m"] for args in slack.buttons(GROUPS[code][0], channel, "vote")}
            assert voted_on == {m for m in MEASURES if area(m) == code}

        # a dot changes the vote card where it stands
        vote_card, _ = slack.find_button("Anders", "C-E", "vote", m="E-energi", level="medium")
        posted = posts_in(slack, "C-E")
        mark = len(slack.fake.calls)
        await slack.press("Anders", "C-E", "vote", m="E-energi", level="medium")
        [(method, params)] = calls_since(slack, mark)
        assert (method, params["channel"], params["ts"]) == ("chat.update", "C-E", vote_card.ts)
        assert posts_in(slack, "C-E") == posted
        assert "Mellem · 1" in shown_now(slack, vote_card).texts

        for code, people in GROUPS.items():
            for measure in (m for m in MEASURES if area(m) == code):
                for number, name in enumerate(people):
                    if (name, measure) != ("Anders", "E-energi"):
                        level = ("medium", "ambitious", "medium")[number]
                        await slack.press(name, CHANNEL[code], "vote", m=measure, level=level)

        # a participant asking for the next phase: told so privately, nobody else hears of it
        mark = len(slack.fake.calls)
        await slack.command("Jonas", "C-S", "næste")
        [(method, params)] = calls_since(slack, mark)
        assert (method, params["channel"], params["user"]) == ("chat.postEphemeral", "C-S", user_id("Jonas"))
        assert "Det er kun tovholderen, der kan gå videre til næste fase" in slack.ephemerals("Jonas", "C-S")[-1]

        # an empty ambition sentence comes back inline in the modal; the fixed one closes it
        await slack.press("Anders", "C-E", "edit_ambition", m="E-energi")
        mark = len(slack.fake.calls)
        refused = await slack.fill("Anders", {"sentence": "   "})
        assert refused == {"response_action": "errors", "errors": {"sentence": "Udfyld venligst feltet."}}
        assert calls_since(slack, mark) == []  # nothing was posted or changed
        assert await slack.fill("Anders", {"sentence": SENTENCES["E-energi"]}) == {}
        assert SENTENCES["E-energi"] in shown_now(slack, vote_card).texts

        writers = {"E-co2": "Carsten", "S-tilfredshed": "Hanne", "S-udsaettelser": "Ib",
                   "G-kompetencer": "Maja", "G-indkoeb": "Niels"}
        for measure, name in writers.items():
            await slack.press(name, CHANNEL[area(measure)], "edit_ambition", m=measure)
            assert await slack.fill(name, {"sentence": SENTENCES[measure]}) == {}

        # --- phase 3: the plenum agrees -----------------------------------------------------
        await slack.command(F, PLENUM, "næste")
        assert "Fase 3 af 6: Plenum: enighed om ambitionsniveau og -sætning" in headers(slack, PLENUM)
        await slack.press("Pia", PLENUM, "comment", m="S-udsaettelser")
        assert await slack.fill("Pia", {"text": COMMENT}) == {}
        assert "Pia: Godt mål! &lt;!channel&gt; hvad siger afdelingerne?" in plenum_card(slack, "agree", "S-udsaettelser")

        # a participant pressing the facilitator's button: a private refusal, the card unchanged
        mark = len(slack.fake.calls)
        await slack.press("Pia", PLENUM, "agree", m="G-indkoeb")
        [(method, params)] = calls_since(slack, mark)
        assert (method, params["channel"], params["user"]) == ("chat.postEphemeral", PLENUM, user_id("Pia"))
        assert "Det er kun tovholderen, der kan markere enighed" in slack.ephemerals("Pia", PLENUM)[-1]
        assert "Afventer enighed i plenum" in plenum_card(slack, "agree", "G-indkoeb")

        for measure in MEASURES:
            await slack.press(F, PLENUM, "agree", m=measure)
            assert "✓ Vedtaget i plenum" in plenum_card(slack, "agree", measure)

        # --- the break, then phase 4: SMART goals in the groups -----------------------------
        await slack.command(F, PLENUM, "næste")
        assert "Pause" in headers(slack, PLENUM)
        await slack.command(F, PLENUM, "næste")
        assert "Fase 4 af 6: Gruppearbejde: SMART-mål" in headers(slack, PLENUM)

        # a deadline in the past is refused under the datepicker; a future one is taken
        await slack.press("Birgitte", "C-E", "add_goal", m="E-energi")
        refused = await slack.fill("Birgitte", {**GOALS[1][2], "deadline": "2020-01-01"})
        assert refused["response_action"] == "errors" and list(refused["errors"]) == ["deadline"]
        assert "allerede overskredet" in refused["errors"]["deadline"]
        assert await slack.fill("Birgitte", {"deadline": GOALS[1][2]["deadline"]}) == {}

        for name, measure, values in GOALS:
            if name != "Birgitte":
                await slack.press(name, CHANNEL[area(measure)], "add_goal", m=measure)
                assert await slack.fill(name, values) == {}
        goal_cards = [s for code in CHANNEL.values() for s in slack.messages(code)
                      if s.button("support_goal", {})]
        assert len(goal_cards) == len(GOALS)
        deadline = date.fromisoformat(in_the_future()).strftime("%d.%m.%Y")
        assert all(deadline in card.texts for card in goal_cards)
        solar = await slack.press("Anders", "C-E", "support_goal")  # the newest: Carsten's
        assert "Skrevet af Carsten · bakket op af Anders" in shown_now(slack, solar).texts
        assert "Vi står inde for målet · 1" in shown_now(slack, solar).texts

        # --- phase 5: the goals are presented; phase 6: owners ------------------------------
        await slack.command(F, PLENUM, "næste")
        assert "Fase 5 af 6: Plenum: præsentation af SMART-mål" in headers(slack, PLENUM)
        await slack.command(F, PLENUM, "næste")
        assert "Fase 6 af 6: Opsamling, overlevering og næste skridt" in headers(slack, PLENUM)
        owners: dict[str, str] = {}
        goal_ids = [args["goal"] for args in slack.buttons(F, PLENUM, "set_owner")]
        assert len(goal_ids) == len(GOALS)
        everyone = [name for group in GROUPS.values() for name in group]
        for number, goal_id in enumerate(goal_ids):
            owner = everyone[number % len(everyone)]
            await slack.press(F, PLENUM, "set_owner", goal=goal_id)
            assert slack.form(F).view["callback_id"] == "owner"
            assert await slack.fill(F, {"owner": owner, "next_step": f"Oplæg til bestyrelsen ({owner})"}) == {}
            owners[goal_id] = owner
        assert f"{len(GOALS)}/{len(GOALS)}" in slack.texts(PLENUM)  # the progress, edited in place

        # --- the end: the plan, as a message and as a file in the plenum --------------------
        await slack.command(F, PLENUM, "næste")
        plan = next(s for s in reversed(slack.messages(PLENUM)) if f"Handlingsplan – {TITLE}" in s.headers)
        assert all(g["text"] in plan.texts for _, _, g in GOALS)
        [done] = slack.fake.calls_to("files.completeUploadExternal")
        assert done.params["channel_id"] == PLENUM
        assert done.params["initial_comment"] == "Handlingsplanen som Excel-fil."
        [(title, data)] = slack.uploads(PLENUM)
        assert title.endswith(".xlsx")
        sheet = load_workbook(BytesIO(data))["Handlingsplan"]
        header, *rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
        goal_column, owner_column = header.index("SMART-mål"), header.index("Ansvarlig")
        assert len(rows) == len(GOALS)
        assert sorted(r[goal_column] for r in rows) == sorted(g["text"] for _, _, g in GOALS)
        assert sorted(r[owner_column] for r in rows) == sorted(owners.values())

        # --- what held all along ------------------------------------------------------------
        calls = slack.api_calls()
        leaked = [c.method for c in calls if INJECTION in json.dumps(c.params, ensure_ascii=False)]
        assert leaked == []  # typed twice, shown as typed, never a ping
        assert any("&lt;!channel&gt;" in json.dumps(c.params, ensure_ascii=False) for c in calls)
        assert all(c.headers.get("Authorization") == f"Bearer {TOKEN}" for c in calls)
        assert [(c.method, c.status, c.error) for c in slack.fake.calls if c.status != 200 or c.error] == []
        assert slack.store.outbox.backlog() == 0 and slack.set_aside() == []


async def test_a_slack_outage_in_the_middle_delays_the_workshop_but_loses_nothing(tmp_path: Path) -> None:
    async with SlackWorkshop(tmp_path, settle_seconds=120) as slack:

        async def outage(step: str) -> None:
            if step == "ambitions":  # the plenum and every group channel are posted to at once
                slack.fake.fail_next("chat.postMessage", status=503, times=5)

        await play(slack, SHORT, before=outage)

        assert sum(1 for c in slack.fake.calls_to("chat.postMessage") if c.status == 503) == 5
        assert len(slack.uploads(PLENUM)) == 1  # the workshop got to its end: the plan
        # every message the bot meant to send arrived once, in the order it was written
        wanted, got = intended(slack), delivered(slack)
        assert set(got) == set(wanted)
        for channel in wanted:
            assert got[channel] == wanted[channel], channel
        assert slack.store.outbox.backlog() == 0 and slack.set_aside() == []


async def test_a_workshop_runs_over_socket_mode_without_a_public_url(tmp_path: Path) -> None:
    async with SlackWorkshop(tmp_path, socket_mode=True) as slack:
        assert (await slack.client.post("/slack/events", data="{}")).status == 404  # no endpoint

        async def hostile_input(step: str) -> None:
            if step == "ambitions_plenum":  # a modal's errors travel back in the socket's ack
                writer = PEOPLE_SHORT["E"][0]
                await slack.press(writer, "C-E", "edit_ambition", m="E-energi")
                refused = await slack.fill(writer, {"sentence": " "})
                assert refused == {"response_action": "errors",
                                   "errors": {"sentence": "Udfyld venligst feltet."}}
                assert await slack.fill(writer, {"sentence": SENTENCES["E-energi"]}) == {}

        await play(slack, SHORT, before=hostile_input)

        [opened] = slack.fake.calls_to("apps.connections.open")
        assert opened.headers["Authorization"] == "Bearer xapp-test"  # the app-level token
        assert len(slack.uploads(PLENUM)) == 1  # the workshop got to its end: the plan
        assert slack.store.outbox.backlog() == 0 and slack.set_aside() == []


# --- bugs these tests found, fixed -------------------------------------------------------


async def test_the_owner_modal_opened_again_shows_the_owners_name(tmp_path: Path) -> None:
    async with SlackWorkshop(tmp_path) as slack:
        await play(slack, SHORT, until="follow_up")  # every goal has Anders as its owner
        goal_id = slack.buttons(F, PLENUM, "set_owner")[0]["goal"]
        await slack.press(F, PLENUM, "set_owner", goal=goal_id)
        owner = slack.form(F).view["blocks"]
        [initial] = [b["element"].get("initial_value") for b in owner if b.get("block_id") == "owner"]
        assert initial == "Anders"


async def test_adding_the_bot_to_a_group_channel_does_not_make_it_a_participant(tmp_path: Path) -> None:
    async with SlackWorkshop(tmp_path) as slack:
        await play(slack, SHORT, until="ambitions")  # the split is approved
        # e.g. `/ambition gruppe G` was typed before @Ambition was invited to the channel
        await slack.joined(None, "C-G")
        welcome = next(s for s in slack.messages("C-G") if "Gruppe G (Governance)" in s.headers)
        assert "UBOT" not in welcome.texts
        await slack.command(F, PLENUM, "næste")
        vote_card = slack.newest("C-G")
        assert "0 af 2 har sat en prik" in vote_card.texts, vote_card.texts


# --- helpers ------------------------------------------------------------------------------


def headers(slack: SlackWorkshop, channel: str) -> list[str]:
    return [text for shown in slack.messages(channel) for text in shown.headers]


def shown_now(slack: SlackWorkshop, message: Shown) -> Shown:
    """`message` as its channel shows it now."""
    return next(s for s in slack.messages(message.channel) if s.ts == message.ts)


def plenum_card(slack: SlackWorkshop, action: str, measure: str) -> str:
    shown, _ = slack.find_button(F, PLENUM, action, m=measure)
    return shown.texts


async def play(slack: SlackWorkshop, measures: tuple[str, ...],
               before: Callable[[str], Awaitable[None]] | None = None, until: str = "") -> None:
    """A short whole workshop, two people a group. `before(step)` runs before each step;
    with `until` it stops just before that step."""
    people = PEOPLE_SHORT

    async def at(step: str) -> bool:
        if before is not None:
            await before(step)
        return step == until

    if await at("setup"):
        return
    await slack.command(F, PLENUM, f"ny {TITLE}")
    await slack.press(F, PLENUM, "setup_measures")
    assert await slack.fill(F, {"measures": list(measures)}) == {}
    for code, channel in CHANNEL.items():
        await slack.command(F, channel, f"gruppe {code}")
    if await at("intro"):
        return
    await slack.press(F, PLENUM, "start")
    for code, names in people.items():
        for name in names:
            await slack.press(name, PLENUM, "interest", area=code)
    await slack.press(F, PLENUM, "propose_split")
    await slack.press(F, PLENUM, "approve_split")
    if await at("ambitions"):
        return
    await slack.command(F, PLENUM, "næste")
    for measure in measures:
        code = area(measure)
        for name in people[code]:
            await slack.press(name, CHANNEL[code], "vote", m=measure, level="ambitious")
        await slack.press(people[code][0], CHANNEL[code], "edit_ambition", m=measure)
        assert await slack.fill(people[code][0], {"sentence": SENTENCES[measure]}) == {}
    if await at("ambitions_plenum"):
        return
    await slack.command(F, PLENUM, "næste")
    for measure in measures:
        await slack.press(F, PLENUM, "agree", m=measure)
    if await at("break"):
        return
    await slack.command(F, PLENUM, "næste")
    if await at("smart_goals"):
        return
    await slack.command(F, PLENUM, "næste")
    for measure in measures:
        code = area(measure)
        await slack.press(people[code][1], CHANNEL[code], "add_goal", m=measure)
        assert await slack.fill(people[code][1], goal(f"Et SMART-mål for {measure}")) == {}
    if await at("goals_plenum"):
        return
    await slack.command(F, PLENUM, "næste")
    if await at("wrap_up"):
        return
    await slack.command(F, PLENUM, "næste")
    for goal_id in [args["goal"] for args in slack.buttons(F, PLENUM, "set_owner")]:
        await slack.press(F, PLENUM, "set_owner", goal=goal_id)
        assert await slack.fill(F, {"owner": "Anders"}) == {}
    if await at("follow_up"):
        return
    await slack.command(F, PLENUM, "næste")


def intended(slack: SlackWorkshop) -> Mapping[str, list[tuple[str, str]]]:
    """What the bot wrote to its outbox, per channel in order, as the Slack calls it means."""
    wanted: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with slack.store.sessions() as session:
        for lane, payload in session.execute(select(OutboxRow.lane, OutboxRow.payload).order_by(OutboxRow.id)):
            effect = loads(payload)
            channel = lane.removeprefix("slack:")
            match effect:
                case Post(message=message):
                    wanted[channel] += [("chat.postMessage", p["text"]) for p in message_payloads(message)]
                case Update(message=message):
                    wanted[channel].append(("chat.update", message_payloads(message)[0]["text"]))
                case PostPrivate(message=message):
                    wanted[channel] += [("chat.postEphemeral", p["text"]) for p in message_payloads(message)]
                case Direct(user=user, message=message):  # posted to the user id: their chat with the app
                    wanted[user.removeprefix("slack:")] += [("chat.postMessage", p["text"])
                                                            for p in message_payloads(message)]
                case OpenForm():
                    wanted[channel].append(("views.open", ""))
                case SendFile():
                    wanted[channel].append(("files.completeUploadExternal", ""))
                case Invite():
                    wanted[channel].append(("conversations.invite", ""))
    return wanted


def delivered(slack: SlackWorkshop) -> Mapping[str, list[tuple[str, str]]]:
    """The Web API calls Slack took, per channel in order (a modal counts where it was opened)."""
    got: dict[str, list[tuple[str, str]]] = defaultdict(list)
    opened_in = {}
    for call in slack.fake.calls_to("views.open", ok_only=True):
        meta = json.loads(call.params["view"]["private_metadata"])
        opened_in[call.params["trigger_id"]] = meta["conversation"].removeprefix("slack:")
    for call in slack.fake.calls:
        if call.status != 200 or call.error or call.method in (  # what reads, shows nothing
                "auth.test", "users.info", "upload", "files.getUploadURLExternal",
                "conversations.history", "conversations.open"):
            continue
        if call.method == "views.open":
            got[opened_in[call.params["trigger_id"]]].append(("views.open", ""))
        elif call.method == "files.completeUploadExternal":
            got[call.params["channel_id"]].append((call.method, ""))
        elif call.method == "conversations.invite":
            got[call.params["channel"]].append((call.method, ""))
        else:
            got[call.params["channel"]].append((call.method, call.params["text"]))
    return got


async def test_a_specialist_named_by_mention_answers_in_their_direct_messages_and_the_group_sees_it(
        tmp_path: Path) -> None:
    """Before the workshop: `/ambition fagperson @Grete` (Slack sends the mention escaped);
    Grete, who is in no channel of the workshop, answers in her direct messages with the app,
    and group E reads her input when the group work starts."""
    grete = user_id("Grete")

    async def before(step: str) -> None:
        if step != "intro":
            return
        await slack.command(F, PLENUM, f"fagperson <@{grete}|grete>")
        assert await slack.fill(F, {"measures": ["E-energi"]}) == {}
        assert "Dit input til ambitionsworkshoppen" in slack.texts(grete)
        await slack.press("Grete", grete, "specialist_answer")
        assert await slack.fill("Grete", {"situation": "Energimærker for 40 % af boligerne"}) == {}
        assert "Tak for dit input" in slack.texts(grete)

    async with SlackWorkshop(tmp_path) as slack:
        await play(slack, SHORT, before, until="ambitions_plenum")
        group_e, group_s = ("\n".join(m.texts for m in slack.messages(CHANNEL[code])) for code in "ES")
        assert "Input fra fagperson" in group_e and "Energimærker for 40 % af boligerne" in group_e
        assert "Input fra fagperson" not in group_s


async def test_follow_up_runs_in_the_owners_direct_messages(tmp_path: Path) -> None:
    """After the workshop: each owner's goals in their direct messages with the app, a
    reminder there, answered on the card, and a goal handed over to someone who says yes in
    their own direct messages."""
    async with SlackWorkshop(tmp_path) as slack:
        await play(slack, SHORT)  # Anders owns every goal
        anders, hanne = user_id("Anders"), user_id("Hanne")
        assert "Du er ansvarlig for 3 SMART-mål" in "\n".join(s.texts for s in slack.messages(anders))

        with units(slack.store)() as uow:
            [ws] = uow.workshops.following_up()
        goal = min(ws.goals.values(), key=lambda g: g.measure_id)
        [reminder] = [t for t in owed_timers(ws, slack.runtime.clock.now()) if t.args.get("goal") == goal.id]
        slack.runtime.service.handle(timer_fired(reminder.timer, reminder.args))
        await slack.settle()
        assert "Månedens opfølgning" in slack.texts(anders)

        card = await slack.press("Anders", anders, "followup_status", goal=goal.id, status="in_progress")
        [now] = [s for s in slack.messages(anders) if s.ts == card.ts]
        assert "i gang" in now.texts.split("Status")[1].split("\n")[1]  # his answer, on the card

        await slack.press("Anders", anders, "followup_handover", goal=goal.id)
        assert await slack.fill("Anders", {"to": "Hanne"}) == {}
        assert "vil gerne give dig dette SMART-mål" in slack.texts(hanne)
        await slack.press("Hanne", hanne, "followup_accept", goal=goal.id)
        with units(slack.store)() as uow:
            handed = uow.workshops.get(ws.id)
        assert handed is not None and handed.goals[goal.id].owner == "Hanne"
        assert "Tak! Du er nu ansvarlig for målet" in slack.texts(hanne)
        [old] = [s for s in slack.messages(anders) if s.ts == card.ts]
        assert "givet videre til Hanne" in old.texts
        assert slack.store.outbox.backlog() == 0 and slack.set_aside() == []
