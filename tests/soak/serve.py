"""`ambition-bot serve` for the soaks: the real command, with Microsoft's login and metadata
URLs pointed at the loopback Teams fake whose port SOAK_TEAMS_PORT names.

Only the URLs differ from production. `serve` has no setting for them (adapters.teams.auth
.Endpoints defaults to the public cloud), so this puts the fake's endpoints where the in-process
e2e driver passes them (`cloud_adapter(settings, endpoints)`), and then runs the command line
as `ambition-bot` would: authentication stays on, tokens come from the fake Entra ID.

    SOAK_TEAMS_PORT=43211 python -m tests.soak.serve serve --port 3978

With SOAK_UNPACED=1 the deliverers do not space their messages per conversation (Slack one a
second, Teams two): the fakes take any pace, as the e2e drivers set it, and a short soak in the
test suite then spends its time on the bot rather than on waiting.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import adapters.app as app
import adapters.cli as cli
import adapters.teams.app as teams_app
from adapters.config import Settings
from adapters.pacing import Pacer
from adapters.teams.auth import Endpoints
from tests.fakes.teams_api import FakeTeamsApi

PORT_VARIABLE = "SOAK_TEAMS_PORT"
UNPACED_VARIABLE = "SOAK_UNPACED"


def point_teams_at_fake(port: int) -> None:
    endpoints = FakeTeamsApi(port=port).endpoints()  # only its URLs: nothing is started
    original = teams_app.cloud_adapter

    def cloud_adapter(settings: Settings, given: Endpoints | None = None) -> teams_app.CloudAdapter:
        return original(settings, given or endpoints)

    # serve imports cloud_adapter from the module when it wires Teams, so this is the one it gets
    teams_app.cloud_adapter = cloud_adapter  # type: ignore[assignment]


def unpaced() -> None:
    original = app.platform_deliverers

    def platform_deliverers(*args: Any, **kwargs: Any) -> dict[str, Any]:
        made = original(*args, **kwargs)
        for deliverer in made.values():
            if isinstance(getattr(deliverer, "pacer", None), Pacer):
                deliverer.pacer = Pacer(0)  # type: ignore[attr-defined]
        return made

    app.platform_deliverers = platform_deliverers  # type: ignore[assignment]  # what `platforms` calls


def main() -> None:
    if port := os.environ.get(PORT_VARIABLE):
        point_teams_at_fake(int(port))
    if os.environ.get(UNPACED_VARIABLE) == "1":
        unpaced()
    cli.app(sys.argv[1:], prog_name="ambition-bot")


if __name__ == "__main__":
    main()
