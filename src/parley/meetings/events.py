"""What happens in a live meeting, as the participant registry reports it to its listeners
(the `/meetings` Socket.IO namespace relays them to the browsers)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from parley.meetings.domain import Participant


class RoomEventKind(enum.StrEnum):
    JOINED = "joined"
    LEFT = "left"
    KICKED = "kicked"
    MUTED = "muted"  # by the host
    UNMUTED = "unmuted"
    UPDATED = "updated"  # their microphone, camera or publication changed
    CLOSED = "closed"  # ended or deleted: everyone is out


@dataclass(frozen=True, slots=True)
class RoomEvent:
    kind: RoomEventKind
    meeting_id: uuid.UUID
    participant: Participant | None = None
    reason: str = ""
