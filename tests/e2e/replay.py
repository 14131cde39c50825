"""Workshops through Slack and Teams where every inbound request arrives twice, and what a
replayed workshop must equal: the stored state and what the platforms show, with the ids that
legitimately differ between two runs (a workshop's id is a hash of the first request's id,
a message's ts is the fake's clock) written as what they stand for.

`ReplayingSlack` and `ReplayingTeams` are the e2e drivers on any database, sending each
request according to their `mode`:

* "once": as the drivers do;
* "retry": sent, answered, and sent again as the platform retries it: Slack the same body
  with `X-Slack-Retry-Num: 1` (its retry after a slow answer), Teams the same activity with
  the same id (the Bot Connector re-sends one it got no answer to);
* "concurrent": the same request twice at once (a double click that reaches two requests in
  flight, or a retry that overtakes a slow first try).

A request sent twice must be answered the same both times (Slack closes a modal on `{}` and
shows its errors otherwise; Teams takes a 201): each answer is checked as it comes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select

from adapters.app import Store, units
from bot.codec import to_plain
from bot.domain.model import Workshop
from bot.store.tables import ChangeRow, OutboxRow, WorkshopRow
from tests.databases import throwaway_schema
from tests.e2e.slack_driver import Shown, SlackWorkshop, user_id
from tests.e2e.teams_driver import Shown as TeamsShown
from tests.e2e.teams_driver import TeamsWorkshop, channel_of

Mode = Literal["once", "retry", "concurrent"]
MODES: tuple[Mode, ...] = ("once", "retry", "concurrent")
Json = dict[str, Any]

SLACK_RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


class AnsweredDifferently(AssertionError):
    """The same request, sent twice, got two different answers."""


# --- databases ----------------------------------------------------------------------------


@contextmanager
def fresh_databases(kind: str, directory: Path, postgres_url: str = "") -> Iterator[Callable[[str], str]]:
    """A maker of empty databases, one per name: SQLite files in `directory`, or schemas of
    their own on PostgreSQL (dropped afterwards). A run per database, so that three runs of
    one script (once, retried, concurrent) cannot see each other's workshop."""
    with ExitStack() as schemas:

        def make(name: str) -> str:
            if kind == "sqlite":
                return f"sqlite:///{directory / f'{name}.sqlite3'}"
            return schemas.enter_context(throwaway_schema(postgres_url, f"r_{name}_"))

        yield make


# --- the drivers, on any database, sending each request as their mode says ---------------


class ReplayingSlack(SlackWorkshop):
    """SlackWorkshop on `database_url`; every request to /slack/events is sent as `mode` says
    (over HTTP: not in Socket Mode)."""

    def __init__(self, directory: Path, database_url: str, mode: Mode = "once", **options: Any) -> None:
        super().__init__(directory, database_url=database_url, **options)
        self.mode = mode
        self._drawn: Shown | None = None  # the message version press_drawn_before presses on

    async def press_drawn_before(self, name: str, channel: str, action: str, **args: str) -> None:
        """Press a button as an earlier version of a message drew it, newest first: a client
        that has not redrawn the card yet, or a press that arrives long after the card changed."""
        for kind, where, ts, params in reversed(list(self.fake.timeline)):
            if where != channel or (kind == "ephemeral" and params.get("user") != user_id(name)):
                continue
            drawn = Shown(where, ts, params.get("blocks") or [], params.get("text", ""), 0,
                          params.get("user", "") if kind == "ephemeral" else "")
            if drawn.button(action, args) is not None:
                self._drawn = drawn
                try:
                    await self.press(name, channel, action, settle=True, **args)
                finally:
                    self._drawn = None
                return
        raise LookupError(f"no version of a message in {channel} had a {action!r} button {args}")

    def find_button(self, name: str, channel: str, action: str, **args: str) -> tuple[Shown, Json]:
        drawn = self._drawn
        if drawn is not None:
            button = drawn.button(action, args)
            assert button is not None
            return drawn, button
        return super().find_button(name, channel, action, **args)

    async def _post(self, body: str, content_type: str, extra: Mapping[str, str] | None = None) -> str:
        once = super()._post
        if self.mode == "once":
            return await once(body, content_type, extra)
        if self.mode == "retry":
            first = await once(body, content_type, extra)
            again = await once(body, content_type, {**(extra or {}), **SLACK_RETRY})
        else:
            first, again = await asyncio.gather(once(body, content_type, extra),
                                                once(body, content_type, extra))
        return same_answer(first, again, body)


