"""The Slack renderer: real engine messages against golden Block Kit files, Slack's limits,
escaping of what participants type, and the round trips of buttons and modals.

`UPDATE_GOLDEN=1 pytest tests/adapters/slack` (re)writes the golden files; read the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block as SlackBlock
from slack_sdk.models.views import View

from adapters.slack.render import (
    button_value,
    escape,
    form_errors,
    form_values,
    message_payloads,
    modal,
    parse_button,
)
from bot import catalog
from bot.domain.model import Ambition, AmbitionStatus, Level, SmartGoal, Workshop
from bot.effects import Effect, OpenForm, Post, PostPrivate, Update
from bot.events import FormSubmitted
from bot.i18n import Translator
from bot.plan.summary import plan_message
from bot.ui import (
    Button,
    Buttons,
    FieldKind,
    Fields,
    Form,
    FormField,
    Heading,
    Message,
    Moment,
    Note,
    Progress,
    Text,
)
from tests.harness import FACILITATOR, GOAL, Room, actor

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
HOSTILE = "<!channel> <!here> <@U0123ABC> & <https://evil.example|klik her> @here *fed*"
HOSTILE_GOAL = {**GOAL, "text": f"{HOSTILE} – energirenovere 120 boliger i Fjordparken",
                "indicator": "Tilfredshed i % <!subteam^S1>", "target": "80 % > 75 %"}

Scene = Message | Form


# -- the real messages --------------------------------------------------------------------
def _last(room: Room, match: Callable[[Effect], bool]) -> Effect:
    return next(e for e in reversed(room.effects) if match(e))


def _message(room: Room, match: Callable[[Message], bool]) -> Message:
    effect = _last(room, lambda e: isinstance(e, (Post, Update, PostPrivate)) and match(e.message))
    return effect.message


def _headed(prefix: str) -> Callable[[Message], bool]:
    return lambda m: bool(m.blocks) and isinstance(m.blocks[0], Heading) \
        and m.blocks[0].text.startswith(prefix)


def _setup_scenes() -> dict[str, Scene]:
    room = Room()
    room.set_up()
    scenes: dict[str, Scene] = {"setup_card": _message(room, _headed("Ambitionsworkshop"))}
    for button, name in (("setup_details", "details_form"), ("setup_measures", "measures_form"),
                         ("setup_agenda", "agenda_form")):
        room.press(FACILITATOR, "plenum", button)
        scenes[name] = room.form(FACILITATOR).form
    return scenes


def _workshop_scenes() -> dict[str, Scene]:
    room = Room()
    room.to_smart_goals()
    scenes: dict[str, Scene] = {
        "phase_announcement": _last(room, lambda e: isinstance(e, Post) and e.conversation == "E"
                                    and _headed("Fase 4")(e.message)).message,
        "vote_card": _last(room, lambda e: isinstance(e, Update) and e.key == "vote:E-energi").message,
        "ambition_form": _last(room, lambda e: isinstance(e, OpenForm)
                               and e.form.form == "ambition").form,
    }
    room.add_goal("Anders", "E", "E-energi")
    scenes["goal_card"] = _message(room, _headed("SMART-mål 1"))
    room.press("Anders", "E", "edit_goal")
    scenes["goal_form"] = room.form("Anders").form  # an edit: every field has a value
    room.add_goal("Hanne", "S", "S-tilfredshed", HOSTILE_GOAL)
    scenes["hostile_text"] = _message(room, _headed("SMART-mål 1: Beboernes tilfredshed"))
    room.say(FACILITATOR, "plenum", "status")
    scenes["status"] = _message(room, _headed("Status"))
    room.say(FACILITATOR, "plenum", "help")
    scenes["help"] = _message(room, _headed("Kommandoer"))
    refused = room.say("Anders", "plenum", "next")
    scenes["refusal"] = refused.effects[0].message
    room.advance(60)
    scenes["time_up_choice"] = _message(room, _headed("Tiden er gået"))
    room.say(FACILITATOR, "plenum", "next")
    room.say(FACILITATOR, "plenum", "next")
    assert room.ws.phase == "wrap_up", room.replies()
    goal = next(g.id for g in room.ws.goals.values() if g.measure_id == "E-energi")
    room.press("Anders", "plenum", "set_owner", goal=goal)
    room.fill("Anders", {"owner": "Anders", "next_step": "Oplæg til afdelingsbestyrelsen i marts"})
    room.press("Anders", "plenum", "set_owner", goal=goal)
    scenes["owner_form"] = room.form("Anders").form  # the owner is held as a member id
    room.say(FACILITATOR, "plenum", "plan")
    scenes["plan_summary"] = _message(room, _headed("Handlingsplan"))
    scenes["plan_full"] = plan_message(_full(room.ws), Translator("da"))
    return scenes


def _full(ws: Workshop) -> Workshop:
    """The workshop at its largest: nine målepunkter with three SMART goals each. Its plan
    has more blocks than one Slack message holds."""
    extra = ("E-vand", "S-tryghed", "G-whistleblower")
    measures = dict(ws.measures)
    for position, measure_id in enumerate(extra, start=len(measures) + 1):
        measures[measure_id] = catalog.by_id()[measure_id].to_measure("da", position)
    ambitions = dict(ws.ambitions) | {
        m: Ambition(measure_id=m, level=Level.AMBITIOUS, sentence=f"Ambition for {m}",
                    status=AmbitionStatus.AGREED) for m in extra}
    goals = {f"{m}-{n}": SmartGoal(id=f"{m}-{n}", measure_id=m, number=n,
                                   text=f"Mål {n} for {measures[m].name}", indicator="Antal",
                                   baseline="10", target=str(10 + n), deadline=date(2028, 12, 31),
                                   owner="Mette" if n == 1 else "", next_step="Et oplæg")
             for m in measures for n in (1, 2, 3)}
    return replace(ws, measures=measures, ambitions=ambitions, goals=goals)


@pytest.fixture(scope="module")
def scenes() -> dict[str, Scene]:
    return _setup_scenes() | _workshop_scenes()


NAMES = ("setup_card", "details_form", "measures_form", "agenda_form", "phase_announcement",
         "vote_card", "ambition_form", "goal_card", "goal_form", "hostile_text", "status", "help",
         "refusal", "time_up_choice", "owner_form", "plan_summary", "plan_full")


def _render(scene: Scene) -> Any:
    return modal(scene) if isinstance(scene, Form) else message_payloads(scene)


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, scenes: dict[str, Scene]) -> None:
    rendered = _render(scenes[name])
    _check_valid(rendered)
    text = json.dumps(rendered, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1 and read it"
    assert text == path.read_text(encoding="utf-8"), f"{name} renders differently from {path.name}"


def test_every_golden_file_is_rendered() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(NAMES)


def test_the_hostile_goal_is_shown_not_triggered(scenes: dict[str, Scene]) -> None:
    [payload] = message_payloads(scenes["hostile_text"])
    mrkdwn = list(_mrkdwn_texts(payload["blocks"]))
    assert any("&lt;!channel&gt; &lt;!here&gt; &lt;@U0123ABC&gt; &amp; "
               "&lt;https://evil.example|klik her&gt;" in t for t in mrkdwn)
    assert any("&lt;!subteam^S1&gt;" in t for t in mrkdwn)
    assert any("80 % &gt; 75 %" in t for t in mrkdwn)
    _assert_inert(payload)


def test_the_largest_plan_is_split_before_an_area(scenes: dict[str, Scene]) -> None:
    message = scenes["plan_full"]
    assert len(message.blocks) > 50
    first, second = message_payloads(message)
    assert len(first["blocks"]) + len(second["blocks"]) == len(message.blocks)
    assert second["blocks"][0] == {"type": "header",
                                   "text": {"type": "plain_text", "text": "G – Governance"}}
    assert (first["text"], second["text"]) == ("Handlingsplan – Boligselskabet Fjordly (1/2)",
                                               "Handlingsplan – Boligselskabet Fjordly (2/2)")


def test_the_owner_form_shows_the_owners_name(scenes: dict[str, Scene]) -> None:
    """The owner is shown by name, as people wrote it; the engine matches the name back to the
    member when the form comes back."""
    view = modal(scenes["owner_form"])
    owner = next(b for b in view["blocks"] if b.get("block_id") == "owner")
    assert owner["element"]["type"] == "plain_text_input"
    assert owner["element"]["initial_value"] == "Anders"


# -- validity -----------------------------------------------------------------------------
def _check_valid(rendered: Any) -> None:
    if isinstance(rendered, dict):  # a modal view
        assert View(**rendered).to_dict() == rendered
        return
    assert rendered, "a message renders to at least one payload"
    for payload in rendered:
        _check_payload(payload)


def _check_payload(payload: dict[str, Any]) -> None:
    """Within Slack's limits, and exactly what slack_sdk's models make of it (which
    validates each block, element and text object on the way)."""
    assert set(payload) == {"blocks", "text"}
    assert 0 < len(payload["text"]) <= 3000
    assert 0 < len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        assert SlackBlock.parse(block).to_dict() == block
        assert len(block.get("text", {}).get("text", "")) <= 3000
        assert len(block.get("fields", [])) <= 10
        assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        assert len(block.get("elements", [])) <= 25
    _assert_inert(payload)


def _mrkdwn_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mrkdwn_texts(value)


DATE_TOKEN = re.compile(r"<!date\^\d+\^\{time\}\|[0-9:.apm ]+>")


def _assert_inert(payload: Any) -> None:
    """No mrkdwn the renderer writes can mention, link or be auto-parsed: the only markup is
    the date token that shows a time in each reader's own time zone."""
    for text in _mrkdwn_texts(payload):
        bare = DATE_TOKEN.sub("", text)
        assert "<" not in bare and ">" not in bare, text


