"""Socket.IO `/signaling`: the original system's events, unchanged, plus Parley's own.

Every payload is validated before anything happens; a bad one gets `error {message, code}` and
changes nothing. The server answers offers itself as the peer `ai-server` (aiortc gathers its
candidates before answering, so its candidates travel inside the answer's SDP).

A session belongs to one connection at a time (`SessionHolders`), and a call's events go to that
connection alone: a stranger who learned a session id can neither hear the call nor end it. As
no other connection shares a session, `peer-joined`, `peer-left` and `peer-disconnected` (which
the original sent to a session's *other* peers) have nobody to go to.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parley.ai.base import Language
from parley.ai.turns import TurnConfig
from parley.calls.domain import Call, CallStatus
from parley.calls.live import LiveCalls, LiveOptions
from parley.calls.service import CallService
from parley.config import Settings
from parley.errors import ParleyError
from parley.web.ordering import OrderedNamespace

log = logging.getLogger("parley.signaling")
AI_PEER = "ai-server"
MAX_SDP = 100_000
TAKEN = (
    "Another connection holds this call's session; it can be joined again once that "
    "connection has left or closed."
)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sessionId: str = Field(min_length=1, max_length=128)
    peerId: str = Field(min_length=1, max_length=128)


class JoinSession(_Payload):
    """`callId` is optional: the original's table says it is required, but its own published
    example leaves it out; the call is then found by its `sessionId`."""

    callId: str | None = Field(None, min_length=1, max_length=64)
    language: Literal["ko", "en"] | None = None
    voice: str | None = Field(None, max_length=40)
    systemPrompt: str | None = Field(None, max_length=4000)


class SessionDescription(BaseModel):
    type: Literal["offer", "answer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP)


class Offer(_Payload):
    offer: SessionDescription


class Answer(_Payload):
    answer: SessionDescription


class CandidateInit(BaseModel):
    candidate: str = Field(max_length=2000)
    sdpMid: str | None = Field(None, max_length=64)
    sdpMLineIndex: int | None = Field(None, ge=0, le=64)


class IceCandidate(_Payload):
    candidate: CandidateInit | None = None


class SessionHolders:
    """Which connection holds each call's signaling session: one at a time.

    The first connection to join a session holds it until it leaves, joins another session or
    disconnects; meanwhile every other connection is refused (`SESSION_TAKEN`). The caller's own
    client, reconnecting after a network drop, joins again from its new connection once the
    server has seen the old one go: at once when it closed cleanly, else at the Socket.IO ping
    timeout (25 + 20 s by default). A live call ends with its connection, as before; a session
    joined but not yet called (no offer) is simply free again.

    In memory, per process: connections are sticky to a process. With several nodes (issue 18)
    two connections for one session may reach different nodes, so the hold moves to shared
    storage then (a compare-and-set on the call's row or a Redis key, released on disconnect and
    by the lease of a node that died).
    """

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._holders)

    def take(self, session_id: str, sid: str) -> bool:
        """Hold `session_id` for connection `sid`; False if another connection holds it."""
        return self._holders.setdefault(session_id, sid) == sid

    def release(self, session_id: str, sid: str) -> None:
        if self._holders.get(session_id) == sid:
            del self._holders[session_id]


class ConnectionEvents:
    """Where a live call reports: the one connection that holds its session (not a room, which
    anyone who joined it would hear)."""

    def __init__(self, namespace: SignalingNamespace, sid: str) -> None:
        self._namespace = namespace
        self._sid = sid

    async def emit(self, event: str, payload: dict[str, Any]) -> None:
        await self._namespace.emit(event, payload, to=self._sid)


class SignalingNamespace(OrderedNamespace):
    """The original events are kebab-case (`join-session`); handlers are `on_join_session`.
    Each connection's events are handled in the order it sent them (`parley.web.ordering`)."""

    def __init__(self, settings: Settings, state: Any) -> None:
        """`state` is the app's state, where the lifespan puts `calls` and `live` once started."""
        super().__init__("/signaling")
        self._settings = settings
        self._state = state
        self.holders = SessionHolders()

    @property
    def _calls(self) -> CallService:
        calls: CallService = self._state.calls
        return calls

    @property
    def _live(self) -> LiveCalls:
        live: LiveCalls = self._state.live
        return live

    async def _error(self, sid: str, message: str, code: str) -> None:
        await self.emit("error", {"message": message, "code": code}, to=sid)

    async def _parse(self, sid: str, model: type[BaseModel], data: Any) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            await self._error(
                sid, f"Invalid {model.__name__} payload: {where}: {first['msg']}", "INVALID_PAYLOAD"
            )
            return None

    async def _joined(self, sid: str, session_id: str) -> dict[str, Any] | None:
        session: dict[str, Any] = await self.get_session(sid)
        if session.get("sessionId") != session_id:
            await self._error(sid, "Join the session first (join-session).", "NOT_JOINED")
            return None
        return session

    async def on_join_session(self, sid: str, data: Any = None) -> None:
        message = await self._parse(sid, JoinSession, data)
        if message is None:
            return
        try:
            call = await self._call_of(message)
        except ParleyError as exc:
            await self._error(sid, exc.message, exc.code)
            return
        if not call.has_session(message.sessionId):
            await self._error(
                sid, "That sessionId does not belong to that call.", "SESSION_MISMATCH"
            )
            return
        if not self.holders.take(message.sessionId, sid):
            await self._error(sid, TAKEN, "SESSION_TAKEN")
            return
        previous: dict[str, Any] = await self.get_session(sid)
        session = message.model_dump(exclude={"callId"}) | {"callId": str(call.id)}
        await self.save_session(sid, session)  # from here on, a disconnect lets the hold go
        if previous.get("sessionId") not in (None, message.sessionId):
            await self._release(sid, previous)  # one connection carries one call at a time
        await self.emit(
            "joined-session", {"sessionId": message.sessionId, "peerId": message.peerId}, to=sid
        )
        voices = self._live_voices()
        await self.emit("voices", voices, to=sid)

    async def _call_of(self, message: JoinSession) -> Call:
        if message.callId is None:
            return await self._calls.get_by_session(message.sessionId)
        return await self._calls.get(message.callId)

    def _live_voices(self) -> dict[str, list[str]]:
        return {lang.value: names for lang, names in self._live.voices().items()}

    async def on_offer(self, sid: str, data: Any = None) -> None:
        message = await self._parse(sid, Offer, data)
        if message is None or (session := await self._joined(sid, message.sessionId)) is None:
            return
        if message.offer.type != "offer":
            await self._error(sid, "An offer must have type 'offer'.", "INVALID_PAYLOAD")
            return
        try:
            call = await self._calls.get(session["callId"])
            live = await self._live.open(call, ConnectionEvents(self, sid), self._options(session))
        except ParleyError as exc:
            await self._error(sid, exc.message, exc.code)
            return
        try:
            answer = await live.answer(message.offer.sdp)
        except Exception as exc:  # aiortc raises ValueError and friends on bad SDP
            log.info("refused an offer for call %s: %s", call.id, exc)
            await self._live.close(str(call.id), None)
            await self._error(sid, "The offer's SDP could not be used.", "INVALID_SDP")
            return
        payload = {"peerId": AI_PEER, "answer": {"type": answer.type, "sdp": answer.sdp}}
        await self.emit("answer", payload, to=sid)

    def _options(self, session: dict[str, Any]) -> LiveOptions:
        ai, rtc = self._settings.ai, self._settings.webrtc
        return LiveOptions(
            language=Language(session["language"] or ai.default_language),
            voice=session["voice"],
            system_prompt=session["systemPrompt"],
            stun_urls=tuple(rtc.stun_server_urls),
            legacy_audio_event=ai.legacy_audio_event,
            idle_timeout_s=ai.call_idle_timeout_s,
            turns=TurnConfig(
                min_speech_s=ai.turn_min_speech_s,
                end_silence_s=ai.turn_end_silence_s,
                early_end_silence_s=min(ai.turn_early_end_silence_s, ai.turn_end_silence_s),
                pause_s=min(ai.turn_stt_pause_s, ai.turn_end_silence_s),
                answer_pause_s=min(ai.turn_answer_pause_s, ai.turn_end_silence_s),
            ),
            echo_guard=ai.echo_guard,
        )

    async def on_answer(self, sid: str, data: Any = None) -> None:
        """The server never sends offers, and the original relayed answers to the session's
        other peers, of which there are none: a bad answer is told, a good one has no effect."""
        message = await self._parse(sid, Answer, data)
        if message is not None:
            await self._joined(sid, message.sessionId)

    async def on_ice_candidate(self, sid: str, data: Any = None) -> None:
        message = await self._parse(sid, IceCandidate, data)
        if message is None or (session := await self._joined(sid, message.sessionId)) is None:
            return
        live = self._live.get(session["callId"])
        if live is None:
            await self._error(sid, "Send an offer before ICE candidates.", "NO_PEER")
            return
        candidate = message.candidate
        try:
            if candidate is None:
                await live.add_candidate(None, None, None)
            else:
                await live.add_candidate(
                    candidate.candidate, candidate.sdpMid, candidate.sdpMLineIndex
                )
        except Exception:
            await self._error(sid, "That ICE candidate could not be used.", "INVALID_CANDIDATE")

    async def on_leave_session(self, sid: str, data: Any = None) -> None:
        message = await self._parse(sid, _Payload, data)
        if message is None or (session := await self._joined(sid, message.sessionId)) is None:
            return
        await self._release(sid, session)
        with suppress(KeyError):  # the client may be gone already (it left, then closed)
            await self.save_session(sid, {})

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        session: dict[str, Any] = await self.get_session(sid)
        if session.get("callId"):
            await self._release(sid, session)

    async def _release(self, sid: str, session: dict[str, Any]) -> None:
        """Hang up the session's call, then let the session go (not before: a rejoin while the
        call still closes is refused)."""
        try:
            await self._live.close(session["callId"], CallStatus.ENDED)
        finally:
            self.holders.release(session["sessionId"], sid)
