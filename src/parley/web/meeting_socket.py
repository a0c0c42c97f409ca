"""Socket.IO `/meetings`: join a meeting, publish and subscribe through Janus, media state,
quality, chat, the assistant and the host's actions (protocol: docs/meetings-protocol.md).

Every request is validated before anything happens and answers through its acknowledgement,
`{"ok": true, ...}` or `{"ok": false, "error": {code, message}}`; a failure is also sent as an
`error {code, message, event}` event, for clients that send without one. The participant
registry's events (joins, leaves, kicks, mutes, changes, a meeting closing) are relayed to the
meeting's Socket.IO room, whatever caused them (this namespace or the REST API), and keep every
participant's subscription in line with who publishes.

PIN guesses are counted per connection, address (the TCP peer's: proxy headers are not trusted)
and meeting by the service's `PinGuard`; a refusal carries `retryAfter` (seconds), and the
meeting's hosts are sent `pin-attempts {failed, refused, lockedFor}` (counts only, never a PIN).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parley.config import Settings
from parley.errors import ConflictError, ForbiddenError, ParleyError
from parley.meetings.assistant import MeetingAssistant
from parley.meetings.domain import (
    MAX_CHAT,
    AssistantExchange,
    Meeting,
    Participant,
    ParticipantRole,
    clean_text,
)
from parley.meetings.events import RoomEvent, RoomEventKind
from parley.meetings.media import (
    MediaUnavailableError,
    MeetingMedia,
    Outbox,
    ParticipantMedia,
    Quality,
)
from parley.meetings.pin_guard import Guesser, PinNotice
from parley.meetings.ratelimit import RateLimit
from parley.meetings.service import MeetingService
from parley.tasks import TaskSet
from parley.web.meeting_schemas import (
    ChatMessagePublic,
    ExchangePublic,
    MeetingPublic,
    ParticipantPublic,
)
from parley.web.ordering import OrderedNamespace

log = logging.getLogger("parley.meetings.socket")
NAMESPACE = "/meetings"
MAX_SDP = 200_000
Model = TypeVar("Model", bound=BaseModel)
Reply = dict[str, Any]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class JoinRequest(_Request):
    meetingId: str = Field(min_length=1, max_length=64)
    displayName: str = Field(min_length=1, max_length=256)
    pin: str | None = Field(None, max_length=32)
    hostToken: str | None = Field(None, max_length=4096)


class Jsep(BaseModel):
    type: Literal["offer", "answer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP)


class PublishRequest(_Request):
    jsep: Jsep
    micOn: bool = True
    cameraOn: bool = True


class AnswerRequest(_Request):
    jsep: Jsep


class Candidate(BaseModel):
    candidate: str = Field(max_length=2000)
    sdpMid: str | None = Field(None, max_length=64)
    sdpMLineIndex: int | None = Field(None, ge=0, le=256)


class TrickleRequest(_Request):
    target: Literal["publisher", "subscriber"]
    candidate: Candidate | None = None


class MediaRequest(_Request):
    micOn: bool | None = None
    cameraOn: bool | None = None


class QualityRequest(_Request):
    quality: Literal["auto", "high", "medium", "low"]


class ChatRequest(_Request):
    text: str = Field(min_length=1, max_length=20_000)


class AskRequest(_Request):
    question: str = Field(min_length=1, max_length=20_000)


class TargetRequest(_Request):
    participantId: str = Field(min_length=1, max_length=64)


class MuteRequest(TargetRequest):
    mute: bool = True


class Empty(_Request):
    pass


@dataclass(slots=True)
class Member:
    """A joined socket: who they are, in which meeting, and their media in Janus."""

    sid: str
    meeting: Meeting
    participant: Participant
    host_token: str | None
    chat_limit: RateLimit
    media: ParticipantMedia | None = None
    asking: bool = False
    leaving_reason: str = "left"


def room_of(meeting_id: uuid.UUID) -> str:
    return f"meeting:{meeting_id}"


def participant_view(participant: Participant) -> dict[str, Any]:
    return _dump(ParticipantPublic.of(participant))


class MeetingsNamespace(OrderedNamespace):
    """Requests are kebab-case (`subscriber-answer`); handlers are `on_subscriber_answer`.
    Each connection's requests are handled in the order it sent them (`parley.web.ordering`)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(NAMESPACE)
        self._settings = settings
        self._members: dict[str, Member] = {}  # by sid
        self._sids: dict[str, str] = {}  # participant id -> sid
        self._service: MeetingService | None = None
        self._media: MeetingMedia | None = None
        self._assistant: MeetingAssistant | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks = TaskSet("meetings-socket")

    # -- lifecycle (the app's lifespan) ------------------------------------------------------

    def start(
        self, service: MeetingService, media: MeetingMedia, assistant: MeetingAssistant | None
    ) -> None:
        self._service, self._media, self._assistant = service, media, assistant
        rooms = service.participants.subscribe(self._on_room_event)
        pins = service.pins.subscribe(self._on_pin_notice)
        self._unsubscribe = _both(rooms, pins)

    async def aclose(self) -> None:
        """Server shutdown: everyone leaves (their media in Janus too)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._tasks.aclose()
        if self._assistant is not None:
            await self._assistant.aclose()
        for member in list(self._members.values()):
            await self._forget(member)
        if self._media is not None:
            await self._media.aclose()

    @property
    def members(self) -> int:
        return len(self._members)

    async def refused(self, sid: str, event: str, error: ParleyError) -> Reply:
        return await self._refuse(sid, event[:64], error)

    # -- requests ----------------------------------------------------------------------------

    async def on_join(self, sid: str, data: Any = None) -> Reply:
        async def join(request: JoinRequest) -> Reply:
            service = self._require_service()
            if sid in self._members:
                raise ConflictError("This connection is in a meeting already.",
                                    code="ALREADY_JOINED")  # fmt: skip
            meeting, participant = await service.join(
                request.meetingId,
                request.displayName,
                pin=request.pin,
                host_token=request.hostToken,
                limit=self._settings.meetings.max_participants,
                who=self._guesser(sid),
            )
            meetings = self._settings.meetings
            member = Member(
                sid, meeting, participant, request.hostToken if participant.role is
                ParticipantRole.HOST else None, RateLimit(meetings.chat_burst,
                meetings.chat_window_s),
            )  # fmt: skip
            self._members[sid] = member
            self._sids[participant.id] = sid
            await self.enter_room(sid, room_of(meeting.id))
            assert self._media is not None
            member.media = self._media.open(
                meeting, participant, self._outbox(sid), self._publishers_for(member)
            )
            if member.media is not None:
                member.media.on_unpublished = lambda: self._later(self._unpublished(member))
                member.media.sync()  # its first offer comes after this answer: Janus is slower
            if participant.role is ParticipantRole.HOST:
                self._later(self._on_pin_notice(service.pins.notice(meeting.id)), "pin-notice")
            return await self._welcome(member)

        return await self._request(sid, "join", JoinRequest, data, join, joined=False)

    async def _welcome(self, member: Member) -> Reply:
        service = self._require_service()
        meeting = member.meeting
        chat = await service.chat_history(meeting.id)
        exchanges = await service.assistant_history(meeting.id)
        mine = [e for e in exchanges if e.asker_id == member.participant.id]
        ready = service.rooms.is_ready(meeting)
        participants = service.participants_of(meeting)
        rtc = self._settings.webrtc
        return {
            "self": participant_view(member.participant),
            "meeting": _dump(
                MeetingPublic.of(meeting, participants=len(participants), media_ready=ready)
            ),
            "participants": [participant_view(p) for p in participants],
            "chat": [_dump(ChatMessagePublic.of(m)) for m in chat],
            "assistant": [_dump(ExchangePublic.of(e)) for e in mine],
            "iceServers": [{"urls": url} for url in rtc.stun_server_urls],
            "mediaReady": ready and self._media is not None and self._media.enabled,
        }

    async def on_publish(self, sid: str, data: Any = None) -> Reply:
        async def publish(request: PublishRequest, member: Member) -> Reply:
            if request.jsep.type != "offer":
                raise _invalid("publish needs an offer (jsep.type 'offer').")
            media = self._require_media(member)
            answer = await media.publish(request.jsep.sdp)
            participant = member.participant
            participant.mic_on = request.micOn and not participant.muted_by_host
            participant.camera_on = request.cameraOn
            service = self._require_service()
            if participant.muted_by_host and participant.feed_id and participant.audio_mid:
                await service.rooms.mute(
                    member.meeting, participant.feed_id, participant.audio_mid, mute=True
                )
            await service.participants.update(participant)
            return {"jsep": {"type": "answer", "sdp": answer}}

        return await self._request(sid, "publish", PublishRequest, data, publish)

    async def on_unpublish(self, sid: str, data: Any = None) -> Reply:
        async def unpublish(_: Empty, member: Member) -> Reply:
            if member.media is not None:
                await member.media.unpublish()
            await self._require_service().participants.update(member.participant)
            return {}

        return await self._request(sid, "unpublish", Empty, data, unpublish)

    async def on_subscriber_answer(self, sid: str, data: Any = None) -> Reply:
        async def answer(request: AnswerRequest, member: Member) -> Reply:
            if request.jsep.type != "answer":
                raise _invalid("subscriber-answer needs an answer (jsep.type 'answer').")
            await self._require_media(member).answer(request.jsep.sdp)
            return {}

        return await self._request(sid, "subscriber-answer", AnswerRequest, data, answer)

    async def on_trickle(self, sid: str, data: Any = None) -> Reply:
        async def trickle(request: TrickleRequest, member: Member) -> Reply:
            candidate = request.candidate.model_dump() if request.candidate else None
            if candidate is not None and not candidate["candidate"]:
                candidate = None  # an empty candidate is how browsers say "no more"
            await self._require_media(member).trickle(request.target, candidate)
            return {}

        return await self._request(sid, "trickle", TrickleRequest, data, trickle)

    async def on_media(self, sid: str, data: Any = None) -> Reply:
        async def media(request: MediaRequest, member: Member) -> Reply:
            participant = member.participant
            if request.micOn and participant.muted_by_host:
                raise ForbiddenError("The host has muted your microphone.", code="MUTED_BY_HOST")
            if request.micOn is not None:
                participant.mic_on = request.micOn
            if request.cameraOn is not None:
                participant.camera_on = request.cameraOn
            await self._require_service().participants.update(participant)
            return {"self": participant_view(participant)}

        return await self._request(sid, "media", MediaRequest, data, media)

    async def on_quality(self, sid: str, data: Any = None) -> Reply:
        async def quality(request: QualityRequest, member: Member) -> Reply:
            chosen: Quality = request.quality
            layer = await self._require_media(member).set_quality(chosen)
            return {"quality": chosen, "layer": layer}

        return await self._request(sid, "quality", QualityRequest, data, quality)

    async def on_chat(self, sid: str, data: Any = None) -> Reply:
        async def chat(request: ChatRequest, member: Member) -> Reply:
            text = clean_text(request.text, "text", MAX_CHAT, multiline=True)  # before counting
            if not member.chat_limit.allow():
                wait = member.chat_limit.retry_after()
                raise ConflictError(
                    f"Too many messages: wait {wait:.1f} s.", code="RATE_LIMITED",
                    retryAfter=round(wait, 1),
                )  # fmt: skip
            message = await self._require_service().post_message(member.participant, text)
            if self._assistant is not None:
                self._assistant.chat_changed(member.meeting.id)
            view = _dump(ChatMessagePublic.of(message))
            await self.emit("chat-message", {"message": view}, room=room_of(member.meeting.id))
            return {"message": view}

        return await self._request(sid, "chat", ChatRequest, data, chat)

    async def on_ask(self, sid: str, data: Any = None) -> Reply:
        async def ask(request: AskRequest, member: Member) -> Reply:
            if self._assistant is None:
                raise ConflictError("The assistant is not available.", code="NO_ASSISTANT")
            if member.asking:
                raise ConflictError("The assistant is still answering your last question.",
                                    code="ASSISTANT_BUSY")  # fmt: skip
            exchange = await self._require_service().ask(member.participant, request.question)
            member.asking = True
            self._later(self._answer(member, exchange), "assistant")
            return {"exchangeId": str(exchange.id)}

        return await self._request(sid, "ask", AskRequest, data, ask)

    async def _answer(self, member: Member, exchange: AssistantExchange) -> None:
        assert self._assistant is not None
        key = str(exchange.id)

        async def chunk(text: str) -> None:
            await self.emit("assistant-chunk", {"exchangeId": key, "text": text}, to=member.sid)

        try:
            done = await self._assistant.stream(exchange, member.participant, chunk)
        finally:
            member.asking = False
        if done.error is None:
            payload = {"exchangeId": key, "answer": done.answer,
                       "firstChunkMs": done.first_chunk_ms}  # fmt: skip
            await self.emit("assistant-done", payload, to=member.sid)
        else:
            payload = {"exchangeId": key, "code": "AI_PROVIDER_ERROR", "message": done.error,
                       "answer": done.answer}  # fmt: skip
            await self.emit("assistant-error", payload, to=member.sid)

    async def on_kick(self, sid: str, data: Any = None) -> Reply:
        async def kick(request: TargetRequest, member: Member) -> Reply:
            self._require_host(member)
            await self._require_service().kick(
                member.meeting.id, request.participantId, member.host_token
            )
            return {}

        return await self._request(sid, "kick", TargetRequest, data, kick)

    async def on_mute(self, sid: str, data: Any = None) -> Reply:
        async def mute(request: MuteRequest, member: Member) -> Reply:
            self._require_host(member)
            await self._require_service().mute(
                member.meeting.id, request.participantId, member.host_token, mute=request.mute
            )
            return {}

        return await self._request(sid, "mute", MuteRequest, data, mute)

    async def on_end_meeting(self, sid: str, data: Any = None) -> Reply:
        async def end(_: Empty, member: Member) -> Reply:
            self._require_host(member)
            await self._require_service().end(member.meeting.id, member.host_token)
            return {}

        return await self._request(sid, "end-meeting", Empty, data, end)

    async def on_leave(self, sid: str, data: Any = None) -> Reply:
        async def leave(_: Empty, member: Member) -> Reply:
            await self._leave(member, "left")
            return {}

        return await self._request(sid, "leave", Empty, data, leave)

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        if self._service is not None:
            self._service.pins.forget_connection(sid)
        member = self._members.get(sid)
        if member is not None:
            await self._leave(member, "disconnected")

    # -- the registry's events ---------------------------------------------------------------

    async def _on_room_event(self, event: RoomEvent) -> None:
        room = room_of(event.meeting_id)
        participant = event.participant
        kind = event.kind
        if kind is RoomEventKind.CLOSED:
            await self.emit("meeting-closed", {"reason": event.reason}, room=room)
            for gone in [m for m in self._members.values() if m.meeting.id == event.meeting_id]:
                await self._forget(gone)
            return
        if participant is None:
            return
        sid = self._sids.get(participant.id)
        if kind is RoomEventKind.JOINED:
            joined = {"participant": participant_view(participant)}
            await self.emit("participant-joined", joined, room=room, skip_sid=sid)
        elif kind in (RoomEventKind.LEFT, RoomEventKind.KICKED):
            member = self._members.get(sid) if sid else None
            reason = "kicked" if kind is RoomEventKind.KICKED else "left"
            if member is not None and kind is RoomEventKind.LEFT:
                reason = member.leaving_reason
            if member is not None and kind is RoomEventKind.KICKED:
                await self.emit("kicked", {"reason": "The host removed you."}, to=member.sid)
            if member is not None:
                await self._forget(member)
            left = {"participantId": participant.id, "reason": reason}
            await self.emit("participant-left", left, room=room)
        elif kind in (RoomEventKind.MUTED, RoomEventKind.UNMUTED):
            muted = kind is RoomEventKind.MUTED
            if muted:
                participant.mic_on = False
            if sid is not None:
                await self.emit("muted-by-host", {"muted": muted}, to=sid)
            await self.emit("participant-updated", {"participant": participant_view(participant)},
                            room=room)  # fmt: skip
        elif kind is RoomEventKind.UPDATED:
            await self.emit("participant-updated", {"participant": participant_view(participant)},
                            room=room)  # fmt: skip
        self._resync(event.meeting_id)

    async def _on_pin_notice(self, notice: PinNotice | None) -> None:
        """Tell the meeting's hosts how many wrong PINs were tried (an attack, or a guest who
        cannot type): counts and the pause only, never a PIN or who tried."""
        if notice is None:
            return
        payload = {"failed": notice.failed, "refused": notice.refused,
                   "lockedFor": math.ceil(notice.locked_for)}  # fmt: skip
        for member in list(self._members.values()):
            if member.meeting.id == notice.meeting_id and member.host_token is not None:
                await self.emit("pin-attempts", payload, to=member.sid)

    # -- helpers -----------------------------------------------------------------------------

    async def _request(
        self,
        sid: str,
        event: str,
        model: type[Model],
        data: Any,
        handler: Callable[..., Awaitable[Reply]],
        *,
        joined: bool = True,
    ) -> Reply:
        try:
            request = _parse(model, {} if data is None else data)
            if not joined:
                reply = await handler(request)
            else:
                member = self._members.get(sid)
                if member is None:
                    raise ConflictError("Join a meeting first (join).", code="NOT_JOINED")
                reply = await handler(request, member)
        except ParleyError as exc:
            return await self._refuse(sid, event, exc)
        return {"ok": True, **reply}

    async def _refuse(self, sid: str, event: str, exc: ParleyError) -> Reply:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if "retryAfter" in exc.details:  # TOO_MANY_ATTEMPTS, WRONG_PIN, RATE_LIMITED
            error["retryAfter"] = exc.details["retryAfter"]
        await self.emit("error", {**error, "event": event}, to=sid)
        return {"ok": False, "error": error}

    async def _leave(self, member: Member, reason: str) -> None:
        member.leaving_reason = reason
        service = self._require_service()
        await service.leave(member.participant)  # LEFT: relayed, then forgotten
        if member.sid in self._members:  # the meeting was gone from the registry already
            await self._forget(member)

    async def _forget(self, member: Member) -> None:
        """Drop a member's state and media (after they left, were kicked, or it closed)."""
        self._members.pop(member.sid, None)
        if self._sids.get(member.participant.id) == member.sid:
            self._sids.pop(member.participant.id, None)
        with suppress(KeyError, ValueError):
            await self.leave_room(member.sid, room_of(member.meeting.id))
        if self._media is not None:
            await self._media.close(member.participant.id)

    def _resync(self, meeting_id: uuid.UUID) -> None:
        for member in self._members.values():
            if member.meeting.id == meeting_id and member.media is not None:
                member.media.sync()

    async def _unpublished(self, member: Member) -> None:
        if member.media is not None and self._members.get(member.sid) is member:
            await member.media.unpublish()
            await self._require_service().participants.update(member.participant)

    def _publishers_for(self, member: Member) -> Callable[[], set[int]]:
        service = self._require_service()

        def publishers() -> set[int]:
            return {
                p.feed_id
                for p in service.participants_of(member.meeting)
                if p.id != member.participant.id and p.feed_id is not None
            }

        return publishers

    def _guesser(self, sid: str) -> Guesser:
        """Who this connection is, for counting PIN guesses: its peer's address."""
        environ = self.server.get_environ(sid, namespace=self.namespace) or {}
        client = environ.get("asgi.scope", {}).get("client")
        return Guesser.at(client[0] if client else None, sid)

    def _outbox(self, sid: str) -> Outbox:
        async def send(event: str, payload: dict[str, Any]) -> None:
            await self.emit(event, payload, to=sid)

        return send

    def _later(self, coro: Any, name: str = "relay") -> None:
        self._tasks.start(coro, name)

    def _require_service(self) -> MeetingService:
        if self._service is None:
            raise ConflictError("The server is starting; try again.", code="NOT_READY")
        return self._service

    def _require_media(self, member: Member) -> ParticipantMedia:
        if member.media is None:
            raise MediaUnavailableError("Meetings have no media server here (Janus is off).")
        return member.media

    @staticmethod
    def _require_host(member: Member) -> None:
        if member.participant.role is not ParticipantRole.HOST or member.host_token is None:
            raise ForbiddenError("Only the meeting's host can do that.", code="NOT_HOST")


def _parse(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise _invalid(f"Invalid {model.__name__}: {where}: {first['msg']}") from None


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        first()
        second()

    return run


def _invalid(message: str) -> ParleyError:
    return ParleyError(message, code="INVALID_PAYLOAD")


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)
