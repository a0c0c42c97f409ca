"""Socket.IO `/signaling`: the original system's events, unchanged, plus Parley's own.

Every payload is validated before anything happens; a bad one changes nothing. Events follow
the namespaces' one convention (`parley.web.socket_base`): the original client sends without
acknowledgements and is answered by events (`joined-session`, `voices`, `answer`), and a
refusal by `error {message, code, event}` (`event` names the refused event; `retryAfter` is
added when a wait would lift it). A client that sends with an acknowledgement also gets
`{"ok": true}` or `{"ok": false, "error": {code, message}}` in it. The server answers offers
itself as the peer `ai-server` (aiortc gathers its candidates before answering, so its
candidates travel inside the answer's SDP).

A session belongs to one connection at a time (`SessionHolds`), and a call's events go to that
connection alone: a stranger who learned a session id can neither hear the call nor end it. As
no other connection shares a session, `peer-joined`, `peer-left` and `peer-disconnected` (which
the original sent to a session's *other* peers) have nobody to go to. What a connection joined
is kept in its Socket.IO session.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any, Literal, Protocol

from pydantic import Field

from parley.ai.base import Language
from parley.ai.turns import TurnConfig
from parley.calls.domain import Call, CallStatus
from parley.calls.live import LiveCalls, LiveOptions
from parley.calls.service import CallService
from parley.config import Settings
from parley.errors import ConflictError, ParleyError
from parley.web.call_publisher import CallPublisher
from parley.web.socket_base import (
    InvalidPayloadError,
    NotJoinedError,
    Reply,
    SocketNamespace,
    handles,
)
from parley.web.socket_schemas import CallCandidate, CallSdp, WireModel

log = logging.getLogger("parley.signaling")
AI_PEER = "ai-server"
TAKEN = (
    "Another connection holds this call's session; it can be joined again once that "
    "connection has left or closed."
)
Session = dict[str, Any]  # what `join-session` gave, plus the call's id: the Socket.IO session


class SessionPayload(WireModel):
    sessionId: str = Field(min_length=1, max_length=128)
    peerId: str = Field(min_length=1, max_length=128)


class JoinSession(SessionPayload):
    """`callId` is optional: the original's table says it is required, but its own published
    example leaves it out; the call is then found by its `sessionId`."""

    callId: str | None = Field(None, min_length=1, max_length=64)
    language: Literal["ko", "en"] | None = None
    voice: str | None = Field(None, max_length=40)
    systemPrompt: str | None = Field(None, max_length=4000)


class Offer(SessionPayload):
    offer: CallSdp


class Answer(SessionPayload):
    answer: CallSdp


class IceCandidate(SessionPayload):
    candidate: CallCandidate | None = None


class SessionHolds(Protocol):
    """Which connection holds each call's signaling session (see `SessionHolders`); a shared
    implementation (a Redis key, a compare-and-set on the call's row) can be passed to
    `SignalingNamespace` for several nodes without touching its handlers."""

    def __len__(self) -> int:
        """Sessions held through this process."""
        ...

    async def take(self, session_id: str, sid: str) -> bool:
        """Hold `session_id` for connection `sid`; False if another connection holds it."""
        ...

    async def release(self, session_id: str, sid: str) -> None:
        """Let `session_id` go, if `sid` holds it."""
        ...


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
    by the lease of a node that died): another implementation of `SessionHolds`, passed to
    `SignalingNamespace(holders=...)`.
    """

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._holders)

    async def take(self, session_id: str, sid: str) -> bool:
        """Hold `session_id` for connection `sid`; False if another connection holds it."""
        return self._holders.setdefault(session_id, sid) == sid

    async def release(self, session_id: str, sid: str) -> None:
        if self._holders.get(session_id) == sid:
            del self._holders[session_id]


