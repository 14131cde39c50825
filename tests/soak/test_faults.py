"""Platform faults (issue #8), the suite's short version of `python -m tests.soak.faults`: a
workshop through Slack or Teams while the fake platform fails every outbox call in seeded
windows of a second or two, each kind at least once (429 with Retry-After, 5xx, timeouts
longer than the client waits, connections dropped before the platform acted, and the platform
acting before its answer is lost). The dispatcher's clock runs twenty times as fast, so its
backoff and Retry-After pass in seconds; the clients wait one second.

Every effect is delivered, in order per lane, nothing is set aside, and nobody sees a message
twice, except on Teams after a lost answer: its connector cannot be asked what it did, so
those copies are counted (and printed), not hidden. Each run takes about half a minute.
"""

from __future__ import annotations

import pytest

from tests.conftest import _postgres_url
from tests.soak.faults import FAST, KINDS, Platform, Report, clean, describe, soak

SECONDS = 16.0  # of faults: room for each of the six kinds once, with gaps between
SEED = 8  # the number: same windows every run


def database(kind: str) -> str | None:
    return _postgres_url() if kind == "postgresql" else None


# Each platform on one database and each database under one platform: the delivery code is
# the same on both databases, and the suite must stay within CI's ten minutes.
@pytest.mark.parametrize(("platform", "database_kind"), [("slack", "sqlite"), ("teams", "postgresql")])
async def test_every_effect_arrives_once_and_in_order_through_platform_faults(
        platform: Platform, database_kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = await soak(SECONDS, FAST, seed=SEED, platforms=(platform,),
                        database_url=database(database_kind))
    with capsys.disabled():
        print("\n" + describe(report))
    [tally] = report.tallies
    every_kind(report)
    assert tally.errors == [] and report.drain_seconds is not None, describe(report)
    assert (tally.left, tally.set_aside) == (0, 0)
    assert tally.untagged == 0, "every message says which outbox item it delivers"
    assert tally.out_of_order == 0 and tally.never_seen == 0
    assert tally.files_shared == tally.files_wanted
    if platform == "slack":  # Slack's history says whether a doubtful post went through
        assert tally.duplicates == 0
    else:
        assert tally.duplicates == tally.duplicates_after_lost_answer
    assert clean(report)


def every_kind(report: Report) -> None:
    """Each kind of fault failed calls, and some messages were posted as their answers were lost."""
    [tally] = report.tallies
    assert report.acted_supported, "the fakes' Fault has no `acted`"
    assert all(tally.faults.get(kind, 0) > 0 for kind in KINDS), tally.faults
    assert tally.taken_then_lost > 0, "no message was posted and then had its answer lost"
