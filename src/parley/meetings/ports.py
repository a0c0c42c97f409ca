"""What the meetings use cases need from the outside, as small protocols.

MeetingStore, ChatStore, AssistantStore   storage (`parley.storage.meeting_stores`)
MeetingRooms                              the SFU side: one Janus VideoRoom room per meeting
                                          (`janus_rooms.JanusRooms`, or `PendingRooms`)
ParticipantRegistry                       who is in which live meeting; the `/meetings`
                                          Socket.IO namespace adds and updates them, the host's
                                          REST actions remove and mute them
                                          (`participants.LiveParticipants`)
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from parley.meetings.domain import AssistantExchange, ChatMessage, Meeting, Participant
from parley.meetings.events import RoomEvent


@dataclass(frozen=True, slots=True)
class Page:
    offset: int = 0
    limit: int = 20


class MeetingStore(Protocol):
    async def add_meeting(self, meeting: Meeting) -> None:
        """Insert a new meeting."""

    async def get_meeting(self, meeting_id: uuid.UUID) -> Meeting | None:
        """The meeting (deleted ones too: the caller decides), or None."""

    async def list_meetings(self, page: Page) -> tuple[list[Meeting], int]:
        """One page of the meetings not deleted, newest first, and how many there are."""

    async def live_meetings(self) -> list[Meeting]:
        """Every meeting neither ended nor deleted (those whose rooms Janus must have)."""

    async def mark_ended(self, meeting_id: uuid.UUID, at: datetime) -> bool:
        """Stamp `ended_at` if the meeting is live; False if it was not (nothing written)."""

    async def mark_deleted(self, meeting_id: uuid.UUID, at: datetime) -> bool:
        """Stamp `deleted_at` unless already deleted; False if it was (nothing written)."""


class ChatStore(Protocol):
    async def add_message(self, message: ChatMessage) -> ChatMessage:
        """Store the message; it comes back with its `id`."""

    async def recent_messages(
        self, meeting_id: uuid.UUID, limit: int, *, before_id: int | None = None
    ) -> list[ChatMessage]:
        """The last `limit` messages (before `before_id` when given), oldest first."""


class AssistantStore(Protocol):
    async def add_exchange(self, exchange: AssistantExchange) -> None:
        """Store a question as it is asked."""

    async def save_exchange(self, exchange: AssistantExchange) -> None:
        """Store its outcome: answer, status, error, times."""

    async def recent_exchanges(self, meeting_id: uuid.UUID, limit: int) -> list[AssistantExchange]:
        """The last `limit` exchanges, oldest first."""


class MeetingRooms(Protocol):
    """The meetings' rooms in the SFU. Failures of the SFU never fail a meeting's creation: its
    room stays pending and is made later (see `janus_rooms`)."""

    def is_ready(self, meeting: Meeting) -> bool:
        """Whether the meeting's room exists in the SFU now."""

    async def open(self, meeting: Meeting) -> bool:
        """Make sure the room exists (idempotent); False when it could not be made now."""

    async def close(self, meeting: Meeting) -> None:
        """Destroy the room, everyone in it leaves (idempotent; best effort)."""

    async def kick(self, meeting: Meeting, feed_id: int) -> None:
        """Remove a publisher from the room."""

    async def mute(self, meeting: Meeting, feed_id: int, mid: str, *, mute: bool) -> None:
        """Stop (or let again) one stream of a publisher reach the others (Janus `moderate`)."""


RoomListener = Callable[[RoomEvent], Awaitable[None]]


class ParticipantRegistry(Protocol):
    def get(self, meeting_id: uuid.UUID, participant_id: str) -> Participant | None: ...

    def in_meeting(self, meeting_id: uuid.UUID) -> list[Participant]: ...

    async def add(self, participant: Participant) -> None:
        """Someone joined; listeners hear JOINED."""

    async def remove(
        self, meeting_id: uuid.UUID, participant_id: str, *, kicked: bool = False
    ) -> Participant | None:
        """Someone left (or was kicked out); listeners hear LEFT or KICKED."""

    async def set_muted_by_host(
        self, meeting_id: uuid.UUID, participant_id: str, *, muted: bool
    ) -> Participant | None:
        """The host muted (or let speak again) someone; listeners hear MUTED or UNMUTED."""

    async def update(self, participant: Participant) -> None:
        """Their microphone, camera or publication changed; listeners hear UPDATED."""

    def count(self, meeting_id: uuid.UUID) -> int: ...

    async def close(self, meeting_id: uuid.UUID, reason: str) -> list[Participant]:
        """The meeting is over for everyone (`reason`: "ended" or "deleted"); listeners hear
        CLOSED, and the registry forgets the meeting."""

    def subscribe(self, listener: RoomListener) -> Callable[[], None]:
        """Call `listener` for every event of every meeting; returns the unsubscriber."""