def test_a_time_in_a_text_reads_in_each_readers_own_time_zone() -> None:
    at = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    message = Message((Text("Fasen slutter kl. 09:30.", (Moment(at, "09:30"),)),
                       Note("<!date^1^{time}|x> typed by someone"),))
    [payload] = message_payloads(message)
    section, note = payload["blocks"]
    assert section["text"]["text"] == f"Fasen slutter kl. <!date^{int(at.timestamp())}^{{time}}|09:30>."
    assert note["elements"][0]["text"].startswith("&lt;!date^1^{time}|x&gt;")  # typed: shown, not a token
    assert all(node_verbatim for node_verbatim in _verbatim_flags(payload))


def _verbatim_flags(node: Any) -> Iterator[bool]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node.get("verbatim") is True
        for value in node.values():
            yield from _verbatim_flags(value)
    elif isinstance(node, list):
        for value in node:
            yield from _verbatim_flags(value)


# -- escaping -----------------------------------------------------------------------------
def test_escape() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert escape("&amp;") == "&amp;amp;"  # typed entities are shown as typed
    assert escape("æøå »citat« – ✓") == "æøå »citat« – ✓"


def test_every_kind_of_block_escapes() -> None:
    message = Message((Heading("<!here>" + "x" * 150), Text("<!channel> & co"),
                       Fields((("<@U1>", "<!everyone>"),)), Note("<#C1>"), Progress("<@U2>", 1, 2),
                       Buttons((Button("<!channel>", "a"),))), summary="<!channel> ping")
    [payload] = message_payloads(message)
    _check_payload(payload)
    assert payload["text"] == "&lt;!channel&gt; ping"
    texts = list(_mrkdwn_texts(payload))
    assert texts[0].startswith("*&lt;!here&gt;xxx")  # a heading over 150 is a bold section
    assert texts[1:] == ["&lt;!channel&gt; &amp; co", "*&lt;@U1&gt;*\n&lt;!everyone&gt;",
                         "&lt;#C1&gt;", "▓▓▓▓▓░░░░░ 1/2 &lt;@U2&gt;"]
    # plain_text is never parsed by Slack, so the button shows its label as it is
    assert payload["blocks"][-1]["elements"][0]["text"]["text"] == "<!channel>"


