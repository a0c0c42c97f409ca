"""A live AI call over WebRTC: the server's peer hears the caller and talks back, as a pipeline.

    CallMedia ──samples, probabilities──▶ TurnTaker ──decisions──▶ Answerer ──▶ Responder
    (peer, 48→16 kHz, VAD, EchoGuard)     (pure: VAD events,  (each turn's    (STT → LLM → TTS)
        ▲                                  timing, barge-in)   gate)               │
        └── SpeechTrack ◀── Speech (what the AI says; cut by barge-ins) ◀──────────┘
                              └─▶ Recorder (turns as heard, latencies, mood)
    every effect the client sees: CallEvents.report(typed event) → parley.web.call_publisher

Turns are answered speculatively: at the first 100 ms pause the call already transcribes, and
once the pause has lasted 200 ms asks the LLM and synthesizes the first clause, holding every
side effect behind the turn's gate; the gate opens when the turn is over — at once when the
words sound finished and 300 ms of silence have passed, else after the full 700 ms — and speech
resuming cancels the work (`parley.calls.turn_taker`, `parley.calls.answerer`).

The cut follows Pipecat's processors and aiortc's one object per concept: each part has one
concern and can be read (and the turn taker and responder unit-tested) alone; `LiveCall` only
wires them, and owns what they share: the tasks (`TaskSet`) and the close. One `LiveCall` owns
its peer connection, its speech track and every task it starts, and `aclose()` releases them in
reverse order on every exit path (hang-up, socket gone, REST end, ICE failure, idle timeout,
shutdown); a second `aclose()` waits for the first (`CloseOnce`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription

from parley import observability
from parley.ai.base import ChatMessage, Language, Samples, Warmable
from parley.ai.echo import EchoGuard
from parley.ai.engine import AIEngine
from parley.ai.turns import TurnConfig
from parley.calls.answerer import Answerer
from parley.calls.conversation import ConversationService
from parley.calls.domain import Call, CallStatus
from parley.calls.events import CallEvents, Speaker, StatusChanged, Transcribed, Trouble
from parley.calls.media import CallMedia, Probabilities
from parley.calls.recorder import Recorder
from parley.calls.responder import Responder
from parley.calls.service import CallService
from parley.calls.speech import Speaking, Speech
from parley.calls.turn_taker import BargeIn, Decision, Listening, Transcribe, TurnTaker
from parley.errors import AtCapacityError, ConflictError, ParleyError
from parley.rtc.speech_track import RATE, SpeechTrack
from parley.tasks import CloseOnce, TaskSet

__all__ = ["CallEvents", "LiveCall", "LiveCalls", "LiveOptions", "warm_up"]

log = logging.getLogger("parley.live")

GREETINGS = {
    Language.KOREAN: "안녕하세요! AI 상담원입니다. 무엇을 도와드릴까요?",
    Language.ENGLISH: "Hello! I'm your AI assistant. How can I help you today?",
}


@dataclass(frozen=True, slots=True)
class LiveOptions:
    language: Language
    voice: str | None = None
    system_prompt: str | None = None
    stun_urls: tuple[str, ...] = ()
    legacy_audio_event: bool = True
    idle_timeout_s: float = 120.0
    turns: TurnConfig = field(default_factory=TurnConfig)
    echo_guard: bool = True
    acknowledge: bool = True  # "Okay." when the turn is over and the answer has no speech yet


class LiveCall:
    def __init__(
        self,
        call: Call,
        calls: CallService,
        conversation: ConversationService,
        engine: AIEngine,
        events: CallEvents,
        options: LiveOptions,
    ) -> None:
        self.call = call
        self._calls = calls
        self._events = events
        self.options = options
        self.tasks = TaskSet(f"call-{str(call.id)[:8]}")
        self._taker = TurnTaker(options.turns)
        self.media = CallMedia(
            engine.vad,
            self,
            self.tasks,
            stun_urls=options.stun_urls,
            echo_guard=options.echo_guard,
            start_threshold=options.turns.start_threshold,
        )
        speaking = Speaking(
            call, options.language, options.system_prompt, options.legacy_audio_event
        )
        responder = Responder(
            engine.stt,
            engine.llm,
            engine.tts,
            max_tokens=conversation.max_tokens,
            voice=options.voice,
            rate=RATE,
            shape=conversation.agent.shaper,
            phrases=conversation.phrases,
        )
        recorder = Recorder(calls, engine.sentiment, call.id, options.language)
        self._speech = Speech(
            speaking,
            voice=responder,
            recorder=recorder,
            events=events,
            track=self.media.track,
            taker=self._taker,
        )
        self._answerer = Answerer(
            speaking,
            speech=self._speech,
            responder=responder,
            llm=engine.llm,
            recorder=recorder,
            conversation=conversation,
            taker=self._taker,
            tasks=self.tasks,
            acknowledge=options.acknowledge,
        )
        self._closer = CloseOnce()
        self.on_closed: Callable[[LiveCall], None] = lambda _: None  # set by the registry

    @property
    def pc(self) -> RTCPeerConnection:
        return self.media.pc

    @property
    def track(self) -> SpeechTrack:
        return self.media.track

    @property
    def echo(self) -> EchoGuard:
        return self.media.echo

    # --- signaling ---------------------------------------------------------------------------

    async def answer(self, offer_sdp: str) -> RTCSessionDescription:
        description = await self.media.answer(offer_sdp)
        self.tasks.start(self._watch_idle(), "idle-watchdog")
        return description

    async def add_candidate(
        self, candidate: str | None, sdp_mid: str | None, index: int | None
    ) -> None:
        await self.media.add_candidate(candidate, sdp_mid, index)

    # --- what the media hears (`MediaListener`) --------------------------------------------------

    @property
    def caller_speaking(self) -> bool:
        return self._taker.speaking

    async def media_started(self) -> None:
        try:
            self.call = await self._calls.connect(self.call.id)  # the client may have done it
            await self._set_status(CallStatus.IN_PROGRESS)
        except ConflictError as exc:
            log.info("media on call %s, which is %s: %s", self.call.id, self.call.status, exc)
            return
        except ParleyError as exc:  # e.g. the database timed out under load: fail, not go deaf
            log.warning("call %s could not start: %s", self.call.id, exc.message)
            await self._events.report(Trouble(exc))
            self.tasks.start(self.aclose(CallStatus.FAILED, "the call could not start"), "close")
            return
        observability.record_call_started()
        self.tasks.start(self._speech.greet(GREETINGS[self.options.language]), "greeting")

    async def heard(self, samples: Samples, probabilities: Probabilities) -> None:
        for event in self._taker.detector.feed(samples, probabilities):
            await self._act(self._taker.on(event, ai_busy=self._speech.busy))

    def media_failed(self) -> None:
        self.tasks.start(self.aclose(CallStatus.FAILED, "the media connection failed"), "close")

    async def _act(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, BargeIn):
                await self._speech.barge_in(decision)
            elif isinstance(decision, Listening):
                line = Transcribed(
                    self.call.id, decision.turn, Speaker.CALLER, "", False, self.options.language
                )
                await self._events.report(line)
            elif isinstance(decision, Transcribe):
                self._answerer.transcribe(decision.piece)
            else:
                self._answerer.apply(decision)

    # --- life cycle -----------------------------------------------------------------------------

    async def _watch_idle(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.options.idle_timeout_s / 4))
            if time.monotonic() - self._taker.last_event_at > self.options.idle_timeout_s:
                await self.aclose(CallStatus.ENDED, "idle timeout")
                return

    async def _set_status(self, status: CallStatus, reason: str | None = None) -> None:
        self.call = await self._calls.transition(self.call.id, status, reason=reason)
        await self._events.report(StatusChanged(self.call.id, status, reason))

    async def aclose(
        self, status: CallStatus | None = CallStatus.ENDED, reason: str | None = None
    ) -> None:
        """End or fail the call (`None`: leave its status), then release tasks, track, sinks and
        peer. A second call waits for the first to finish; a task of the call may close it (the
        close skips the task it runs in)."""
        await self._closer.run(lambda: self._close(status, reason))

    async def _close(self, status: CallStatus | None, reason: str | None) -> None:
        self.on_closed(self)
        self.media.track.clear()
        if status is not None and not self.call.status.is_final:
            await self._finish(self.call.closing_status(status), reason)
        await self.tasks.aclose()
        await self.media.aclose()

    async def _finish(self, status: CallStatus, reason: str | None) -> None:
        if reason and status is not CallStatus.FAILED:
            log.info("call %s ends: %s", self.call.id, reason)
        try:
            await self._set_status(status, reason if status is CallStatus.FAILED else None)
        except ParleyError:
            log.info("call %s was already final", self.call.id)
            return
        observability.record_call_ended(status.value)

    @property
    def closed(self) -> bool:
        return self._closer.started


async def warm_up(engine: AIEngine, conversation: ConversationService) -> None:
    """Put what every call's first reply starts with (system prompt, greeting) in the local LLM's
    prompt cache, in the background after start-up. Cloud LLMs have nothing to warm."""
    llm = engine.llm
    if not isinstance(llm, Warmable):
        return
    for language, greeting in GREETINGS.items():
        greeted = [ChatMessage("assistant", greeting)]
        messages = conversation.agent.messages(language, None, greeted, "Hi.")
        try:
            await llm.warm(messages)
        except ParleyError as exc:
            log.warning("warming the LLM failed: %s", exc.message)
            return


class LiveCalls:
    """Every live call of this process, by call id; hang-ups through REST close them too."""

    def __init__(
        self,
        calls: CallService,
        conversation: ConversationService,
        engine: AIEngine,
        *,
        max_live: int = 8,
    ) -> None:
        self._calls = calls
        self._conversation = conversation
        self._engine = engine
        self._live: dict[str, LiveCall] = {}
        self._max_live = max_live

    def __len__(self) -> int:
        return len(self._live)

    def voices(self) -> dict[Language, list[str]]:
        return self._engine.tts.voices()

    def get(self, call_id: str) -> LiveCall | None:
        live = self._live.get(call_id)
        return live if live is not None and not live.closed else None

    async def open(self, call: Call, events: CallEvents, options: LiveOptions) -> LiveCall:
        if call.status.is_final:
            raise ConflictError(
                f"Call {call.id} is {call.status}; it cannot be joined.", code="CALL_NOT_ACTIVE"
            )
        if (old := self.get(str(call.id))) is not None:
            await old.aclose(None)  # a new offer for the same call replaces the old peer
        elif len(self._live) >= self._max_live:
            # Past what one process carries, every call's audio breaks up and caller audio piles
            # up in memory (bench/call_capacity.py): refuse the new one instead, clearly.
            raise AtCapacityError(
                f"This server is carrying {len(self._live)} live calls, its limit "
                f"(MAX_LIVE_CALLS); try again shortly."
            )
        call = await self._calls.carry(call)
        live = LiveCall(call, self._calls, self._conversation, self._engine, events, options)
        live.on_closed = self._forget
        self._live[str(call.id)] = live
        return live

    def _forget(self, live: LiveCall) -> None:
        """A call that closed itself (idle, media failure, replaced) leaves the registry."""
        if self._live.get(str(live.call.id)) is live:
            del self._live[str(live.call.id)]

    async def end(self, call_id: str) -> Call:
        """Hang up: through the live peer when there is one, else in storage alone."""
        live = self.get(call_id)
        if live is None:
            return await self._calls.end(call_id)
        await live.aclose(CallStatus.ENDED)
        self._live.pop(call_id, None)
        if live.call.status is not CallStatus.ENDED:
            raise ConflictError(
                f"Call {call_id} is {live.call.status}.", code="ILLEGAL_STATE_TRANSITION"
            )
        return live.call

    async def close(
        self, call_id: str, status: CallStatus | None, reason: str | None = None
    ) -> None:
        live = self._live.pop(call_id, None)
        if live is not None:
            await live.aclose(status, reason)

    async def aclose(self) -> None:
        """At shutdown: end every live call."""
        for call_id in list(self._live):
            await self.close(call_id, CallStatus.ENDED)
