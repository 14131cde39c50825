"""Who may do what, as a matrix: every command × (facilitator, member of the group whose
channel it is typed in, member of another group, someone of the same workspace who is in no
group, someone of another workspace or tenant). A refused cell answers the person privately,
says why, and changes nothing at all: not the workshop, not what anyone else sees. (Requests
that are unsigned or forged never reach the engine: the endpoint tests refuse them with 401.)"""

from __future__ import annotations

import pytest

from bot import engine
from bot.effects import PostPrivate
from bot.events import Command
from tests.harness import FACILITATOR, Room, actor

# command → what to type in group E's channel during the group work (phase 2)
TYPED = {"new": "new Another", "group": "group E", "setup": "setup", "start": "start",
         "next": "next", "extend": "extend 5", "pause": "pause", "resume": "resume", "join": "join E",
         "groups": "groups", "split": "split E", "move": "move Anders S", "status": "status",
         "help": "help", "plan": "plan", "measures": "measures", "close": "close", "mine": "mine goals",
         "reminders": "reminders", "specialist": "specialist", "board": "board"}
FACILITATOR_ONLY = {"group", "setup", "start", "next", "extend", "pause", "resume", "groups", "split",
                    "move", "plan", "measures", "close", "reminders", "specialist", "board"}
ROLES = {"member of the group": ("Anders", "org-1"), "member of another group": ("Hanne", "org-1"),
         "in no group": ("Zoe", "org-1"), "another workspace": ("Mette", "org-2")}


def at_group_work() -> Room:
    room = Room(language="en")
    room.to_ambitions()
    return room


def test_the_matrix_names_every_command() -> None:
    assert set(TYPED) == set(engine.COMMANDS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", sorted(FACILITATOR_ONLY))
def test_only_the_facilitator_may_steer_the_workshop(command: str, role: str) -> None:
    room = at_group_work()
    before, seen = room.ws, len(room.effects)
    name, org = ROLES[role]

    outcome = room.send(Command(event_id=f"{command}-{role}", org=org, conversation="E",
                                actor=actor(name), text=TYPED[command]))

    assert room.ws == before and outcome.state == before  # nothing changed
    [answer] = room.effects[seen:]
    assert isinstance(answer, PostPrivate) and answer.user == actor(name).id  # only they hear of it
    expected = "no ambition workshop" if org != room.org else "Only the facilitator can"
    assert expected in room.replies(), (command, role, room.replies())


@pytest.mark.parametrize("command", sorted(FACILITATOR_ONLY))
def test_the_facilitator_is_never_refused_for_not_being_the_facilitator(command: str) -> None:
    room = at_group_work()
    room.say(FACILITATOR, "E", TYPED[command])
    assert "Only the facilitator can" not in room.replies()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", ["status", "help"])
def test_everyone_in_the_workspace_may_ask_and_no_one_outside_it_sees_the_workshop(command: str,
                                                                                   role: str) -> None:
    room = at_group_work()
    before = room.ws
    name, org = ROLES[role]

    room.send(Command(event_id=f"{command}-{role}", org=org, conversation="E", actor=actor(name),
                      text=TYPED[command]))

    assert room.ws == before
    answer = room.replies()
    if org != room.org:  # help is general there; status finds nothing
        assert before.title not in answer and "Group E" not in answer
        assert command == "help" or "no ambition workshop" in answer
    else:
        assert answer and "Only the facilitator" not in answer


# The group's buttons during the group work: only its own members press them.
GROUP_BUTTONS = {"vote": {"m": "E-energi", "level": "ambitious"}, "edit_ambition": {"m": "E-energi"}}


@pytest.mark.parametrize("role", ["member of another group", "in no group", "another workspace"])
@pytest.mark.parametrize("action", sorted(GROUP_BUTTONS))
def test_only_the_groups_own_members_press_its_buttons(action: str, role: str) -> None:
    room = at_group_work()
    before, seen = room.ws, len(room.effects)
    name, org = ROLES[role]
    room.org = org  # the press comes from that workspace, with a button copied from group E

    room.act(name, "E", action, **GROUP_BUTTONS[action])

    assert room.ws == before
    [answer] = room.effects[seen:]
    assert isinstance(answer, PostPrivate) and answer.user == actor(name).id


def test_a_member_of_the_group_presses_its_buttons() -> None:
    room = at_group_work()
    room.act("Anders", "E", "vote", **GROUP_BUTTONS["vote"])
    room.act("Anders", "E", "edit_ambition", **GROUP_BUTTONS["edit_ambition"])

    assert ("E-energi", actor("Anders").id) in room.ws.votes
    assert room.form("Anders").form.form == "ambition"