def test_a_short_heading_is_a_header_and_a_long_one_a_bold_section() -> None:
    [payload] = message_payloads(Message((Heading("x" * 150), Heading("y" * 151))))
    header, section = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "x" * 150}}
    assert section["type"] == "section" and section["text"]["text"] == f"*{'y' * 151}*"


def test_text_keeps_its_line_breaks() -> None:
    [payload] = message_payloads(Message((Text("Step 1: læs\nStep 2: skriv\n\nStep 3"),)))
    assert payload["blocks"][0]["text"]["text"] == "Step 1: læs\nStep 2: skriv\n\nStep 3"


def test_the_fallback_text() -> None:
    def fallback(*blocks: Any, summary: str = "") -> str:
        return message_payloads(Message(blocks, summary))[0]["text"]

    assert fallback(Note("n"), Text("t"), summary="s") == "s"
    assert fallback(Note("n"), Text("<t>")) == "&lt;t&gt;"
    assert fallback(Progress("Gruppe E", 1, 3)) == "1/3 Gruppe E"
    assert len(fallback(Text("& " * 4000))) <= 3000
    parts = message_payloads(Message(tuple(Note("n") for _ in range(60)), summary="x" * 5000))
    assert [p["text"][-7:] for p in parts] == ["… (1/2)", "… (2/2)"]
    assert all(len(p["text"]) == 3000 for p in parts)  # the counter survives the shortening


