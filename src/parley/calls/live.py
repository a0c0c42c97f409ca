"""A live AI call over WebRTC: the server's peer hears the caller and talks back.

    caller audio ─▶ 48→16 kHz ─▶ VAD ─▶ TurnDetector ─▶ STT ─▶ LLM (streamed) ─▶ sentence
                                          │                                        │
                            SpeechStarted while the AI talks:                      ▼
                            barge-in (stop playback and generation)  TTS ─▶ 48 kHz ─▶ SpeechTrack

One `LiveCall` owns its peer connection, its speech track and every task it starts, and
`aclose()` releases them in reverse order on every exit path (hang-up, socket gone, REST end, ICE
failure, idle timeout, shutdown). The AI turn that is stored is what the caller actually heard.
A failing provider never ends the call: the caller hears an apology and the client gets `error`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from parley.ai.audio import encode_wav
from parley.ai.base import AudioChunk, Language, Pcm16, Samples, SentimentScore
from parley.ai.engine import AIEngine
from parley.ai.text import SentenceSplitter, speakable
from parley.ai.turns import SpeechStarted, TurnConfig, TurnDetector, TurnEnded
from parley.calls.conversation import ConversationService
from parley.calls.domain import Call, CallStatus, Role, Turn, utcnow
from parley.calls.service import CallService
from parley.errors import ConflictError, ParleyError
from parley.rtc.ice import rtc_configuration
from parley.rtc.speech_track import RATE, Segment, SpeechTrack
from parley.tasks import TaskSet

log = logging.getLogger("parley.live")

GREETINGS = {
    Language.KOREAN: "안녕하세요! AI 상담원입니다. 무엇을 도와드릴까요?",
    Language.ENGLISH: "Hello! I'm your AI assistant. How can I help you today?",
}
APOLOGIES = {
    Language.KOREAN: "죄송합니다. 잠시 문제가 생겼어요. 다시 한 번 말씀해 주시겠어요?",
    Language.ENGLISH: "Sorry, I had a problem just now. Could you say that again?",
}


class CallEvents(Protocol):
    """Where a live call reports what happens (the Socket.IO room of its session)."""

    async def emit(self, event: str, payload: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class LiveOptions:
    language: Language
    voice: str | None = None
    system_prompt: str | None = None
    stun_urls: tuple[str, ...] = ()
    legacy_audio_event: bool = True
    idle_timeout_s: float = 120.0
    turns: TurnConfig = field(default_factory=TurnConfig)


@dataclass
class _Reply:
    """The AI's answer to one caller turn, as it is spoken."""

    turn: int
    user: Turn
    spoken: list[str] = field(default_factory=list)  # sentences queued on the track, in order
    text: str = ""
    interrupted: bool = False
    marks: dict[str, float] = field(default_factory=dict)
    audio: list[Pcm16] = field(default_factory=list)  # the 48 kHz speech queued, for replay


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
        self._conversation = conversation
        self._engine = engine
        self._events = events
        self.options = options
        self.track = SpeechTrack()
        self.pc = RTCPeerConnection(rtc_configuration(list(options.stun_urls)))
        self.tasks = TaskSet(f"call-{str(call.id)[:8]}")
        self._detector = TurnDetector(options.turns)
        self._vad = engine.vad.stream()
        self._turn_audio: Samples | None = None  # the caller's current turn, until answered
        self._carry: Samples | None = None  # a turn cut off before the AI said anything
        self._reply: _Reply | None = None
        self._responder: asyncio.Task[None] | None = None
        self._turn = 0
        self._media_started = False
        self._last_speech = time.monotonic()
        self._closed = False
        self._sinks: list[MediaBlackhole] = []
        self.on_closed: Callable[[LiveCall], None] = lambda _: None  # set by the registry
        self.pc.addTrack(self.track)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    # --- signaling ---------------------------------------------------------------------------

    async def answer(self, offer_sdp: str) -> RTCSessionDescription:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.tasks.start(self._watch_idle(), "idle-watchdog")
        return self.pc.localDescription

    async def add_candidate(
        self, candidate: str | None, sdp_mid: str | None, index: int | None
    ) -> None:
        if candidate is None or not candidate.strip():
            return  # end of candidates: aiortc needs no signal for it
        parsed = candidate_from_sdp(
            candidate.split(":", 1)[1] if candidate.startswith("candidate:") else candidate
        )
        parsed.sdpMid, parsed.sdpMLineIndex = sdp_mid, index
        await self.pc.addIceCandidate(parsed)

    # --- media ---------------------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self.tasks.start(self._listen(track), "listen")
        else:  # every accepted track is read, or it piles up in memory
            sink = MediaBlackhole()
            sink.addTrack(track)
            self._sinks.append(sink)
            self.tasks.start(sink.start(), "sink")

    async def _on_connection_state(self) -> None:
        if self.pc.connectionState == "failed":
            self.tasks.start(self.aclose(CallStatus.FAILED, "the media connection failed"), "close")

    async def _listen(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16_000)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            if not self._media_started:
                await self._on_media()
            for out in resampler.resample(frame):
                samples: Samples = out.to_ndarray().reshape(-1).astype(np.float32)
                probabilities = await self._vad.feed(samples)
                for event in self._detector.feed(samples, probabilities):
                    await self._on_turn_event(event)

    async def _on_media(self) -> None:
        self._media_started = True
        try:
            self.call = await self._calls.connect(self.call.id)  # the client may have done it
            await self._set_status(CallStatus.IN_PROGRESS)
        except ConflictError as exc:
            log.info("media on call %s, which is %s: %s", self.call.id, self.call.status, exc)
            return
        self.tasks.start(self._greet(), "greeting")

    # --- turns ---------------------------------------------------------------------------------

    async def _on_turn_event(self, event: SpeechStarted | TurnEnded) -> None:
        self._last_speech = time.monotonic()
        if isinstance(event, SpeechStarted):
            if self.track.speaking or self._responder is not None:
                await self._barge_in()
            await self._events.emit(
                "transcript", self._transcript(self._turn + 1, "caller", "", final=False)
            )
            return
        if self._carry is not None:  # the caller went on after a pause: one turn, not two
            event = TurnEnded(
                np.concatenate([self._carry, event.audio]), event.speech_ended_at, event.detected_at
            )
            self._carry = None
        self._turn += 1
        self._turn_audio = event.audio
        self._responder = self.tasks.start(self._respond(self._turn, event), f"turn-{self._turn}")

    async def _barge_in(self) -> None:
        """The caller speaks over the AI: silence at once, stop generating, keep what was heard."""
        dropped = self.track.clear()
        responder, self._responder = self._responder, None
        reply, self._reply = self._reply, None
        if responder is not None and not responder.done():
            responder.cancel()
        if reply is not None and (heard := self._heard_text(reply, dropped)):
            reply.interrupted = True
            await self._finish(reply, heard)
        elif self._turn_audio is not None:
            self._carry = self._turn_audio  # nothing was said yet: keep listening to the same turn
        self._turn_audio = None

    async def _respond(self, turn: int, ended: TurnEnded) -> None:
        started = time.monotonic()
        language = self.options.language
        try:
            heard = await self._engine.stt.transcribe(ended.audio, language=language)
        except ParleyError as exc:
            await self._apologize(exc)
            return
        marks = {
            "endOfTurnMs": _ms(ended.detected_at - ended.speech_ended_at),
            "sttMs": _ms(time.monotonic() - started),
        }
        if not heard.text:
            await self._events.emit("transcript", self._transcript(turn, "caller", "", final=True))
            return
        await self._events.emit(
            "transcript", self._transcript(turn, "caller", heard.text, final=True)
        )
        user = Turn(
            call_id=self.call.id,
            index=-1,
            role=Role.USER,
            text=heard.text,
            language=language.value,
            started_at=utcnow(),
        )
        self.tasks.start(self._sentiment(turn, user), f"sentiment-{turn}")
        reply = _Reply(turn=turn, user=user, marks=marks)
        self._reply = reply
        try:
            await self._speak_reply(reply, ended.speech_ended_at)
        except ParleyError as exc:
            self._reply = None
            await self._apologize(exc)
            return
        await self._wait_played(reply)
        if self._reply is reply:
            self._reply = None
            await self._finish(reply, " ".join(reply.spoken) or reply.text.strip())
        if self._responder is asyncio.current_task():
            self._responder = None

    async def _speak_reply(self, reply: _Reply, speech_ended_at: float) -> None:
        messages = await self._conversation.messages_for(
            self.call, reply.user.text, self.options.language, self.options.system_prompt
        )
        splitter = SentenceSplitter()
        llm_started = time.monotonic()
        async for piece in self._engine.llm.stream_reply(
            messages, max_tokens=self._conversation.max_tokens
        ):
            reply.marks.setdefault("llmFirstTokenMs", _ms(time.monotonic() - llm_started))
            reply.text += piece
            await self._events.emit(
                "transcript", self._transcript(reply.turn, "ai", reply.text.strip(), final=False)
            )
            for sentence in splitter.feed(piece):
                await self._say(reply, sentence, speech_ended_at)
        if rest := splitter.flush():
            await self._say(reply, rest, speech_ended_at)

    async def _say(self, reply: _Reply, sentence: str, speech_ended_at: float) -> None:
        text = speakable(sentence)
        if not text:
            return
        index = len(reply.spoken)
        reply.spoken.append(text)
        tts_started = time.monotonic()
        async for pcm in self._synthesize(text):
            if "voiceToVoiceMs" not in reply.marks:
                reply.marks["ttsFirstChunkMs"] = _ms(time.monotonic() - tts_started)
                reply.marks["voiceToVoiceMs"] = _ms(time.monotonic() - speech_ended_at)
            self.track.play(pcm, tag=(reply.turn, index))
            reply.audio.append(pcm)

    async def _synthesize(self, text: str) -> AsyncIterator[Pcm16]:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        async for chunk in self._engine.tts.synthesize(
            text, language=self.options.language, voice=self.options.voice
        ):
            yield _resample(resampler, chunk)
        yield _flush(resampler)

    async def _wait_played(self, reply: _Reply) -> None:
        def ours(tag: object) -> bool:
            return isinstance(tag, tuple) and tag[0] == reply.turn

        await self.track.played(ours)

    async def _finish(self, reply: _Reply, heard: str) -> None:
        """Store the caller's turn and what the caller heard of the AI's, and tell the client."""
        self._turn_audio = None
        assistant = Turn(
            call_id=self.call.id,
            index=-1,
            role=Role.ASSISTANT,
            text=heard,
            language=self.options.language.value,
            started_at=reply.user.started_at,
            ended_at=utcnow(),
            latency_ms=reply.marks,
        )
        payload = self._transcript(reply.turn, "ai", heard, final=True)
        payload["interrupted"] = reply.interrupted
        await self._events.emit("transcript", payload)
        await self._events.emit(
            "turn-latency",
            {
                "callId": str(self.call.id),
                "turn": reply.turn,
                "voiceToVoiceMs": reply.marks.get("voiceToVoiceMs"),
                "stages": reply.marks,
            },
        )
        await self._calls.record_turns([reply.user, assistant])
        if self.options.legacy_audio_event and not reply.interrupted:
            await self._legacy_audio(reply.audio)

    def _heard_text(self, reply: _Reply, dropped: list[Segment]) -> str:
        """The sentences played in full, then the played share of the words of the one cut."""
        total: dict[int, int] = defaultdict(int)
        played: dict[int, int] = defaultdict(int)
        for segment in [*self.track.finished, *dropped]:
            if isinstance(segment.tag, tuple) and segment.tag[0] == reply.turn:
                total[segment.tag[1]] += len(segment.pcm)
                played[segment.tag[1]] += segment.played
        heard: list[str] = []
        for index, sentence in enumerate(reply.spoken):
            share = played[index] / total[index] if total[index] else 0.0
            if share >= 0.98:
                heard.append(sentence)
                continue
            words = sentence.split()
            if share > 0:
                heard.append(" ".join(words[: max(1, round(share * len(words)))]))
            break
        return " ".join(heard)

    # --- greeting, apology, sentiment ---------------------------------------------------------

    async def _greet(self) -> None:
        text = GREETINGS[self.options.language]
        try:
            async for pcm in self._synthesize(text):
                self.track.play(pcm, tag=("greeting", 0))
        except ParleyError as exc:
            await self._events.emit("error", {"message": exc.message, "code": exc.code})
            return
        await self._events.emit("transcript", self._transcript(0, "ai", text, final=True))
        greeting = Turn(
            call_id=self.call.id,
            index=-1,
            role=Role.ASSISTANT,
            text=text,
            language=self.options.language.value,
        )
        await self._calls.record_turns([greeting])

    async def _apologize(self, error: ParleyError) -> None:
        log.warning("provider failed during call %s: %s", self.call.id, error.message)
        await self._events.emit("error", {"message": error.message, "code": error.code})
        try:
            async for pcm in self._synthesize(APOLOGIES[self.options.language]):
                self.track.play(pcm, tag=("apology", 0))
        except ParleyError:
            log.warning("the apology itself could not be spoken on call %s", self.call.id)

    async def _sentiment(self, turn: int, user: Turn) -> None:
        try:
            mood: SentimentScore = await self._engine.sentiment.analyze(
                user.text, language=self.options.language
            )
        except ParleyError:
            return
        user.sentiment, user.sentiment_score = mood.label, mood.score
        await self._events.emit(
            "sentiment",
            {
                "callId": str(self.call.id),
                "turn": turn,
                "sentiment": mood.label.value,
                "score": round(mood.score, 3),
            },
        )

    async def _legacy_audio(self, audio: list[Pcm16]) -> None:
        """`ai-audio-response` for clients of the original API: a base64 WAV of the reply as it
        was spoken on the track (encoded once more, never synthesized twice)."""
        if audio:
            wav = await asyncio.to_thread(encode_wav, np.concatenate(audio), RATE)
            await self._events.emit(
                "ai-audio-response",
                {
                    "audioData": base64.b64encode(wav).decode("ascii"),
                    "timestamp": utcnow().isoformat(),
                },
            )

    # --- life cycle -----------------------------------------------------------------------------

    async def _watch_idle(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.options.idle_timeout_s / 4))
            if time.monotonic() - self._last_speech > self.options.idle_timeout_s:
                await self.aclose(CallStatus.ENDED, "idle timeout")
                return

    async def _set_status(self, status: CallStatus, reason: str | None = None) -> None:
        self.call = await self._calls.transition(self.call.id, status, reason=reason)
        payload: dict[str, Any] = {"callId": str(self.call.id), "status": status.value}
        if reason:
            payload["reason"] = reason
        await self._events.emit("call-state", payload)

    async def aclose(
        self, status: CallStatus | None = CallStatus.ENDED, reason: str | None = None
    ) -> None:
        """End or fail the call (`None`: leave its status), then release tasks, track, sinks and
        peer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.on_closed(self)
        self.track.clear()
        if status is not None and not self.call.status.is_final:
            try:
                await self._set_status(status, reason if status is CallStatus.FAILED else None)
            except ParleyError:
                log.info("call %s was already final", self.call.id)
        await self.tasks.aclose()
        for sink in self._sinks:
            await sink.stop()
        self.track.stop()
        await self.pc.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _transcript(self, turn: int, speaker: str, text: str, *, final: bool) -> dict[str, Any]:
        return {
            "callId": str(self.call.id),
            "turn": turn,
            "speaker": speaker,
            "text": text,
            "final": final,
            "language": self.options.language.value,
        }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _resample(resampler: av.AudioResampler, chunk: AudioChunk) -> Pcm16:
    frame = av.AudioFrame.from_ndarray(chunk.pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = chunk.sample_rate
    return _join(resampler.resample(frame))


def _flush(resampler: av.AudioResampler) -> Pcm16:
    return _join(resampler.resample(None))


def _join(frames: list[av.AudioFrame]) -> Pcm16:
    if not frames:
        return np.zeros(0, np.int16)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)


class LiveCalls:
    """Every live call of this process, by call id; hang-ups through REST close them too."""

    def __init__(
        self, calls: CallService, conversation: ConversationService, engine: AIEngine
    ) -> None:
        self._calls = calls
        self._conversation = conversation
        self._engine = engine
        self._live: dict[str, LiveCall] = {}

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