class ReplayingTeams(TeamsWorkshop):
    """TeamsWorkshop on `database_url`; every activity is POSTed as `mode` says."""

    def __init__(self, directory: Path, database_url: str, mode: Mode = "once", **options: Any) -> None:
        super().__init__(directory, database_url=database_url, **options)
        self.mode = mode
        self._drawn: TeamsShown | None = None  # the card version press_drawn_before presses on

    async def press_drawn_before(self, name: str, where: str, action: str, **args: str) -> None:
        """Press a button as an earlier version of a card drew it, newest first: a client that
        has not redrawn the card yet, or a press that arrives long after the card changed."""
        conversation = self.conversation(name, where)
        candidates = [(key, number, version) for key, posted in list(self.fake.posted.items())
                      if key[0] == conversation for number, version in enumerate(posted.versions, 1)]
        for key, number, version in sorted(candidates, key=lambda c: (int(c[0][1]), c[1]), reverse=True):
            drawn = TeamsShown(key[0], key[1], version, 0, number)
            if drawn.button(action, args) is not None:
                self._drawn = drawn
                try:
                    await self.press(name, where, action, settle=True, **args)
                finally:
                    self._drawn = None
                return
        raise LookupError(f"no version of a card in {where} had a {action!r} button {args}")

    def find_button(self, name: str, where: str, action: str, **args: str) -> tuple[TeamsShown, Json]:
        drawn = self._drawn
        if drawn is not None:
            button = drawn.button(action, args)
            assert button is not None
            return drawn, button
        return super().find_button(name, where, action, **args)

    async def fill_card_of(self, owner: str, name: str, values: Mapping[str, Any]) -> TeamsShown:
        """`name` fills in and submits the form card the bot posted for `owner`: a card in a
        channel is there for everyone in it to submit."""
        self._forms[name] = self._forms[owner]
        return await self.fill(name, values)

    async def send(self, activity: Json, *, settle: bool = True, expect: int = 201) -> int:
        once = super().send
        if self.mode == "once":
            return await once(activity, settle=settle, expect=expect)
        if self.mode == "retry":
            first = await once(activity, settle=False, expect=expect)
            again = await once(activity, settle=False, expect=expect)
        else:
            first, again = await asyncio.gather(once(activity, settle=False, expect=expect),
                                                once(activity, settle=False, expect=expect))
        if settle:
            await self.settle()
        return int(same_answer(str(first), str(again), json.dumps(activity)[:300]))


def same_answer(first: str, again: str, request: str) -> str:
    if first != again:
        raise AnsweredDifferently(f"answered {first!r}, then {again!r}, to {request[:300]}")
    return first


@asynccontextmanager
async def replaying(platform: str, directory: Path, database_url: str, mode: Mode,
                    **options: Any) -> AsyncIterator[Any]:
    """A ReplayingSlack or ReplayingTeams, entered."""
    directory.mkdir(parents=True, exist_ok=True)
    kind = ReplayingSlack if platform == "slack" else ReplayingTeams
    async with kind(directory, database_url, mode, **options) as driver:
        yield driver


# --- what was stored ----------------------------------------------------------------------

# When something happened: these differ from run to run and say nothing about what happened.
_MOMENTS = frozenset({"updated_at", "created_at", "phase_started_at", "phase_ends_at", "armed_at",
                      "paused_at", "started_at", "ended_at", "answered_at", "phase_log"})


def workshops(store: Store) -> list[Workshop]:
    with store.sessions() as session:
        ids = sorted(session.scalars(select(WorkshopRow.id)))
    with units(store)() as uow:
        found = [uow.workshops.get(workshop_id) for workshop_id in ids]
    return [ws for ws in found if ws is not None]


def names_for_ids(found: list[Workshop]) -> dict[str, str]:
    """Each generated id (workshop, goal, comment, follow-up entry) → what it stands for, the
    same in every run: ids are hashes of the requests' own ids, or random."""
    names: dict[str, str] = {}
    for number, ws in enumerate(found):
        names[ws.id] = f"<workshop {number}>"
        for goal in ws.goals.values():
            names[goal.id] = f"<goal {goal.measure_id} #{goal.number}>"
        for comment in ws.comments.values():
            names[comment.id] = f"<comment {comment.measure_id} by {comment.author}: {comment.text[:20]}>"
        for entry in ws.followups.values():
            names[entry.id] = f"<follow-up {names.get(entry.goal_id, entry.goal_id)} {entry.status}>"
    return names


def renamed(value: Any, names: Mapping[str, str]) -> Any:
    """`value` (plain JSON) with every id in `names` written as its name, in keys and texts."""
    if not names:
        return value
    pattern = re.compile("|".join(re.escape(i) for i in sorted(names, key=len, reverse=True)))
    return json.loads(pattern.sub(lambda m: names[m.group(0)], json.dumps(value, ensure_ascii=False)))


