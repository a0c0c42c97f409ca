"""A live AI call over WebRTC: the server's peer hears the caller and talks back.

    caller audio ─▶ 48→16 kHz ─▶ VAD ─▶ EchoGuard ─▶ TurnDetector ─▶ STT ─▶ LLM (streamed)
                                                          │                        │ clauses
                                  SpeechStarted while the AI talks:                ▼
                                  barge-in (stop playback and generation)   TTS ─▶ SpeechTrack

Turns are answered speculatively: at the first 100 ms pause (`SpeechPaused`) the call already
transcribes, and once the pause has lasted 200 ms asks the LLM and synthesizes the first clause,
holding every side effect (events, audio, storage) behind the turn's gate. The gate opens when
the turn is over — at once when the words sound finished (a question, a complete sentence) and
300 ms of silence have passed, else after the full 700 ms — and the work done meanwhile is not
lost; speech resuming cancels it. A turn's words are transcribed piece by piece, each piece once:
the pieces a long turn is cut into (`SpeechCut`, see `parley.ai.turns`) and a committed turn the
caller went on with before the AI said a word, which are joined and answered as one turn.

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

from parley.ai.audio import encode_wav, trim_leading_silence
from parley.ai.base import (
    AudioChunk,
    ChatMessage,
    Language,
    Pcm16,
    Samples,
    SentimentScore,
    Transcript,
)
from parley.ai.echo import EchoGuard
from parley.ai.engine import AIEngine
from parley.ai.text import SentenceSplitter, speakable
from parley.ai.turns import (
    SpeechCut,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TurnConfig,
    TurnDetector,
    TurnEnded,
    TurnEvent,
    sounds_finished,
)
from parley.calls.conversation import ConversationService, HistoryWindow
from parley.calls.domain import Call, CallStatus, Role, Turn, utcnow
from parley.calls.service import CallService
from parley.errors import AtCapacityError, ConflictError, ParleyError
from parley.rtc.ice import rtc_configuration
from parley.rtc.receive import listen_directly
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
    echo_guard: bool = True


_Words = asyncio.Task[Transcript | ParleyError]  # one piece of a caller turn, transcribed


@dataclass(eq=False)
class _Pending:
    """A caller turn being answered, perhaps before it is certain to be over: every side effect
    waits for `gate`, which opens when the turn is committed. `words` transcribes its last piece
    of audio; `said` holds the pieces before it (see `LiveCall._said`)."""

    turn: int
    speech_ended_at: float
    said: tuple[_Words, ...] = ()
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    committed_at: float | None = None
    task: asyncio.Task[None] | None = None
    words: _Words | None = None
    reply: _Reply | None = None  # once the words are known
    opened: bool = False  # the caller's final transcript was sent


@dataclass
class _Reply:
    """The AI's answer to one caller turn (or the greeting, turn 0, with no `user`), as it is
    spoken."""

    turn: int
    user: Turn | None
    spoken: list[str] = field(default_factory=list)  # sentences queued on the track, in order
    text: str = ""
    interrupted: bool = False
    marks: dict[str, float] = field(default_factory=dict)
    speech_ended_at: float = 0.0  # time.monotonic() of the caller's last speech window
    first_audio_at: float | None = None  # when its first audio was queued on the track
    audio: list[Pcm16] = field(default_factory=list)  # the 48 kHz speech queued, for replay

    @property
    def asked(self) -> Turn:
        """The caller's turn this answers (every reply but the greeting has one)."""
        assert self.user is not None
        return self.user


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
        self._answering: _Pending | None = None  # the caller's committed turn, until answered
        # The words of the caller's current turn before the audio the detector still holds, each
        # piece transcribed once: pieces cut at `max_turn_s`, and a committed turn whose answer a
        # barge-in stopped before the AI said a word (the caller was not done: same turn).
        self._said: list[_Words] = []
        self._reply: _Reply | None = None
        self._responder: asyncio.Task[None] | None = None  # answering a committed turn
        self._speculation: _Pending | None = None  # answering a turn that may not be over
        self._history = HistoryWindow()  # where the LLM's prompt history starts; see _prefetch
        self.echo = EchoGuard()
        self._clock_offset: float | None = None  # our clock minus the caller's RTP clock
        if options.echo_guard:
            self.track.on_frame = self.echo.played
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
            for transceiver in self.pc.getTransceivers():
                if transceiver.receiver.track is track:
                    listen_directly(transceiver.receiver)  # no playout delay, no thread: see there
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
            sent_at = self._sent_at(frame)
            for out in resampler.resample(frame):
                samples: Samples = out.to_ndarray().reshape(-1).astype(np.float32)
                probabilities = await self._vad.feed(samples)
                if self.options.echo_guard:
                    probabilities = self._without_echo(samples, sent_at, probabilities)
                for event in self._detector.feed(samples, probabilities):
                    await self._on_turn_event(event)

    def _sent_at(self, frame: av.AudioFrame) -> float:
        """When the caller sent `frame`, on our clock: its RTP time plus the smallest offset seen
        (the least delayed frame), so the loop's own delays do not blur the echo comparison."""
        now = time.monotonic()
        if frame.pts is None or frame.time_base is None:
            return now
        sent = float(frame.pts * frame.time_base)
        if self._clock_offset is None or now - sent < self._clock_offset:
            self._clock_offset = now - sent
        return sent + self._clock_offset

    def _without_echo(self, samples: Samples, at: float, probabilities: np.ndarray) -> np.ndarray:
        """Speech that is the AI's own voice coming back cannot start a turn (or a barge-in)."""
        now = time.monotonic()
        self.echo.heard(samples, at)
        if (
            len(probabilities)
            and not self._detector.speaking
            and probabilities.max() >= self.options.turns.start_threshold
            and self.echo.is_echo(now)
        ):
            return np.zeros_like(probabilities)
        return probabilities

    async def _on_media(self) -> None:
        self._media_started = True
        try:
            self.call = await self._calls.connect(self.call.id)  # the client may have done it
            await self._set_status(CallStatus.IN_PROGRESS)
        except ConflictError as exc:
            log.info("media on call %s, which is %s: %s", self.call.id, self.call.status, exc)
            return
        except ParleyError as exc:  # e.g. the database timed out under load: fail, not go deaf
            log.warning("call %s could not start: %s", self.call.id, exc.message)
            await self._events.emit("error", {"message": exc.message, "code": exc.code})
            self.tasks.start(self.aclose(CallStatus.FAILED, "the call could not start"), "close")
            return
        self.tasks.start(self._greet(), "greeting")

    # --- turns ---------------------------------------------------------------------------------

    async def _on_turn_event(self, event: TurnEvent) -> None:
        self._last_speech = time.monotonic()
        if isinstance(event, SpeechStarted):
            if self.track.speaking or self._responder is not None:
                await self._barge_in()
            await self._events.emit(
                "transcript", self._transcript(self._turn + 1, "caller", "", final=False)
            )
        elif isinstance(event, SpeechPaused):
            self._cancel_speculation()
            self._speculation = self._answer(self._turn + 1, event.audio, event.speech_ended_at)
        elif isinstance(event, SpeechResumed):
            self._cancel_speculation()
        elif isinstance(event, SpeechCut):
            self._cancel_speculation()
            self._said.append(self._transcribe(event.audio, f"stt-{self._turn + 1}-cut"))
        else:
            self._commit(event)

    def _answer(self, turn: int, audio: Samples, speech_ended_at: float) -> _Pending:
        """Start on a caller turn: its last piece is transcribed in a task of its own, which a
        barge-in does not stop (the words are carried, see `_barge_in`)."""
        pending = _Pending(turn, speech_ended_at, said=tuple(self._said))
        pending.words = self._transcribe(audio, f"stt-{turn}")
        pending.task = self.tasks.start(self._respond(pending), f"turn-{turn}")
        return pending

    def _transcribe(self, audio: Samples, name: str) -> _Words:
        async def words() -> Transcript | ParleyError:
            try:
                return await self._engine.stt.transcribe(audio, language=self.options.language)
            except ParleyError as exc:  # reported by the answer that needs the words
                return exc

        return self.tasks.start(words(), name)

    def _cancel_speculation(self) -> None:
        pending, self._speculation = self._speculation, None
        self._cancel(pending)

    def _commit(self, ended: TurnEnded) -> None:
        """The turn is over: open the gate of its speculative answer, or start answering it."""
        pending, self._speculation = self._speculation, None
        self._turn += 1
        if (
            pending is None
            or pending.speech_ended_at != ended.speech_ended_at
            or pending.task is None
            or pending.task.done()
        ):
            self._cancel(pending)
            pending = self._answer(self._turn, ended.audio, ended.speech_ended_at)
        self._said = []
        self._answering = pending
        pending.committed_at = ended.detected_at
        pending.gate.set()
        self._responder = pending.task
        if pending.reply is not None:  # the words are known: say what was heard right away
            self.tasks.start(self._open(pending, pending.reply), f"open-{pending.turn}")

    @staticmethod
    def _cancel(pending: _Pending | None) -> None:
        """Drop a speculative answer and its transcription (the words of the pieces before it
        are the turn's, and stay)."""
        if pending is None:
            return
        for task in (pending.task, pending.words):
            if task is not None:
                task.cancel()

    async def _end_early(self, pending: _Pending, heard: Transcript) -> None:
        """The words sound finished: end the turn after the shorter silence, not the full one."""
        if pending.gate.is_set() or not sounds_finished(heard.text):
            return
        wait = pending.speech_ended_at + self.options.turns.early_end_silence_s
        await asyncio.sleep(max(0.0, wait - time.monotonic()))
        if self._speculation is pending and (ended := self._detector.end_now()) is not None:
            self._commit(ended)

    async def _answer_pause(self, pending: _Pending) -> None:
        """Ask the LLM only once the silence has lasted `answer_pause_s`: transcribing a pause
        between words costs a Whisper run that is dropped when the caller goes on, but a prompt
        the LLM has started cannot be interrupted, and it would hold up the real one. Whisper
        started at the shorter pause, so it is mostly done by then (−100 ms on most turns)."""
        if pending.gate.is_set():
            return
        wait = pending.speech_ended_at + self.options.turns.answer_pause_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _barge_in(self) -> None:
        """The caller speaks over the AI: silence at once, stop generating, keep what was heard.
        Before the AI has said a word, the caller was not done: the words of their turn are
        carried into the one they go on with, which is answered as a whole, and what the client
        was shown of the stopped exchange is taken back (final transcripts with no text)."""
        dropped = self.track.clear()
        responder, self._responder = self._responder, None
        reply, self._reply = self._reply, None
        answering, self._answering = self._answering, None
        if responder is not None and not responder.done():
            responder.cancel()
        if reply is not None and (heard := self._heard_text(reply, dropped)):
            reply.interrupted = True
            await self._finish(reply, heard)
            return
        if reply is not None:
            taken_back = self._transcript(reply.turn, "ai", "", final=True)
            await self._events.emit("transcript", {**taken_back, "interrupted": True})
        if answering is not None and answering.words is not None:
            self._said = [*answering.said, answering.words]
            carried = self._transcript(answering.turn, "caller", "", final=True)
            await self._events.emit("transcript", {**carried, "carried": True})

    async def _respond(self, pending: _Pending) -> None:
        """Answer one caller turn; runs ahead of the gate, whose opening every effect awaits."""
        turn, language = pending.turn, self.options.language
        started = time.monotonic()
        try:
            heard = await self._words(pending)
        except ParleyError as exc:
            await pending.gate.wait()
            self._settle(pending)
            await self._events.emit("transcript", self._transcript(turn, "caller", "", final=True))
            await self._apologize(exc)
            return
        marks = {"sttMs": _ms(time.monotonic() - started)}
        if heard.text and not pending.gate.is_set():
            await self._events.emit(
                "transcript", self._transcript(turn, "caller", heard.text, final=False)
            )
        if not pending.gate.is_set():
            self.tasks.start(self._end_early(pending, heard), f"end-early-{turn}")
        if not heard.text:
            await pending.gate.wait()
            self._settle(pending)
            await self._events.emit("transcript", self._transcript(turn, "caller", "", final=True))
            return
        user = Turn(
            call_id=self.call.id,
            index=-1,
            role=Role.USER,
            text=heard.text,
            language=language.value,
            started_at=utcnow(),
        )
        await self._answer_pause(pending)
        reply = _Reply(turn=turn, user=user, marks=marks, speech_ended_at=pending.speech_ended_at)
        pending.reply = reply
        if pending.gate.is_set():
            await self._open(pending, reply)
        try:
            await self._speak_reply(reply, pending)
        except ParleyError as exc:
            if self._reply is reply:
                self._reply = None
            await self._open(pending, reply)
            self._settle(pending)
            await self._apologize(exc)
            return
        await self._open(pending, reply)
        self.tasks.start(self._prefetch(reply), f"prefetch-{turn}")
        await self._wait_played(reply)
        await self._played_out(reply, " ".join(reply.spoken) or reply.text.strip())

    def _settle(self, pending: _Pending) -> None:
        """The turn has had all the answer it gets (none, or an apology): speech from now on is
        a new turn, which neither cancels this task nor carries these words."""
        if self._answering is pending:
            self._answering = None
        if self._responder is asyncio.current_task():
            self._responder = None

    async def _played_out(self, reply: _Reply, said: str) -> None:
        """The reply was heard to its end: speech from now on is a new turn, not a barge-in."""
        if self._responder is asyncio.current_task():
            self._responder = None
        if self._reply is reply:
            self._reply = None
            await self._finish(reply, said)

    async def _words(self, pending: _Pending) -> Transcript:
        """All the caller said in the turn: the pieces before its last one, then that one.
        Shielded: a barge-in that stops this answer leaves the words for the turn carried on."""
        assert pending.words is not None
        parts = [await asyncio.shield(task) for task in (*pending.said, pending.words)]
        for part in parts:
            if isinstance(part, ParleyError):
                raise part
        heard = [part for part in parts if isinstance(part, Transcript)]
        return Transcript(
            text=" ".join(part.text for part in heard if part.text),
            language=heard[-1].language,
            duration_s=sum(part.duration_s for part in heard),
        )

    async def _open(self, pending: _Pending, reply: _Reply) -> None:
        """Wait for the turn to be committed; the first time, tell the client what was heard and
        start on the sentiment, and make this the reply a barge-in cuts."""
        await pending.gate.wait()
        if pending.opened:
            return
        pending.opened = True
        committed = pending.committed_at or time.monotonic()
        reply.marks["endOfTurnMs"] = _ms(committed - pending.speech_ended_at)
        reply.asked.started_at = utcnow()
        self._reply = reply
        await self._events.emit(
            "transcript", self._transcript(reply.turn, "caller", reply.asked.text, final=True)
        )
        self.tasks.start(self._sentiment(reply.turn, reply.asked), f"sentiment-{reply.turn}")

    async def _speak_reply(self, reply: _Reply, pending: _Pending) -> None:
        messages = await self._conversation.messages_for(
            self.call, reply.asked.text, self.options.language, self.options.system_prompt,
            window=self._history, move=False,
        )  # fmt: skip
        splitter = SentenceSplitter()
        llm_started = time.monotonic()
        async for piece in self._engine.llm.stream_reply(
            messages, max_tokens=self._conversation.max_tokens
        ):
            reply.marks.setdefault("llmFirstTokenMs", _ms(time.monotonic() - llm_started))
            reply.text += piece
            if pending.gate.is_set():
                await self._open(pending, reply)
                await self._events.emit(
                    "transcript",
                    self._transcript(reply.turn, "ai", reply.text.strip(), final=False),
                )
            for sentence in splitter.feed(piece):
                reply.marks.setdefault("llmFirstClauseMs", _ms(time.monotonic() - llm_started))
                await self._say(reply, sentence, pending)
        if rest := splitter.flush():
            reply.marks.setdefault("llmFirstClauseMs", _ms(time.monotonic() - llm_started))
            await self._say(reply, rest, pending)

    async def _say(self, reply: _Reply, sentence: str, pending: _Pending) -> None:
        text = speakable(sentence)
        if not text:
            return
        tts_started = time.monotonic()
        index: int | None = None  # of the sentence in `reply.spoken`, once its audio is queued
        async for pcm in self._synthesize(text):
            reply.marks.setdefault("ttsFirstChunkMs", _ms(time.monotonic() - tts_started))
            await self._open(pending, reply)
            if reply.first_audio_at is None:
                reply.first_audio_at = time.monotonic()
                reply.marks["voiceToVoiceMs"] = _ms(reply.first_audio_at - pending.speech_ended_at)
            if index is None:
                index = len(reply.spoken)
                reply.spoken.append(text)
            if self.track.play(pcm, tag=(reply.turn, index)):  # the legacy event: what was queued
                reply.audio.append(pcm)

    async def _synthesize(self, text: str) -> AsyncIterator[Pcm16]:
        """The speech for `text` at 48 kHz, without the voice's leading quiet."""
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        first = True
        async for chunk in self._engine.tts.synthesize(
            text, language=self.options.language, voice=self.options.voice
        ):
            pcm = _resample(resampler, chunk)
            if first:
                pcm, first = trim_leading_silence(pcm, RATE), False
            yield pcm
        yield _flush(resampler)

    async def _prefetch(self, reply: _Reply) -> None:
        """While the answer plays (the LLM is idle and the caller listens), evaluate the prompt
        the next turn will start with, so its first token does not wait for the history to be
        read again — seconds on this machine whenever the history window moves."""
        warm = getattr(self._engine.llm, "warm", None)
        if warm is None:
            return
        answer = Turn(
            call_id=self.call.id,
            index=-1,
            role=Role.ASSISTANT,
            text=" ".join(reply.spoken) or reply.text.strip(),
        )
        messages = await self._conversation.messages_for(
            self.call, "", self.options.language, self.options.system_prompt,
            unsaved=[reply.asked, answer], window=self._history,
        )  # fmt: skip
        try:
            await warm(messages)
        except ParleyError as exc:
            log.info("prefetching the next prompt failed: %s", exc.message)

    async def _wait_played(self, reply: _Reply) -> None:
        def ours(tag: object) -> bool:
            return isinstance(tag, tuple) and tag[0] == reply.turn

        await self.track.played(ours)

    async def _finish(self, reply: _Reply, heard: str) -> None:
        """Store the caller's turn and what the caller heard of the AI's, then tell the client
        (so a client that reads the conversation when the final transcript comes finds both)."""
        if self._answering is not None and self._answering.turn == reply.turn:
            self._answering = None
        assistant = Turn(
            call_id=self.call.id,
            index=-1,
            role=Role.ASSISTANT,
            text=heard,
            language=self.options.language.value,
            started_at=reply.user.started_at if reply.user else utcnow(),
            ended_at=utcnow(),
            latency_ms=reply.marks or None,
        )
        await self._calls.record_turns([reply.user, assistant] if reply.user else [assistant])
        payload = self._transcript(reply.turn, "ai", heard, final=True)
        payload["interrupted"] = reply.interrupted
        await self._events.emit("transcript", payload)
        if reply.user is None:  # the greeting: no caller turn, so no latency to report
            return
        await self._events.emit(
            "turn-latency",
            {
                "callId": str(self.call.id),
                "turn": reply.turn,
                "voiceToVoiceMs": reply.marks.get("voiceToVoiceMs"),
                "stages": reply.marks,
                "at": {
                    "speechEnded": _epoch_ms(reply.speech_ended_at),
                    "firstAudio": _epoch_ms(reply.first_audio_at),
                },
            },
        )
        if self.options.legacy_audio_event and not reply.interrupted:
            await self._legacy_audio(reply.audio)

    def _heard_text(self, reply: _Reply, dropped: list[Segment]) -> str:
        """The sentences played in full, then the played share of the words of the one cut."""
        total: dict[int, int] = defaultdict(int)
        played: dict[int, int] = defaultdict(int)
        for segment in [*self.track.finished, *dropped]:
            if isinstance(segment.tag, tuple) and segment.tag[0] == reply.turn:
                total[segment.tag[1]] += segment.samples  # a finished one keeps no audio
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
        """The greeting is the AI's turn 0 and goes as a reply does: shown before anything the
        caller says, cut by a barge-in (what was heard is stored and shown, `interrupted`), and
        stored once heard."""
        greeting = _Reply(turn=0, user=None, text=GREETINGS[self.options.language])
        self._reply, self._responder = greeting, asyncio.current_task()
        await self._events.emit("transcript", self._transcript(0, "ai", greeting.text, final=False))
        said = greeting.text
        try:
            await self._say_greeting(greeting)
        except ParleyError as exc:
            await self._events.emit("error", {"message": exc.message, "code": exc.code})
            said = " ".join(greeting.spoken)
        await self._wait_played(greeting)
        if said:
            await self._played_out(greeting, said)
        elif self._reply is greeting:  # not a word of it could be spoken: take it back
            self._reply = self._responder = None
            await self._events.emit("transcript", self._transcript(0, "ai", "", final=True))

    async def _say_greeting(self, greeting: _Reply) -> None:
        """Sentence by sentence, so a barge-in keeps the sentences heard in full."""
        splitter = SentenceSplitter()
        for sentence in filter(None, [*splitter.feed(greeting.text + " "), splitter.flush()]):
            index: int | None = None
            async for pcm in self._synthesize(sentence):
                if index is None:
                    index = len(greeting.spoken)
                    greeting.spoken.append(sentence)
                self.track.play(pcm, tag=(0, index))

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
            status = self.call.closing_status(status)
            if reason and status is not CallStatus.FAILED:
                log.info("call %s ends: %s", self.call.id, reason)
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


def _epoch_ms(monotonic: float | None) -> float | None:
    """A `time.monotonic()` instant as Unix time in ms (for clients to line up with their own
    clock: the part of voice-to-voice the server cannot see is theirs to compute)."""
    if monotonic is None:
        return None
    return round((time.time() - (time.monotonic() - monotonic)) * 1000, 1)


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


async def warm_up(engine: AIEngine, conversation: ConversationService) -> None:
    """Put what every call's first reply starts with (system prompt, greeting) in the local LLM's
    prompt cache, in the background after start-up. Cloud LLMs have nothing to warm."""
    warm = getattr(engine.llm, "warm", None)
    if warm is None:
        return
    for language, greeting in GREETINGS.items():
        messages = [
            ChatMessage("system", conversation.system_prompt(language, None)),
            ChatMessage("assistant", greeting),
            ChatMessage("user", "Hi."),
        ]
        try:
            await warm(messages)
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