class SignalingNamespace(SocketNamespace[Session]):
    """The original events are kebab-case (`join-session`); handlers are `on_join_session`.
    Each connection's events are handled in the order it sent them (`parley.web.ordering`)."""

    def __init__(self, settings: Settings, state: Any, holders: SessionHolds | None = None) -> None:
        """`state` is the app's state, where the lifespan puts its `services` once started;
        `holders` keeps who holds each session (in this process's memory by default)."""
        super().__init__("/signaling")
        self._settings = settings
        self._state = state
        self.holders: SessionHolds = holders if holders is not None else SessionHolders()

    @property
    def _calls(self) -> CallService:
        calls: CallService = self._state.services.calls
        return calls

    @property
    def _live(self) -> LiveCalls:
        live: LiveCalls = self._state.services.live
        return live

    async def joined(self, sid: str, body: SessionPayload) -> Session:
        """The session this connection joined, if it is the one `body` names."""
        session: Session = await self.get_session(sid)
        if session.get("sessionId") != body.sessionId:
            raise NotJoinedError("Join the session first (join-session).")
        return session

    def _call_events(self, sid: str) -> CallPublisher:
        """Where the live call opened by connection `sid` reports."""

        async def send(event: str, payload: dict[str, Any]) -> None:
            await self.emit(event, payload, to=sid)

        return CallPublisher(send)

    @handles(JoinSession, joined=False)
    async def on_join_session(self, sid: str, body: JoinSession) -> Reply:
        call = await self._call_of(body)
        if not call.has_session(body.sessionId):
            raise ParleyError(
                "That sessionId does not belong to that call.", code="SESSION_MISMATCH"
            )
        if not await self.holders.take(body.sessionId, sid):
            raise ConflictError(TAKEN, code="SESSION_TAKEN")
        previous: Session = await self.get_session(sid)
        session = body.model_dump(exclude={"callId"}) | {"callId": str(call.id)}
        await self.save_session(sid, session)  # from here on, a disconnect lets the hold go
        if previous.get("sessionId") not in (None, body.sessionId):
            await self._release(sid, previous)  # one connection carries one call at a time
        joined = {"sessionId": body.sessionId, "peerId": body.peerId}
        await self.emit("joined-session", joined, to=sid)
        await self.emit("voices", self._live_voices(), to=sid)
        return {}

    async def _call_of(self, message: JoinSession) -> Call:
        if message.callId is None:
            return await self._calls.get_by_session(message.sessionId)
        return await self._calls.get(message.callId)

    def _live_voices(self) -> dict[str, list[str]]:
        return {lang.value: names for lang, names in self._live.voices().items()}

    @handles(Offer)
    async def on_offer(self, sid: str, body: Offer, session: Session) -> Reply:
        if body.offer.type != "offer":
            raise InvalidPayloadError("An offer must have type 'offer'.")
        call = await self._calls.get(session["callId"])
        live = await self._live.open(call, self._call_events(sid), self._options(session))
        try:
            answer = await live.answer(body.offer.sdp)
        except Exception as exc:  # aiortc raises ValueError and friends on bad SDP
            log.info("refused an offer for call %s: %s", call.id, exc)
            await self._live.close(str(call.id), None)
            raise ParleyError("The offer's SDP could not be used.", code="INVALID_SDP") from None
        payload = {"peerId": AI_PEER, "answer": {"type": answer.type, "sdp": answer.sdp}}
        await self.emit("answer", payload, to=sid)
        return {}

    def _options(self, session: Session) -> LiveOptions:
        ai, calls, rtc = self._settings.ai, self._settings.calls, self._settings.webrtc
        return LiveOptions(
            language=Language(session["language"] or ai.default_language),
            voice=session["voice"],
            system_prompt=session["systemPrompt"],
            stun_urls=tuple(rtc.stun_server_urls),
            legacy_audio_event=calls.legacy_audio_event,
            idle_timeout_s=calls.call_idle_timeout_s,
            turns=TurnConfig(
                min_speech_s=calls.turn_min_speech_s,
                end_silence_s=calls.turn_end_silence_s,
                early_end_silence_s=min(calls.turn_early_end_silence_s, calls.turn_end_silence_s),
                pause_s=min(calls.turn_stt_pause_s, calls.turn_end_silence_s),
                answer_pause_s=min(calls.turn_answer_pause_s, calls.turn_end_silence_s),
            ),
            echo_guard=calls.echo_guard,
            acknowledge=self._settings.agent.acknowledge,
        )

    @handles(Answer)
    async def on_answer(self, sid: str, body: Answer, session: Session) -> Reply:
        """The server never sends offers, and the original relayed answers to the session's
        other peers, of which there are none: a bad answer is told, a good one has no effect."""
        return {}

    @handles(IceCandidate)
    async def on_ice_candidate(self, sid: str, body: IceCandidate, session: Session) -> Reply:
        live = self._live.get(session["callId"])
        if live is None:
            raise ConflictError("Send an offer before ICE candidates.", code="NO_PEER")
        candidate = body.candidate
        try:
            if candidate is None:
                await live.add_candidate(None, None, None)
            else:
                await live.add_candidate(
                    candidate.candidate, candidate.sdpMid, candidate.sdpMLineIndex
                )
        except Exception:
            raise ParleyError(
                "That ICE candidate could not be used.", code="INVALID_CANDIDATE"
            ) from None
        return {}

    @handles(SessionPayload)
    async def on_leave_session(self, sid: str, body: SessionPayload, session: Session) -> Reply:
        await self._release(sid, session)
        with suppress(KeyError):  # the client may be gone already (it left, then closed)
            await self.save_session(sid, {})
        return {}

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        session: Session = await self.get_session(sid)
        if session.get("callId"):
            await self._release(sid, session)

    async def _release(self, sid: str, session: Session) -> None:
        """Hang up the session's call, then let the session go (not before: a rejoin while the
        call still closes is refused)."""
        try:
            await self._live.close(session["callId"], CallStatus.ENDED)
        finally:
            await self.holders.release(session["sessionId"], sid)
