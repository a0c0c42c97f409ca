"""`LiveParticipants`: who is in which live meeting, in this process's memory.

The `/meetings` Socket.IO namespace adds people as they join and updates their publication
(`feed_id`, `audio_mid`, mic and camera); the host's actions remove and mute them. Every change is
told to the listeners, in order, each listener's failure logged and not spread. A deployment of
several processes would put a shared implementation of `ports.ParticipantRegistry` here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from parley.meetings.domain import Participant
from parley.meetings.events import RoomEvent, RoomEventKind
from parley.meetings.ports import RoomListener

log = logging.getLogger("parley.meetings")


class LiveParticipants:
    def __init__(self) -> None:
        self._rooms: dict[uuid.UUID, dict[str, Participant]] = {}
        self._listeners: list[RoomListener] = []

    def get(self, meeting_id: uuid.UUID, participant_id: str) -> Participant | None:
        return self._rooms.get(meeting_id, {}).get(participant_id)

    def in_meeting(self, meeting_id: uuid.UUID) -> list[Participant]:
        """The meeting's participants, in the order they joined."""
        return list(self._rooms.get(meeting_id, {}).values())

    def count(self, meeting_id: uuid.UUID) -> int:
        return len(self._rooms.get(meeting_id, {}))

    async def add(self, participant: Participant) -> None:
        self._rooms.setdefault(participant.meeting_id, {})[participant.id] = participant
        await self._tell(RoomEvent(RoomEventKind.JOINED, participant.meeting_id, participant))

    async def remove(
        self, meeting_id: uuid.UUID, participant_id: str, *, kicked: bool = False
    ) -> Participant | None:
        room = self._rooms.get(meeting_id, {})
        participant = room.pop(participant_id, None)
        if not room:
            self._rooms.pop(meeting_id, None)
        if participant is not None:
            kind = RoomEventKind.KICKED if kicked else RoomEventKind.LEFT
            await self._tell(RoomEvent(kind, meeting_id, participant))
        return participant

    async def set_muted_by_host(
        self, meeting_id: uuid.UUID, participant_id: str, *, muted: bool
    ) -> Participant | None:
        participant = self.get(meeting_id, participant_id)
        if participant is not None:
            participant.muted_by_host = muted
            if muted:  # their microphone is off for everyone until the host lifts it
                participant.mic_on = False
            kind = RoomEventKind.MUTED if muted else RoomEventKind.UNMUTED
            await self._tell(RoomEvent(kind, meeting_id, participant))
        return participant

    async def update(self, participant: Participant) -> None:
        """Tell the listeners that `participant` (mic, camera, publication) changed."""
        if self.get(participant.meeting_id, participant.id) is participant:
            await self._tell(RoomEvent(RoomEventKind.UPDATED, participant.meeting_id, participant))

    async def close(self, meeting_id: uuid.UUID, reason: str) -> list[Participant]:
        gone = list(self._rooms.pop(meeting_id, {}).values())
        await self._tell(RoomEvent(RoomEventKind.CLOSED, meeting_id, reason=reason))
        return gone

    def subscribe(self, listener: RoomListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def _tell(self, event: RoomEvent) -> None:
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:
                log.exception("a listener of meeting %s failed on %s", event.meeting_id, event.kind)
