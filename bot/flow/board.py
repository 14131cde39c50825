"""`board`: the facilitator's link to the plenum board, shared in the plenum or closed.

The link is `<public url>/board/<token>`. The token is the workshop's and opens nothing
else; it is derived from the context's entropy and the event, so no one can guess it, and
the engine stays a function of its inputs. Closing the link forgets the token: every screen
showing the board says it is closed, and `board` again gives a new one.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from bot.domain.groups import plenum_of
from bot.flow import views
from bot.flow.turn import Refusal, Turn
from bot.i18n import LANGUAGES, catalog
from bot.ui import Heading, Message, Note, Text

TOKEN_BYTES = 24  # 192 bits, written in 32 characters


def _words(action: str) -> frozenset[str]:
    """The word for `action` after `board`, in any language (`tavle luk`, `board revoke`)."""
    return frozenset(catalog(language)[f"board.word.{action}"].casefold() for language in LANGUAGES)


SHARE, REVOKE = _words("share"), _words("revoke")


def command(turn: Turn, args: Sequence[str]) -> None:
    turn.require_facilitator("board")
    word = args[0].casefold() if args else ""
    if len(args) > 1 or (word and word not in SHARE | REVOKE):
        raise Refusal("board.usage", **_words_for(turn))
    if word in REVOKE:
        _revoke(turn)
        return
    url = _open(turn)
    if word in SHARE:
        turn.post(plenum_of(turn.ws), views.message(Heading(turn.t("board.shared_heading")),
                                                    Text(turn.t("board.shared", url=url))))
        turn.reply(turn.t("board.shared_done"))
        return
    t = turn.t
    turn.reply(Message((Heading(t("board.heading", title=turn.ws.title)),
                        Text(t("board.link", url=url)),
                        Note(t("board.link_note", **_words_for(turn)))),
                       summary=t("board.heading", title=turn.ws.title)))


def _open(turn: Turn) -> str:
    """The board's address, with a new token if the workshop has no open link."""
    token = turn.ws.board_token
    if not token:
        token = new_token(turn.ctx.entropy, turn.event.event_id)
        turn.change(board_token=token)
    return url_of(turn.ctx.public_url, token)


def _revoke(turn: Turn) -> None:
    if not turn.ws.board_token:
        raise Refusal("board.none_open", word=turn.t("command.board"))
    turn.change(board_token=None)
    turn.reply(turn.t("board.revoked", word=turn.t("command.board")))


def new_token(entropy: str, event_id: str) -> str:
    digest = hashlib.sha256(f"{entropy}:{event_id}".encode()).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def url_of(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/board/{token}"


def _words_for(turn: Turn) -> dict[str, str]:
    return {"word": turn.t("command.board"), "share": turn.t("board.word.share"),
            "revoke": turn.t("board.word.revoke")}