def stored(store: Store) -> Json:
    """The workshops as stored (every record with its version and who changed it last, but not
    when), how many versions the history holds per kind of record, and how many messages the
    outbox took per conversation."""
    found = workshops(store)
    names = names_for_ids(found)
    with store.sessions() as session:
        history = Counter(session.scalars(select(ChangeRow.entity)))
        lanes = dict(session.execute(select(OutboxRow.lane, func.count()).group_by(OutboxRow.lane)).all())
    state = [_without_moments(to_plain(ws)) for ws in found]
    return renamed({"workshops": state, "history": dict(sorted(history.items())),
                    "outbox": dict(sorted(lanes.items()))}, names)


def _without_moments(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_moments(v) for k, v in value.items() if k not in _MOMENTS}
    if isinstance(value, list):
        return [_without_moments(v) for v in value]
    return value


# --- what the platforms show --------------------------------------------------------------

# The moments messages name (a phase's end, "<!date^1795824349^{time}|01:05>" in Slack) are
# those of the run's own clock: two runs a second apart name different ones.
_SLACK_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|[^>]*>")
_TEAMS_TIME = re.compile(r"\{\{(?:TIME|DATE)\([^)]*\)[^}]*\}\}")
# A plan link is signed for the workshop (a hash of a request's id) until a moment, on the
# server's own port
_PLAN_LINK = re.compile(r"https?://[^/\s\"]+/files/[\w.\-]+")
_CLOCK = re.compile(r"\b\d{1,2}[:.]\d{2}\b(?![.:]\d)")


def without_clock(value: Any) -> Any:
    if isinstance(value, str):
        value = _PLAN_LINK.sub("<plan link>", value)
        return _CLOCK.sub("<hh:mm>", _TEAMS_TIME.sub("<time>", _SLACK_DATE.sub("<date>", value)))
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


# Slack's message timestamps and trigger ids (the fake's clock), and the metadata the
# deliverer marks a message with for itself (its outbox item), which nobody sees
_SLACK_VOLATILE = frozenset({"ts", "trigger_id", "message_ts", "thread_ts", "metadata"})


def slack_shown(slack: SlackWorkshop) -> Json:
    """Per channel, each Web API call that changed what someone sees, in order: posts,
    updates, ephemerals (to whom), modals opened (for whom), files shared, invitations."""
    names = names_for_ids(workshops(slack.store))
    seen: dict[str, list[Json]] = defaultdict(list)
    for call in slack.fake.calls:
        if call.status != 200 or call.error or call.method in (
                "auth.test", "users.info", "upload", "files.getUploadURLExternal"):
            continue
        params = {k: v for k, v in call.params.items() if k not in _SLACK_VOLATILE}
        if call.method == "views.open":
            params["for"] = slack.triggers.get(str(call.params.get("trigger_id")), "?")
        where = str(params.get("channel") or params.get("channel_id") or "modal")
        seen[where].append({"method": call.method, **params})
    return without_clock(renamed(dict(sorted(seen.items())), names))


# Teams: ids and addresses that the fake's clock and the turn make, not the bot's message
_TEAMS_VOLATILE = frozenset({"id", "replyToId", "timestamp", "localTimestamp", "serviceUrl",
                             "from", "recipient", "conversation", "channelId"})


def teams_shown(teams: TeamsWorkshop) -> Json:
    """Per conversation, each message the bot posted, in the order posted, with every version
    of it (the post, then each update that changed it, in order; a Teams re-send of a form
    redraws its card as it was); and the conversations it created. Updates of
    different messages are not ordered against each other: a form card is redrawn in the
    submission's own request while the outbox updates other cards on its own thread."""
    names = names_for_ids(workshops(teams.store))
    messages: dict[str, list[Json]] = defaultdict(list)
    for (conversation, _), posted in list(teams.fake.posted.items()):
        versions: list[Json] = []
        for version in posted.versions:
            shown = {k: v for k, v in version.items() if k not in _TEAMS_VOLATILE}
            if not versions or versions[-1] != shown:  # the same card drawn again shows nothing new
                versions.append(shown)
        messages[channel_of(conversation)].append({"versions": versions, "deleted": posted.deleted})
    created = sorted(({k: v for k, v in call.body.items() if k not in _TEAMS_VOLATILE}
                      for call in teams.fake.calls_to("create", ok_only=True) if isinstance(call.body, dict)),
                     key=lambda c: json.dumps(c, sort_keys=True))
    return without_clock(renamed({"messages": dict(sorted(messages.items())), "created": created}, names))
