"""What the Bot Connector receives is the SDK's own request body, card by card, although
adapters/teams/transport.py skips msrest's reading of a card's content into models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botbuilder.schema import Activity, ActivityTypes, Attachment
from botframework.connector import models
from msrest.serialization import Serializer

from adapters.teams.deliver import FILE_CONSENT, card_activity
from adapters.teams.transport import _CardBodies

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))
SDK = Serializer({k: v for k, v in models.__dict__.items() if isinstance(v, type)})


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_a_card_goes_out_exactly_as_the_sdk_would_send_it(path: Path) -> None:
    for card in json.loads(path.read_text()):  # a message's cards, each posted on its own
        activity = card_activity(card, "Ambitionsworkshop – æøå <b>")
        assert isinstance(activity.attachments[0].content, dict)

        assert _CardBodies(SDK).body(activity, "Activity") == SDK.body(activity, "Activity")


def test_the_file_consent_card_and_an_activity_without_cards_go_out_as_the_sdk_would_send_them() -> None:
    consent = Attachment(content_type=FILE_CONSENT, name="handlingsplan.xlsx", content={
        "description": "Handlingsplanen", "sizeInBytes": 12345, "acceptContext": {"workshop": "w"}})
    link = Attachment(content_type="text/html", content_url="https://example.org/a", content="<b>a</b>")
    for activity in (Activity(type=ActivityTypes.message, attachments=[consent, link], summary="s"),
                     Activity(type=ActivityTypes.message, text="ok", id="1")):
        assert _CardBodies(SDK).body(activity, "Activity") == SDK.body(activity, "Activity")