# -- Slack's limits -----------------------------------------------------------------------
def test_120_blocks_become_three_valid_messages() -> None:
    message = Message(tuple(Note(f"linje {n}") for n in range(120)), summary="Lang")
    payloads = message_payloads(message)
    assert [len(p["blocks"]) for p in payloads] == [50, 50, 20]
    assert [p["text"] for p in payloads] == ["Lang (1/3)", "Lang (2/3)", "Lang (3/3)"]
    for payload in payloads:
        _check_payload(payload)
    texts = [t for p in payloads for t in _mrkdwn_texts(p)]
    assert texts == [f"linje {n}" for n in range(120)]  # nothing lost, nothing repeated


def test_a_long_message_is_split_before_a_heading() -> None:
    message = Message(tuple(b for n in range(40) for b in (Heading(f"Afsnit {n}"), Text("a"), Text("b"))))
    payloads = message_payloads(message)
    assert [len(p["blocks"]) for p in payloads] == [48, 48, 24]
    for payload in payloads:
        _check_payload(payload)
        assert payload["blocks"][0]["type"] == "header"


def test_a_split_never_leaves_a_heading_last() -> None:
    blocks = (*(Note(f"{n}") for n in range(49)), Heading("Sidst"), Text("under"))
    first, second = message_payloads(Message(blocks))
    assert len(first["blocks"]) == 49 and second["blocks"][0]["type"] == "header"


def test_a_10000_character_text_becomes_sections_of_at_most_3000() -> None:
    lines = [f"Linje {n}: " + "ord " * 20 for n in range(120)]
    text = "\n".join(lines)
    assert len(text) > 10_000
    [payload] = message_payloads(Message((Text(text),)))
    _check_payload(payload)
    sections = [b["text"]["text"] for b in payload["blocks"]]
    assert len(sections) == 4 and all(len(s) <= 3000 for s in sections)
    assert [line for s in sections for line in s.split("\n")] == [escape(x) for x in lines]


def test_one_long_line_is_cut_at_spaces_and_never_inside_an_entity() -> None:
    [payload] = message_payloads(Message((Text("&" * 2999 + " " + "<" * 7000),)))
    _check_payload(payload)
    sections = [b["text"]["text"] for b in payload["blocks"]]
    assert all(len(s) <= 3000 for s in sections)
    assert "".join(sections).replace("&amp;", "").replace("&lt;", "") == ""
    assert "".join(sections) == escape("&" * 2999 + "<" * 7000)


def test_thirty_buttons_become_two_actions_blocks() -> None:
    buttons = tuple(Button(f"Knap {n}", "vote", {"n": str(n)}) for n in range(30))
    [payload] = message_payloads(Message((Heading("Stem"), Buttons(buttons))))
    _check_payload(payload)
    first, second = payload["blocks"][1:]
    assert (len(first["elements"]), len(second["elements"])) == (25, 5)
    ids = [e["action_id"] for e in first["elements"] + second["elements"]]
    assert len(set(ids)) == 30
    values = [parse_button(e["value"]) for e in first["elements"] + second["elements"]]
    assert values == [("vote", {"n": str(n)}) for n in range(30)]


