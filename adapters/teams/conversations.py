"""What the Teams adapter remembers across restarts, in the platform memory of the store.

A bot can only write to a Teams conversation it has a ConversationReference for (its service
URL, ids, tenant), so every conversation the bot hears from is remembered, and the timers'
nudges and the outbox can reach it later, also after a restart. Beside that: the threads the
bot made for groups, each person's one-to-one chat, and each form card it drew (to draw it
again with its errors when a submission is refused).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from typing import Any

from botbuilder.schema import ConversationReference

from bot.codec import dumps, loads
from bot.effects import OpenForm
from bot.store.memory import PlatformMemory


@dataclass(frozen=True)
class Place:
    """How to reach one conversation."""

    reference: dict[str, Any]  # ConversationReference.serialize(), pointing where to post
    tenant: str
    kind: str = "channel"  # Teams' conversationType: channel, groupChat or personal
    group_thread: bool = False  # a thread the bot made for a group: replies go inside it

    @property
    def conversation_id(self) -> str:
        return str(self.reference["conversation"]["id"])

    @cached_property
    def conversation_reference(self) -> ConversationReference:
        """Read once per place: the SDK only reads it (continue_conversation)."""
        return ConversationReference().deserialize(self.reference)


class Conversations:
    def __init__(self, memory: PlatformMemory) -> None:
        self.memory = memory
        # key → text this process stored or read: an unchanged place is not written again, and
        # a form card, which never changes, is read once
        self._known: dict[str, str] = {}

    def remember(self, key: str, place: Place) -> None:
        self._put(f"teams:place:{key}", json.dumps(asdict(place), sort_keys=True))

    def place(self, key: str) -> Place | None:
        # Through the shared memory, not this object's cache: Teams may move a conversation
        # to another service URL, and the part that hears of it is not the one that delivers.
        text = self.memory.get(f"teams:place:{key}")
        return _place(text) if text else None

    def is_group_thread(self, key: str) -> bool:
        place = self.place(key) if ";messageid=" in key else None
        return place is not None and place.group_thread

    def remember_direct(self, user: str, place: Place) -> None:
        self.remember(f"direct:{user}", place)

    def direct(self, user: str) -> Place | None:
        return self.place(f"direct:{user}")

    def remember_form(self, ref: str, opened: OpenForm) -> None:
        self._put(f"teams:form:{ref}", dumps(opened))

    def form(self, ref: str) -> OpenForm | None:
        text = self._get(f"teams:form:{ref}")
        effect = loads(text) if text else None
        return effect if isinstance(effect, OpenForm) else None

    def _put(self, key: str, text: str) -> None:
        if self._known.get(key) != text:
            self.memory.put(key, text)
            self._known[key] = text

    def _get(self, key: str) -> str | None:
        if key not in self._known:
            text = self.memory.get(key)
            if text is None:
                return None
            self._known[key] = text
        return self._known[key]


@lru_cache(maxsize=10_000)
def _place(text: str) -> Place:
    """The place a remembered text says: one object for one text, so each delivery does not
    read it anew (nothing changes a Place; a moved conversation is a new text)."""
    return Place(**json.loads(text))
