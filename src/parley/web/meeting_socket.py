"""Socket.IO `/meetings`: join a meeting, publish and subscribe through Janus, media state,
quality, chat, the assistant and the host's actions (protocol: docs/meetings-protocol.md).

Requests follow the namespaces' one convention (`parley.web.socket_base`): validated before
anything happens, answered through the acknowledgement, `{"ok": true, ...}` or
`{"ok": false, "error": {code, message}}`, a failure also sent as an `error {code, message,
event}` event, for clients that send without one. The handlers are split by concern, each a
class of its own that this one combines (python-socketio finds `on_<event>` by name):

    MeetingsNamespace      joining, leaving, the host's actions; the lifecycle
    ├── TalkRequests       chat and the assistant (meeting_talk_events.py)
    ├── RoomRelay          the registry's events and PIN notices, to the rooms (meeting_relay.py)
    └── MediaRequests      publish, subscribe, candidates, mic/camera, quality
                           (meeting_media_events.py)
        all on MeetingSocketBase: seats in the Socket.IO session, rooms (meeting_connection.py)

What a participant may do is the meetings service's rule (who may unmute, who is a host, how
fast one may chat); this only translates. PIN guesses are counted per connection, address (the
TCP peer's: proxy headers are not trusted) and meeting by the service's `PinGuard`; a refusal
carries `retryAfter` (seconds), and the meeting's hosts are sent `pin-attempts {failed,
refused, lockedFor}` (counts only, never a PIN).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from parley.config import Settings
from parley.errors import ConflictError
from parley.meetings.assistant import MeetingAssistant
from parley.meetings.domain import Meeting, Participant, ParticipantRole
from parley.meetings.media import MeetingMedia
from parley.meetings.pin_guard import Guesser
from parley.meetings.ratelimit import RateLimit
from parley.meetings.service import MeetingService
from parley.web.meeting_connection import MEMBERS, NAMESPACE, Member, Seat, participant_view
from parley.web.meeting_media_events import MediaRequests
from parley.web.meeting_relay import RoomRelay
from parley.web.meeting_requests import JoinRequest, MuteRequest, TargetRequest
from parley.web.meeting_schemas import ChatMessagePublic, ExchangePublic, MeetingPublic
from parley.web.meeting_talk_events import TalkRequests
from parley.web.socket_base import Reply, handles
from parley.web.socket_schemas import Empty

__all__ = ["NAMESPACE", "MeetingsNamespace"]


class MeetingsNamespace(TalkRequests, RoomRelay, MediaRequests):
    """Requests are kebab-case (`subscriber-answer`); handlers are `on_subscriber_answer`.
    Each connection's requests are handled in the order it sent them (`parley.web.ordering`)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle (the app's lifespan) ------------------------------------------------------

    def start(
        self, service: MeetingService, media: MeetingMedia, assistant: MeetingAssistant | None
    ) -> None:
        self._service, self._media, self._assistant = service, media, assistant
        rooms = service.participants.subscribe(self.on_room_event)
        pins = service.pins.subscribe(self.on_pin_notice)
        self._unsubscribe = _both(rooms, pins)

    async def aclose(self) -> None:
        """Server shutdown: everyone's connection is forgotten (their media in Janus too)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._tasks.aclose()
        if self._assistant is not None:
            await self._assistant.aclose()
        if self.server is not None:
            for sid in self.local(MEMBERS):
                await self.forget(sid)
        if self._media is not None:
            await self._media.aclose()

    # -- joining and leaving -----------------------------------------------------------------

    @handles(JoinRequest, joined=False)
    async def on_join(self, sid: str, body: JoinRequest) -> Reply:
        service = self.service
        if await self.member(sid) is not None:
            raise ConflictError("This connection is in a meeting already.", code="ALREADY_JOINED")
        await self.forget(sid)  # a seat left from a meeting it is no longer in
        meeting, participant = await service.join(
            body.meetingId,
            body.displayName,
            pin=body.pin,
            host_token=body.hostToken,
            limit=self._settings.meetings.max_participants,
            who=self._guesser(sid),
        )
        host = participant.role is ParticipantRole.HOST
        await self.sit(sid, self._seat_of(participant, body.hostToken if host else None), host=host)
        self.open_media(sid, meeting, participant)
        if host:
            self.later(self.on_pin_notice(service.pins.notice(meeting.id)), "pin-notice")
        return await self._welcome(meeting, participant)

    def _seat_of(self, participant: Participant, host_token: str | None) -> Seat:
        rules = self._settings.meetings
        allowance = RateLimit(rules.chat_burst, rules.chat_window_s)
        return Seat(participant.meeting_id, participant.id, host_token, allowance)

    async def _welcome(self, meeting: Meeting, participant: Participant) -> Reply:
        service = self.service
        chat = await service.chat_history(meeting.id)
        exchanges = await service.assistant_history(meeting.id)
        mine = [e for e in exchanges if e.asker_id == participant.id]
        ready = service.rooms.is_ready(meeting)
        participants = service.participants_of(meeting)
        public = MeetingPublic.of(meeting, participants=len(participants), media_ready=ready)
        return {
            "self": participant_view(participant),
            "meeting": _dump(public),
            "participants": [participant_view(p) for p in participants],
            "chat": [_dump(ChatMessagePublic.of(m)) for m in chat],
            "assistant": [_dump(ExchangePublic.of(e)) for e in mine],
            "iceServers": [{"urls": url} for url in self._settings.webrtc.stun_server_urls],
            "mediaReady": ready and self._media is not None and self._media.enabled,
        }

    @handles(Empty)
    async def on_leave(self, sid: str, body: Empty, member: Member) -> Reply:
        await self._leave(member, "left")
        return {}

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        if self._service is None:
            return
        self._service.pins.forget_connection(sid)
        member = await self.member(sid)
        if member is not None:
            await self._leave(member, "disconnected")
        else:
            await self.forget(sid)

    async def _leave(self, member: Member, reason: str) -> None:
        member.seat.leaving = reason
        await self.save_seat(member.sid, member.seat)
        await self.service.leave(member.participant)  # LEFT: relayed, and forgotten there
        await self.forget(member.sid)  # when the meeting was gone from the registry already

    def _guesser(self, sid: str) -> Guesser:
        """Who this connection is, for counting PIN guesses: its peer's address."""
        environ = self.server.get_environ(sid, namespace=self.namespace) or {}
        client = environ.get("asgi.scope", {}).get("client")
        return Guesser.at(client[0] if client else None, sid)

    # -- the host's actions ------------------------------------------------------------------

    @handles(TargetRequest)
    async def on_kick(self, sid: str, body: TargetRequest, member: Member) -> Reply:
        token = member.participant.host_token(member.seat.host_token)
        await self.service.kick(member.seat.meeting_id, body.participantId, token)
        return {}

    @handles(MuteRequest)
    async def on_mute(self, sid: str, body: MuteRequest, member: Member) -> Reply:
        token = member.participant.host_token(member.seat.host_token)
        meeting_id, target = member.seat.meeting_id, body.participantId
        await self.service.mute(meeting_id, target, token, mute=body.mute)
        return {}

    @handles(Empty)
    async def on_end_meeting(self, sid: str, body: Empty, member: Member) -> Reply:
        token = member.participant.host_token(member.seat.host_token)
        await self.service.end(member.seat.meeting_id, token)
        return {}


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        first()
        second()

    return run


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)
