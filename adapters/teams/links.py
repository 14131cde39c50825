"""Signed, expiring download links for the action plan (`GET /files/<token>`).

A Teams bot cannot attach a file in a channel without Microsoft Graph, so the plan is a link
to the bot itself. The token names the workshop and when it stops working, signed with a key
only the server has: it cannot be guessed, changed, or used for another workshop, and a leaked
link dies on its own. The file is built when the link is opened, so it is always the newest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta

from bot.ports import Clock

LIFETIME = timedelta(days=7)


class BadLink(ValueError):
    """Not a link this server made (or it was changed)."""


class ExpiredLink(ValueError):
    def __init__(self, workshop_id: str) -> None:
        super().__init__(workshop_id)
        self.workshop_id = workshop_id


@dataclass(frozen=True)
class FileLinks:
    key: bytes
    base_url: str  # PUBLIC_BASE_URL: where people's browsers reach `serve`
    clock: Clock
    lifetime: timedelta = LIFETIME

    @staticmethod
    def derive_key(secret: str) -> bytes:
        """A key of its own for links, so a link never reveals anything about the secret."""
        return hmac.new(secret.encode(), b"ambition-bot file links", hashlib.sha256).digest()

    def url(self, workshop_id: str) -> str:
        expires = int((self.clock.now() + self.lifetime).timestamp())
        body = _b64(json.dumps({"w": workshop_id, "e": expires}, separators=(",", ":")).encode())
        return f"{self.base_url.rstrip('/')}/files/{body}.{self._sign(body)}"

    def workshop_of(self, token: str) -> str:
        """The workshop a token names; BadLink or ExpiredLink when it may not be used."""
        body, _, signature = token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise BadLink(token[:40])
        try:
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            workshop, expires = str(claims["w"]), int(claims["e"])
        except (ValueError, KeyError, TypeError) as error:
            raise BadLink(token[:40]) from error
        if self.clock.now().timestamp() >= expires:
            raise ExpiredLink(workshop)
        return workshop

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
