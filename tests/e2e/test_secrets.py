"""Secrets stay secret: the Slack bot token and signing secret, the Teams app password and
every token Microsoft's fake Entra ID issued or the Bot Connector signed never appear in a log
line (at any level, errors included), in an error the outbox keeps, or in the action plan,
over short workshops through both platforms with outages and throttling on the way."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.app import Store, plan_files
from bot.clock import SystemClock
from bot.store.tables import OutboxRow, WorkshopRow
from tests.e2e.slack_driver import SECRET, SlackWorkshop
from tests.e2e.teams_driver import TeamsWorkshop
from tests.e2e.test_slack_workshop import SHORT as SLACK_SHORT
from tests.e2e.test_slack_workshop import play as play_slack
from tests.e2e.test_teams_workshop import SHORT as TEAMS_SHORT
from tests.e2e.test_teams_workshop import play as play_teams
from tests.fakes.slack_api import TOKEN
from tests.fakes.teams_api import APP_PASSWORD


def kept_by(store: Store) -> str:
    """Every error the outbox keeps, and the text of every workshop's action plan."""
    with store.sessions() as session:
        errors = list(session.scalars(select(OutboxRow.last_error)))
        workshops = list(session.scalars(select(WorkshopRow.id)))
    plans = []
    for workshop_id in workshops:
        with zipfile.ZipFile(io.BytesIO(plan_files(store, SystemClock()).build(workshop_id).data)) as book:
            plans += [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
    return "\n".join(errors + plans)


async def test_no_secret_of_teams_is_logged_kept_or_exported(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with TeamsWorkshop(tmp_path) as teams:
        teams.fake.fail_next("send", status=503, times=2)
        teams.fake.fail_next("update", status=429, retry_after=1, times=2)
        await play_teams(teams, TEAMS_SHORT, until="break")
        secrets = [APP_PASSWORD, *teams.fake.issued, *(teams.fake.sign_activity(a) for a in teams.sent[:3])]
        kept = kept_by(teams.store)
    assert any("503" in line or "429" in line for line in kept.splitlines()), "the outage left no trace"
    for secret in secrets:
        token = secret.removeprefix("Bearer ")
        assert token not in caplog.text and token not in kept


async def test_no_secret_of_slack_is_logged_kept_or_exported(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with SlackWorkshop(tmp_path) as slack:
        slack.fake.fail_next("chat.postMessage", status=503, times=2)
        slack.fake.fail_next("chat.update", status=429, retry_after=1, times=2)
        await play_slack(slack, SLACK_SHORT, until="break")
        kept = kept_by(slack.store)
    assert any("503" in line or "429" in line or "ratelimited" in line for line in kept.splitlines())
    for secret in (TOKEN, SECRET):
        assert secret not in caplog.text and secret not in kept
