"""The signed, expiring links to the action plan (adapters/teams/links.py): what one opens is
the workshop it was made for, and nothing else opens anything."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest

from adapters.teams.links import LIFETIME, BadLink, ExpiredLink, FileLinks
from bot.clock import ManualClock
from tests.conftest import START

BASE = "https://bot.example.dk"
WORKSHOP = "w1a2b3c4d"


def links(clock: ManualClock, secret: str = "app-password", base: str = BASE) -> FileLinks:
    return FileLinks(FileLinks.derive_key(secret), base, clock)


def token_of(url: str) -> str:
    prefix = f"{BASE}/files/"
    assert url.startswith(prefix), url
    return url.removeprefix(prefix)


def tampered(token: str, position: int) -> str:
    """`token` with one character changed (to another character a token may hold)."""
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1:]


def test_a_link_opens_the_workshop_it_was_made_for() -> None:
    clock = ManualClock(START)
    signer = links(clock)

    url = signer.url(WORKSHOP)

    assert signer.workshop_of(token_of(url)) == WORKSHOP
    # a restarted server (same secret, new FileLinks) still knows its links
    assert links(ManualClock(START)).workshop_of(token_of(url)) == WORKSHOP


def test_the_link_sits_under_the_public_base_url_once_slashed() -> None:
    url = links(ManualClock(START), base=BASE + "/").url(WORKSHOP)
    assert url.startswith(f"{BASE}/files/") and "//files" not in url
    assert "/" not in token_of(url) and "?" not in token_of(url)  # one path segment


def test_changing_any_character_of_a_link_breaks_it() -> None:
    signer = links(ManualClock(START))
    token = token_of(signer.url(WORKSHOP))

    for position in range(len(token)):
        with pytest.raises(BadLink):
            signer.workshop_of(tampered(token, position))


@pytest.mark.parametrize("token", ["", ".", "nonsense", "a.b.c", "æøå.æøå", "e30.e30"],
                         ids=["empty", "dot", "no signature", "three parts", "not ascii", "forged"])
def test_what_is_no_link_at_all_is_a_bad_link(token: str) -> None:
    with pytest.raises(BadLink):
        links(ManualClock(START)).workshop_of(token)


@pytest.mark.parametrize("claims", [b"{}", b"[]", b"null", b'{"w": "w1", "e": "soon"}', b"not json"],
                         ids=["no claims", "a list", "null", "no expiry time", "not json"])
def test_a_signed_token_that_names_no_workshop_is_a_bad_link_not_a_crash(claims: bytes) -> None:
    """Signed with the right key (as a bug of our own could make one): still just a bad link."""
    signer = links(ManualClock(START))
    later = int((START + timedelta(days=1)).timestamp())
    # the control: signed this way, proper claims do open (so the refusal below is the claims')
    assert signer.workshop_of(_signed(b'{"w":"w1","e":%d}' % later)) == "w1"

    with pytest.raises(BadLink):
        signer.workshop_of(_signed(claims))


def _signed(claims: bytes) -> str:
    body = _b64(claims)
    key = FileLinks.derive_key("app-password")
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_a_link_for_another_workshop_cannot_be_made_from_one_we_gave_out() -> None:
    """The workshop id is signed: swapping it in the token body is noticed."""
    signer = links(ManualClock(START))
    body, _, signature = token_of(signer.url(WORKSHOP)).partition(".")
    other_body, _, _ = token_of(signer.url("w-someone-else")).partition(".")

    with pytest.raises(BadLink):
        signer.workshop_of(f"{other_body}.{signature}")
    assert signer.workshop_of(f"{body}.{signature}") == WORKSHOP


def test_a_link_lives_for_its_lifetime_and_then_expires_naming_its_workshop() -> None:
    clock = ManualClock(START)
    signer = links(clock)
    token = token_of(signer.url(WORKSHOP))

    clock.advance(LIFETIME - timedelta(seconds=1))
    assert signer.workshop_of(token) == WORKSHOP

    clock.advance(timedelta(seconds=1))
    with pytest.raises(ExpiredLink) as expired:
        signer.workshop_of(token)
    assert expired.value.workshop_id == WORKSHOP  # so the page can speak the workshop's language


def test_a_link_made_with_a_negative_lifetime_is_expired_at_once() -> None:
    clock = ManualClock(START)
    dead = FileLinks(FileLinks.derive_key("app-password"), BASE, clock, timedelta(seconds=-1))
    with pytest.raises(ExpiredLink):
        dead.workshop_of(token_of(dead.url(WORKSHOP)))


def test_a_link_of_one_key_is_refused_by_another() -> None:
    ours = links(ManualClock(START), secret="app-password")
    theirs = links(ManualClock(START), secret="another-bots-password")

    with pytest.raises(BadLink):
        ours.workshop_of(token_of(theirs.url(WORKSHOP)))


def test_an_expired_link_of_another_key_is_bad_not_expired() -> None:
    """Expiry is only told for our own links: a stranger's token learns nothing from us."""
    clock = ManualClock(START)
    theirs = FileLinks(FileLinks.derive_key("another"), BASE, clock, timedelta(seconds=-1))
    with pytest.raises(BadLink):
        links(clock).workshop_of(token_of(theirs.url(WORKSHOP)))


def test_the_link_key_reveals_nothing_of_the_password() -> None:
    key = FileLinks.derive_key("app-password")
    assert len(key) == 32 and b"app-password" not in key
    assert key != FileLinks.derive_key("app-password2")
    url = links(ManualClock(START)).url(WORKSHOP)
    assert "app-password" not in url
