"""What the `/meetings` namespace knows of a connection, and where it keeps it.

    Socket.IO session     the connection's `Seat`: meeting and participant ids, the host's
                          token, its chat allowance, whether it waits for the assistant
    Socket.IO rooms       `meeting:<id>` (everyone in it), `hosts:<id>` (its hosts),
                          `participant:<id>` (one participant's connection), `members` (every
                          joined connection of this process: the count)
    the service           the `Participant` itself (`MeetingService.participants`, a registry
                          behind a Protocol)
    `MeetingMedia`        a participant's Janus handles (not serializable), by participant id

Nothing is kept in a dict keyed by connection on the namespace: fan-out goes through rooms and
state through the session, so the server can be given another python-socketio `client_manager`
(e.g. Redis, for several processes) without rewriting a handler.
"""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from parley.config import Settings
from parley.errors import ConflictError
from parley.meetings.assistant import MeetingAssistant
from parley.meetings.domain import Participant
from parley.meetings.media import MeetingMedia, Outbox
from parley.meetings.ratelimit import RateLimit
from parley.meetings.service import MeetingService
from parley.tasks import TaskSet
from parley.web.meeting_schemas import ParticipantPublic
from parley.web.socket_base import NotJoinedError, SocketNamespace

NAMESPACE = "/meetings"
MEMBERS = "members"
SEAT = "seat"  # the key of a connection's `Seat` in its Socket.IO session


def meeting_room(meeting_id: uuid.UUID) -> str:
    return f"meeting:{meeting_id}"


def hosts_room(meeting_id: uuid.UUID) -> str:
    return f"hosts:{meeting_id}"


def participant_room(participant_id: str) -> str:
    return f"participant:{participant_id}"


def participant_view(participant: Participant) -> dict[str, Any]:
    return ParticipantPublic.of(participant).model_dump(mode="json", by_alias=True)


@dataclass(slots=True)
class Seat:
    """A joined connection's own state, in its Socket.IO session: plain values only."""

    meeting_id: uuid.UUID
    participant_id: str
    host_token: str | None  # a host's, checked again by the service on each action
    chat: RateLimit
    asking: bool = False  # a question to the assistant is being answered
    leaving: str = "left"  # the reason its `participant-left` gives


@dataclass(frozen=True, slots=True)
class Member:
    """What a request of a joined connection is handled with: the connection, its seat, and
    the participant it is (found in the registry for each request, so one kicked or whose
    meeting closed is no member any more, whatever process did it)."""

    sid: str
    seat: Seat
    participant: Participant


class MeetingSocketBase(SocketNamespace[Member]):
    """The namespace's state and the seat bookkeeping its handlers share."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(NAMESPACE)
        self._settings = settings
        self._service: MeetingService | None = None
        self._media: MeetingMedia | None = None
        self._assistant: MeetingAssistant | None = None
        self._tasks = TaskSet("meetings-socket")

    @property
    def members(self) -> int:
        """Connections of this process in a meeting."""
        return len(self.local(MEMBERS))

    def local(self, room: str) -> list[str]:
        """The connections of this process in `room` (those another process serves are told
        through the client manager, by `emit(room=...)`)."""
        return [sid for sid, _ in self.server.manager.get_participants(self.namespace, room)]

    # -- seats -------------------------------------------------------------------------------

    async def joined(self, sid: str, body: Any) -> Member:
        member = await self.member(sid)
        if member is None:
            raise NotJoinedError("Join a meeting first (join).")
        return member

    async def member(self, sid: str) -> Member | None:
        seat = await self.seat(sid)
        if seat is None:
            return None
        participant = self.service.participants.get(seat.meeting_id, seat.participant_id)
        return Member(sid, seat, participant) if participant is not None else None

    async def seat(self, sid: str) -> Seat | None:
        with suppress(KeyError):  # the connection is gone
            session: dict[str, Any] = await self.get_session(sid)
            seat = session.get(SEAT)
            return seat if isinstance(seat, Seat) else None
        return None

    async def save_seat(self, sid: str, seat: Seat | None) -> None:
        with suppress(KeyError):
            session: dict[str, Any] = await self.get_session(sid)
            session[SEAT] = seat
            await self.save_session(sid, session)

    async def sit(self, sid: str, seat: Seat, *, host: bool) -> None:
        """Connection `sid` is now `seat`: in its session and its rooms."""
        await self.save_seat(sid, seat)
        rooms = [MEMBERS, meeting_room(seat.meeting_id), participant_room(seat.participant_id)]
        for room in [*rooms, hosts_room(seat.meeting_id)] if host else rooms:
            await self.enter_room(sid, room)

    async def forget(self, sid: str) -> None:
        """Drop a connection's seat, rooms and media (it left, was kicked, or the meeting
        closed); nothing when it has no seat."""
        seat = await self.seat(sid)
        if seat is None:
            return
        await self.save_seat(sid, None)
        with suppress(KeyError):  # gone: python-socketio has emptied its rooms
            for room in self.rooms(sid):
                if room != sid:
                    await self.leave_room(sid, room)
        if self._media is not None:
            await self._media.close(seat.participant_id)

    # -- shared helpers ----------------------------------------------------------------------

    @property
    def service(self) -> MeetingService:
        if self._service is None:
            raise ConflictError("The server is starting; try again.", code="NOT_READY")
        return self._service

    def outbox(self, sid: str) -> Outbox:
        async def send(event: str, payload: dict[str, Any]) -> None:
            await self.emit(event, payload, to=sid)

        return send

    def resync(self, meeting_id: uuid.UUID) -> None:
        """Bring every subscription in the meeting in line with who publishes now."""
        for media in self._media.of_meeting(meeting_id) if self._media is not None else []:
            media.sync()

    def later(self, coro: Coroutine[Any, Any, None], name: str = "relay") -> None:
        self._tasks.start(coro, name)