def test_button_ids_are_unique_in_the_whole_message() -> None:
    rows = Buttons((Button("Ret", "edit_goal", {"goal": "g1"}), Button("Ret", "edit_goal", {"goal": "g2"})))
    [payload] = message_payloads(Message((rows, Text("og"), rows)))
    ids = [e["action_id"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ids == ["edit_goal:0", "edit_goal:1", "edit_goal:2", "edit_goal:3"]


def test_buttons_keep_only_slacks_styles_and_short_labels() -> None:
    buttons = (Button("Enig", "agree", style="primary"), Button("Nej", "no", style="danger"),
               Button("Mere", "x", style="fancy"), Button("L" * 100, "long"))
    [payload] = message_payloads(Message((Buttons(buttons),)))
    _check_payload(payload)
    elements = payload["blocks"][0]["elements"]
    assert [e.get("style") for e in elements] == ["primary", "danger", None, None]
    assert elements[3]["text"]["text"] == "L" * 74 + "…"


def test_many_and_long_fields() -> None:
    items = tuple((f"Felt {n}", f"værdi {n}") for n in range(23)) + (("Lang", "& " * 3000),)
    [payload] = message_payloads(Message((Fields(items),)))
    _check_payload(payload)
    assert [len(b["fields"]) for b in payload["blocks"]] == [10, 10, 4]
    long = payload["blocks"][-1]["fields"][-1]["text"]
    assert long.startswith("*Lang*\n&amp; &amp;") and long.endswith("&amp;…") and len(long) <= 2000


def test_fields_without_a_value_or_label() -> None:
    [payload] = message_payloads(Message((Fields((("Kun etiket", ""), ("", "kun værdi"), ("", ""))),)))
    assert [f["text"] for f in payload["blocks"][0]["fields"]] == ["*Kun etiket*", "kun værdi"]


def test_progress_is_a_bar_of_ten_cells() -> None:
    def bar(done: int, total: int) -> str:
        return message_payloads(Message((Progress("mål", done, total),)))[0]["blocks"][0]["text"]["text"]

    assert bar(3, 5) == "▓▓▓▓▓▓░░░░ 3/5 mål"
    assert bar(0, 0) == "░░░░░░░░░░ 0/0 mål"
    assert bar(7, 5) == "▓▓▓▓▓▓▓▓▓▓ 7/5 mål"


# -- buttons ------------------------------------------------------------------------------
def test_a_button_value_round_trips() -> None:
    button = Button("Stem", "vote", {"workshop": "w1", "seq": "3", "m": "E-energi", "level": "høj"})
    assert parse_button(button_value(button)) == ("vote", dict(button.args))
    assert parse_button(button_value(Button("Start", "start"))) == ("start", {})


@pytest.mark.parametrize("garbage", ["", "vote", "[]", "null", '{"args": {}}', '{"a": ""}',
                                     '{"a": 1}', '{"a": "x", "args": []}', '{"a": "x", "args": {"k": 1}}',
                                     '{"a": "x"'])
def test_garbage_is_no_button(garbage: str) -> None:
    with pytest.raises(ValueError):
        parse_button(garbage)


def test_a_button_too_long_for_slack_is_refused() -> None:
    with pytest.raises(ValueError):
        button_value(Button("x", "x", {"big": "y" * 2000}))


# -- modals -------------------------------------------------------------------------------
ALL_KINDS = Form(
    form="everything", title="En formular med en meget lang titel", submit="Gem",
    args={"workshop": "w1", "seq": "2"}, intro="Skriv <!channel> & alt andet",
    fields=(
        FormField("title", "Titel", required=True, value="Fjordly", max_length=120, hint="Et navn"),
        FormField("story", "Historie", FieldKind.LONG_TEXT, value="linje 1\nlinje 2", max_length=500),
        FormField("deadline", "Frist", FieldKind.DATE, value="2028-12-31"),
        FormField("minutes", "Minutter", FieldKind.NUMBER, required=True, value="25"),
        FormField("level", "Niveau", FieldKind.CHOICE, required=True, value="medium",
                  options=(("minimum", "Minimum"), ("medium", "Mellem"), ("ambitious", "Ambitiøst"))),
        FormField("areas", "Områder", FieldKind.CHOICES, value="E,G",
                  options=(("E", "Miljø"), ("S", "Sociale forhold"), ("G", "Governance"))),
        FormField("owner", "Ansvarlig", FieldKind.USER, required=True, value="Mette", hint="Én person"),
    ))


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def test_the_modal() -> None:
    view = modal(ALL_KINDS)
    _check_valid(view)
    assert view["type"] == "modal" and view["callback_id"] == "everything"
    assert view["title"]["text"] == "En formular med en…" and len(view["title"]["text"]) <= 24
    assert view["submit"]["text"] == "Gem"
    assert json.loads(view["private_metadata"]) == {"workshop": "w1", "seq": "2"}
    assert view["blocks"][0]["text"]["text"] == "Skriv &lt;!channel&gt; &amp; alt andet"
    inputs = _inputs(view)
    assert list(inputs) == [f.name for f in ALL_KINDS.fields]
    assert all(b["element"]["action_id"] == name for name, b in inputs.items())
    elements = {name: b["element"] for name, b in inputs.items()}
    assert {name: e["type"] for name, e in elements.items()} == {
        "title": "plain_text_input", "story": "plain_text_input", "deadline": "datepicker",
        "minutes": "number_input", "level": "static_select", "areas": "checkboxes",
        "owner": "plain_text_input"}
    assert elements["title"] == {"type": "plain_text_input", "action_id": "title",
                                 "initial_value": "Fjordly", "max_length": 120}
    assert elements["story"]["multiline"] is True and elements["story"]["initial_value"] == "linje 1\nlinje 2"
    assert elements["deadline"]["initial_date"] == "2028-12-31"
    assert elements["minutes"]["initial_value"] == "25" and elements["minutes"]["is_decimal_allowed"] is False
    assert elements["level"]["initial_option"]["value"] == "medium"
    assert [o["value"] for o in elements["areas"]["initial_options"]] == ["E", "G"]
    assert elements["owner"]["initial_value"] == "Mette"
    assert [inputs[n]["optional"] for n in inputs] == [not f.required for f in ALL_KINDS.fields]
    assert inputs["title"]["hint"]["text"] == "Et navn" and "hint" not in inputs["story"]


def test_values_slack_cannot_show_are_left_out() -> None:
    form = Form("f", "F", "Gem", fields=(
        FormField("d", "D", FieldKind.DATE, value="31-12-2028"),
        FormField("d2", "D2", FieldKind.DATE, value="2027-02-31"),
        FormField("n", "N", FieldKind.NUMBER, value="fem"),
        FormField("c", "C", FieldKind.CHOICE, value="gone", options=(("a", "A"),)),
        FormField("t", "T", value="x" * 30, max_length=10),
    ))
    view = modal(form)
    _check_valid(view)
    elements = {name: b["element"] for name, b in _inputs(view).items()}
    assert "initial_date" not in elements["d"] and "initial_date" not in elements["d2"]
    assert "initial_value" not in elements["n"] and "initial_option" not in elements["c"]
    assert elements["t"]["initial_value"] == "x" * 30 and "max_length" not in elements["t"]


def test_long_option_lists() -> None:
    options = tuple((f"m{n}", f"Målepunkt {n} " + "lang " * 20) for n in range(150))
    form = Form("f", "F", "Gem", fields=(
        FormField("one", "Én", FieldKind.CHOICE, value="m120", options=options),
        FormField("many", "Flere", FieldKind.CHOICES, value="m3,m140", options=options),
        FormField("few", "Få", FieldKind.CHOICES, value="m1", options=options[:11]),
    ))
    view = modal(form)
    _check_valid(view)
    elements = {name: b["element"] for name, b in _inputs(view).items()}
    one, many = elements["one"], elements["many"]
    assert len(one["options"]) == 100 and one["initial_option"]["value"] == "m120"
    assert all(len(o["text"]["text"]) <= 75 for o in one["options"])
    assert one["options"][0]["text"]["text"].endswith("…")
    assert many["type"] == "multi_static_select" and len(many["options"]) == 100
    assert [o["value"] for o in many["initial_options"]] == ["m3", "m140"]
    assert elements["few"]["type"] == "multi_static_select"  # checkboxes hold at most 10


def test_a_modal_opened_with_errors_shows_them() -> None:
    view = modal(ALL_KINDS, {"minutes": "Skriv et helt tal fra 1 til 240.", "gone": "<!here>"})
    _check_valid(view)
    types = [(b["type"], b.get("block_id")) for b in view["blocks"]]
    assert types[1] == ("context", None)  # the error for no field, above the fields
    assert view["blocks"][1]["elements"][0]["text"] == "⚠️ &lt;!here&gt;"
    at = types.index(("input", "minutes"))
    assert view["blocks"][at + 1]["elements"][0]["text"] == "⚠️ Skriv et helt tal fra 1 til 240."


def _state(entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: {name: entry} for name, entry in entries.items()}


def test_form_values_for_every_kind() -> None:
    state = _state({
        "title": {"type": "plain_text_input", "value": "  Fjordly <!channel> "},
        "story": {"type": "plain_text_input", "value": "linje 1\nlinje 2"},
        "deadline": {"type": "datepicker", "selected_date": "2028-12-31"},
        "minutes": {"type": "number_input", "value": "25"},
        "level": {"type": "static_select", "selected_option": {"value": "medium", "text": {}}},
        "areas": {"type": "checkboxes", "selected_options": [{"value": "E"}, {"value": "G"}]},
        "owner": {"type": "plain_text_input", "value": "Mette"},
    })
    assert form_values(state) == {"title": "  Fjordly <!channel> ", "story": "linje 1\nlinje 2",
                                  "deadline": "2028-12-31", "minutes": "25", "level": "medium",
                                  "areas": "E,G", "owner": "Mette"}


def test_form_values_of_empty_inputs_and_other_elements() -> None:
    state = _state({
        "t": {"type": "plain_text_input", "value": None},
        "d": {"type": "datepicker", "selected_date": None},
        "n": {"type": "number_input", "value": None},
        "c": {"type": "static_select", "selected_option": None},
        "m": {"type": "multi_static_select", "selected_options": []},
        "u": {"type": "users_select", "selected_user": "U0123ABC"},
        "r": {"type": "radio_buttons", "selected_option": {"value": "x"}},
    })
    assert form_values(state) == {"t": "", "d": "", "n": "", "c": "", "m": "",
                                  "u": "slack:U0123ABC", "r": "x"}


def test_form_values_with_the_form_at_hand() -> None:
    state = _state({"title": {"type": "plain_text_input", "value": "Fjordly"},
                    "stray": {"type": "plain_text_input", "value": "?"}})
    values = form_values({"values": state}, ALL_KINDS.fields)  # view.state works too
    assert values == {f.name: "Fjordly" if f.name == "title" else "" for f in ALL_KINDS.fields}
    named_values = _state({"values": {"type": "plain_text_input", "value": "v"}})
    assert form_values(named_values) == {"values": "v"}  # a field may be called "values"


def _submitted_unchanged(view: dict[str, Any]) -> dict[str, Any]:
    """`view.state.values` as Slack sends it when the person presses submit straight away."""
    state = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        entry: dict[str, Any] = {"type": element["type"]}
        match element["type"]:
            case "datepicker":
                entry["selected_date"] = element.get("initial_date")
            case "static_select":
                entry["selected_option"] = element.get("initial_option")
            case "checkboxes" | "multi_static_select":
                entry["selected_options"] = element.get("initial_options", [])
            case _:
                entry["value"] = element.get("initial_value")
        state[block["block_id"]] = {element["action_id"]: entry}
    return state


@pytest.mark.parametrize("name", ["details_form", "measures_form", "agenda_form", "ambition_form",
                                  "goal_form", "owner_form"])
def test_a_real_form_submitted_unchanged_gives_back_its_values(name: str,
                                                                scenes: dict[str, Scene]) -> None:
    form = scenes[name]
    values = form_values(_submitted_unchanged(modal(form)), form.fields)
    assert values == {f.name: f.value for f in form.fields}


@pytest.mark.parametrize("button", ["setup_details", "setup_measures", "setup_agenda"])
def test_the_engine_accepts_what_a_slack_form_sends(button: str) -> None:
    room = Room()
    room.set_up()
    room.press(FACILITATOR, "plenum", button)
    opened = room.form(FACILITATOR).form
    values = form_values({"values": _submitted_unchanged(modal(opened))}, opened.fields)
    outcome = room.send(FormSubmitted(event_id=f"slack-{button}", org=room.org, conversation="plenum",
                                      actor=actor(FACILITATOR), workshop_id=room.ws.id,
                                      form=opened.form, args=dict(opened.args), values=values))
    assert not outcome.form_errors, outcome.form_errors
    assert any(isinstance(e, Update) and e.key == "setup" for e in outcome.effects)


def test_form_errors() -> None:
    assert form_errors({"sentence": "Udfyld venligst feltet."}) == {
        "response_action": "errors", "errors": {"sentence": "Udfyld venligst feltet."}}
    assert form_errors({}) == {"response_action": "errors", "errors": {}}
