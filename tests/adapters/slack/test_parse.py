"""Slack requests as the engine's events (adapters/slack/parse.py), on bodies shaped as
slack-bolt hands them to the handlers: who a command @mentions, and what is left as its text."""

from __future__ import annotations

from typing import Any

from adapters.slack import parse
from bot.events import Actor

BOT = "UBOT"


def app_mention(text: str, **body: Any) -> dict[str, Any]:
    return {"team_id": "T1", "event_id": "Ev1", **body,
            "event": {"type": "app_mention", "user": "U1", "text": text, "channel": "C1", "ts": "1.2"}}


def slash_command(text: str) -> dict[str, Any]:
    """With `should_escape: true` in the manifest, Slack sends `@hans` as `<@U777|hans>`."""
    return {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "user_name": "mette",
            "command": "/ambition", "text": text, "trigger_id": "trigger-1"}


def test_the_people_a_channel_mention_names_are_its_mentions_and_not_its_text() -> None:
    command = parse.mention(app_mention(f"<@{BOT}> fagperson <@U777|hans> <@U888>"), bot_user=BOT)

    assert command.text == "fagperson"
    assert command.mentions == (Actor("slack:U777", "hans"), Actor("slack:U888", "U888"))


def test_the_bot_mentioned_twice_and_a_person_mentioned_twice_are_no_more_mentions() -> None:
    command = parse.mention(app_mention(f"<@{BOT}> fagperson <@U777> <@{BOT}> <@U777|hans>"), bot_user=BOT)

    assert command.text == "fagperson"
    assert command.mentions == (Actor("slack:U777", "U777"),)


def test_without_the_bots_id_the_user_the_event_was_delivered_for_is_the_bot() -> None:
    body = app_mention(f"<@{BOT}> fagperson <@U777>", authorizations=[{"user_id": BOT, "is_bot": True}])

    assert parse.mention(body).mentions == (Actor("slack:U777", "U777"),)


def test_the_people_a_slash_command_names_are_its_mentions_and_not_its_text() -> None:
    command = parse.command(slash_command("fagperson <@U777|hans> <@U888|lise> <@U777|hans>"), bot_user=BOT)

    assert command.text == "fagperson"
    assert command.mentions == (Actor("slack:U777", "hans"), Actor("slack:U888", "lise"))

