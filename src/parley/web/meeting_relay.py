"""What happens in a meeting, told to its Socket.IO rooms: the participant registry's events
(joins, leaves, kicks, mutes, changes, a meeting closing), whatever caused them (this namespace
or the REST API), and the PIN guard's notices to the hosts. After each, every subscription in
the meeting follows who publishes."""

from __future__ import annotations

import math

from parley.meetings.domain import Participant
from parley.meetings.events import RoomEvent, RoomEventKind
from parley.meetings.pin_guard import PinNotice
from parley.web.meeting_connection import (
    MeetingSocketBase,
    hosts_room,
    meeting_room,
    participant_room,
    participant_view,
)

GONE = (RoomEventKind.LEFT, RoomEventKind.KICKED)
MUTES = (RoomEventKind.MUTED, RoomEventKind.UNMUTED)


class RoomRelay(MeetingSocketBase):
    async def on_room_event(self, event: RoomEvent) -> None:
        if event.kind is RoomEventKind.CLOSED:
            await self._closed(event)
            return
        participant = event.participant
        if participant is None:
            return
        room = meeting_room(event.meeting_id)
        if event.kind is RoomEventKind.JOINED:
            joined = {"participant": participant_view(participant)}
            await self.emit("participant-joined", joined, room=room)  # not seated yet: not told
        elif event.kind in GONE:
            await self._gone(event, participant)
        elif event.kind in MUTES:
            muted = event.kind is RoomEventKind.MUTED
            await self.emit(
                "muted-by-host", {"muted": muted}, room=participant_room(participant.id)
            )
        if event.kind in (*MUTES, RoomEventKind.UPDATED):
            updated = {"participant": participant_view(participant)}
            await self.emit("participant-updated", updated, room=room)
        self.resync(event.meeting_id)

    async def on_pin_notice(self, notice: PinNotice | None) -> None:
        """Tell the meeting's hosts how many wrong PINs were tried (an attack, or a guest who
        cannot type): counts and the pause only, never a PIN or who tried."""
        if notice is None:
            return
        counts = {"failed": notice.failed, "refused": notice.refused}
        payload = {**counts, "lockedFor": math.ceil(notice.locked_for)}
        await self.emit("pin-attempts", payload, room=hosts_room(notice.meeting_id))

    async def _gone(self, event: RoomEvent, participant: Participant) -> None:
        """They left or were kicked: their connection (if this process serves it) is told and
        forgotten first, then everyone else."""
        kicked = event.kind is RoomEventKind.KICKED
        reason = "kicked" if kicked else "left"
        for sid in self.local(participant_room(participant.id)):
            seat = await self.seat(sid)
            if kicked:
                await self.emit("kicked", {"reason": "The host removed you."}, to=sid)
            elif seat is not None:
                reason = seat.leaving
            await self.forget(sid)
        left = {"participantId": participant.id, "reason": reason}
        await self.emit("participant-left", left, room=meeting_room(event.meeting_id))

    async def _closed(self, event: RoomEvent) -> None:
        room = meeting_room(event.meeting_id)
        await self.emit("meeting-closed", {"reason": event.reason}, room=room)
        for sid in self.local(room):
            await self.forget(sid)
