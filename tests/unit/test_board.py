"""The plenum board through the engine: the facilitator's link (shared, closed, renewed) and
what the board shows in each phase, as the room reads it."""

from __future__ import annotations

from bot.domain.model import Phase
from bot.effects import Post
from bot.flow import board_view
from bot.flow.board import url_of
from tests.harness import FACILITATOR, Room, refusal_only, texts


def link_in(text: str) -> str:
    return next(word for word in text.split() if "/board/" in word)


def room_with_board(language: str = "da") -> tuple[Room, str]:
    room = Room(language=language)
    room.set_up()
    room.say(FACILITATOR, "plenum", "tavle" if language == "da" else "board")
    return room, link_in(room.replies())


def test_the_facilitator_gets_an_unguessable_link_that_stays_the_same_until_closed() -> None:
    room, link = room_with_board()

    reply = room.replies()
    assert "Plenumtavlen for Boligselskabet Fjordly" in reply and "»tavle luk«" in reply
    token = link.rsplit("/", 1)[1]
    assert len(token) == 32 and token == room.ws.board_token
    room.say(FACILITATOR, "plenum", "tavle")
    assert link_in(room.replies()) == link  # asking again gives the same board

    other, other_link = room_with_board()
    assert other_link != link  # another workshop (same events, same clock): another token


def test_closing_the_link_forgets_it_and_asking_again_gives_a_new_one() -> None:
    room, link = room_with_board()

    room.say(FACILITATOR, "plenum", "tavle luk")
    assert room.ws.board_token is None
    assert "Linket til tavlen er lukket" in room.replies()
    assert "intet link" in refusal_only(room.say(FACILITATOR, "plenum", "tavle luk"), FACILITATOR)
    room.say(FACILITATOR, "plenum", "board")
    assert link_in(room.replies()) != link and room.ws.board_token


def test_shared_in_the_plenum_everyone_there_sees_the_link() -> None:
    room = Room(language="en")
    room.set_up()
    outcome = room.say(FACILITATOR, "plenum", "board share")

    posted = [texts(e.message) for e in outcome.effects if isinstance(e, Post) and e.conversation == "plenum"]
    assert len(posted) == 1 and url_of("", room.ws.board_token or "?") in posted[0]
    assert "posted in the plenum" in room.replies()


def test_only_the_facilitator_opens_or_closes_the_board_and_a_wrong_word_is_explained() -> None:
    room, _ = room_with_board()
    token = room.ws.board_token

    assert "tovholder" in refusal_only(room.say("Anders", "plenum", "tavle luk"), "Anders")
    assert "»tavle del«" in refusal_only(room.say(FACILITATOR, "plenum", "tavle væk"), FACILITATOR)
    assert room.ws.board_token == token


def test_the_link_uses_the_servers_public_address() -> None:
    assert url_of("https://ambition.example.org/", "abc") == "https://ambition.example.org/board/abc"


def test_group_work_shows_dots_sentences_and_progress_per_area() -> None:
    room = Room()
    room.to_ambitions()
    room.press("Anders", "E", "vote", m="E-energi", level="ambitious")
    room.press("Birgitte", "E", "vote", m="E-energi", level="ambitious")
    room.press("Carsten", "E", "vote", m="E-energi", level="medium")
    room.write_ambition("Anders", "E", "E-energi", "Vi halverer energiforbruget.", level="ambitious")
    room.write_ambition("Hanne", "S", "S-tilfredshed", "Alle beboere trives.")

    board = board_view.build(room.ws)
    assert board.phase_title == "Fase 2 af 6: Gruppearbejde: ambitionsniveau og ambitionssætning"
    assert board.ends_at == room.ws.phase_ends_at and board.paused_left is None
    assert (board.progress_label, board.progress) == ("Ambitionssætninger skrevet", "E 1/2 · S 1/2 · G 0/2")
    assert [c.title for c in board.columns] == ["E – Miljø", "S – Sociale forhold", "G – Governance"]
    energy = board.columns[0].posters[0]
    assert [(d.label, d.count) for d in energy.dots] == [("Minimum", 0), ("Mellem", 1), ("Ambitiøst", 2)]
    assert (energy.level, energy.sentence, energy.voters) == ("Ambitiøst", "Vi halverer energiforbruget.", 3)
    assert board.show_dots and not board.show_status and not board.show_goals


def test_the_plenum_sees_what_it_agreed_in_words_and_a_paused_clock_keeps_what_was_left() -> None:
    room = Room(language="en")
    room.to_ambitions()
    room.write_ambition("Anders", "E", "E-energi", "Half the energy.")
    room.say(FACILITATOR, "plenum", "next")
    room.press(FACILITATOR, "plenum", "agree", m="E-energi")
    room.advance(10)
    room.say(FACILITATOR, "plenum", "pause")

    board = board_view.build(room.ws)
    energy, co2 = board.columns[0].posters
    assert (energy.status, energy.status_text) == ("agreed", "✓ Agreed in the plenum")
    assert co2.status_text == "– No ambition sentence"
    assert board.paused_left == 20 * 60 and board.progress == "E 1/2 · S 0/2 · G 0/2"
    assert board.labels["paused"] == "Paused – the clock stands still"


def test_later_the_posters_carry_the_smart_goals_with_owner_and_deadline() -> None:
    room = Room()
    room.to_smart_goals()
    room.add_goal("Anders", "E", "E-energi")

    board = board_view.build(room.ws)
    assert board.show_goals and board.progress == "E 1/2 · S 0/2 · G 0/2"
    goal = board.columns[0].posters[0].goals[0]
    assert (goal.number, goal.owner, goal.deadline) == (1, "", "31.12.2028")
    assert goal.text.startswith("Energirenovere 120 boliger")
    assert board.phase == Phase.SMART_GOALS
