"""What the AI is saying on a live call: the reply on the track, the one a barge-in cuts.

    play(reply, sentence audio) ─▶ SpeechTrack, tagged (turn, sentence)
    heard to the end ─▶ stored and shown (`finish`)
    BargeIn ─▶ silence at once, the answering task stopped, what was heard stored and shown
               (`interrupted`), or — nothing heard — the exchange taken back and the caller's
               words carried into the turn they go on with

Apart from `Answerer` (which decides what to say, and when) because this is the state a barge-in
meets whatever the answer is doing: the reply being heard and the task producing it. The
greeting (turn 0) and the apology after a provider failed are spoken here too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from parley import observability
from parley.ai.audio import encode_wav
from parley.ai.base import AudioChunk, Language, Pcm16
from parley.calls.domain import Call, Stages, Turn, utcnow
from parley.calls.events import (
    CallEvents,
    MoodFound,
    Speaker,
    SpokenReply,
    Transcribed,
    Trouble,
    TurnTimed,
)
from parley.calls.recorder import Recorder, heard_text, played_shares
from parley.calls.responder import Responder, SentenceAudio
from parley.calls.turn_taker import Attempt, BargeIn, TurnTaker
from parley.errors import ParleyError
from parley.rtc.speech_track import RATE, SpeechTrack

log = logging.getLogger("parley.live")

APOLOGIES = {
    Language.KOREAN: "죄송합니다. 잠시 문제가 생겼어요. 다시 한 번 말씀해 주시겠어요?",
    Language.ENGLISH: "Sorry, I had a problem just now. Could you say that again?",
}


@dataclass(frozen=True, slots=True)
class Speaking:
    """How this call's AI speaks: its language, prompt and replay of replies."""

    call: Call
    language: Language
    system_prompt: str | None
    legacy_audio_event: bool


@dataclass
class Reply:
    """The AI's answer to one caller turn (or the greeting, turn 0, with no `user`), as it is
    spoken."""

    turn: int
    user: Turn | None
    attempt: Attempt | None = None
    spoken: list[str] = field(default_factory=list)  # sentences queued on the track, in order
    text: str = ""
    interrupted: bool = False
    stages: Stages = field(default_factory=dict)
    speech_ended_at: float = 0.0  # time.monotonic() of the caller's last speech window
    first_audio_at: float | None = None  # when its first audio was queued on the track
    acknowledged_at: float | None = None  # when an acknowledgement was queued before it
    answer_ready: bool = False  # the answer's own first audio exists (it may wait for the gate)
    left_out: int = 0  # opening sentences not said (an "Okay," after the acknowledgement)
    audio: list[Pcm16] = field(default_factory=list)  # the 48 kHz speech queued, for replay

    @property
    def asked(self) -> Turn:
        """The caller's turn this answers (every reply but the greeting has one)."""
        assert self.user is not None
        return self.user


class Speech:
    def __init__(
        self,
        speaking: Speaking,
        *,
        voice: Responder,
        recorder: Recorder,
        events: CallEvents,
        track: SpeechTrack,
        taker: TurnTaker,
    ) -> None:
        self._speaking = speaking
        self._language = speaking.language
        self._voice, self._recorder, self._events = voice, recorder, events
        self._track, self._taker = track, taker
        self._reply: Reply | None = None  # the reply a barge-in cuts
        self._responder: asyncio.Task[None] | None = None  # answering a committed turn

    @property
    def call_id(self) -> uuid.UUID:
        return self._speaking.call.id

    @property
    def busy(self) -> bool:
        """The AI speaks, or is answering: speech now is a barge-in."""
        return self._track.speaking or self._responder is not None

    def answering(self, task: asyncio.Task[None] | None) -> None:
        """`task` answers the committed turn: a barge-in stops it."""
        self._responder = task

    def release(self) -> None:
        """The task running now has given all the answer it will: speech is a new turn."""
        if self._responder is asyncio.current_task():
            self._responder = None

    def hold(self, reply: Reply) -> None:
        """`reply` is the one being heard now."""
        self._reply = reply

    def let_go(self, reply: Reply) -> None:
        if self._reply is reply:
            self._reply = None

    def play(self, reply: Reply, event: SentenceAudio) -> None:
        if event.index == len(reply.spoken):
            reply.spoken.append(event.sentence)
        queued = self._track.play(event.audio.pcm, tag=(reply.turn, event.index))
        if queued and reply.user is not None:
            reply.audio.append(event.audio.pcm)  # the legacy event: what was queued

    def acknowledge(self, reply: Reply, audio: Sequence[AudioChunk]) -> None:
        """A short acknowledgement before the answer (not part of it: not stored or shown)."""
        for chunk in audio:
            self._track.play(chunk.pcm, tag=("acknowledgement", reply.turn))
        reply.acknowledged_at = time.monotonic()

    async def played(self, reply: Reply, said: str) -> None:
        """Wait for the reply to be heard to its end; then speech is a new turn, not a
        barge-in, and `said` is stored and shown."""

        def ours(tag: object) -> bool:
            return isinstance(tag, tuple) and tag[0] == reply.turn

        await self._track.played(ours)
        self.release()
        if self._reply is reply:
            self._reply = None
            await self._finish(reply, said)

    async def barge_in(self, decision: BargeIn) -> None:
        """The caller speaks over the AI: silence at once, stop generating, keep what was heard.
        Before the AI has said a word, the caller was not done: the words of their turn are
        carried into the one they go on with, which is answered as a whole, and what the client
        was shown of the stopped exchange is taken back (final transcripts with no text)."""
        dropped = self._track.clear()
        responder, self._responder = self._responder, None
        reply, self._reply = self._reply, None
        if responder is not None and not responder.done():
            responder.cancel()
        if reply is not None:
            observability.record_barge_in()
            shares = played_shares(reply.turn, [*self._track.finished, *dropped])
            if heard := heard_text(reply.spoken, shares):
                reply.interrupted = True
                await self._finish(reply, heard)
                return
            await self.line(reply.turn, Speaker.AI, "", final=True, interrupted=True)
        if (stopped := decision.stopped) is not None:
            self._taker.carry(stopped)
            await self.line(stopped.turn, Speaker.CALLER, "", final=True, carried=True)

    async def _finish(self, reply: Reply, heard: str) -> None:
        """Store the caller's turn and what the caller heard of the AI's, then tell the client
        (so a client that reads the conversation when the final transcript comes finds both)."""
        if reply.attempt is not None:
            self._taker.settled(reply.attempt)
        await self._recorder.store(reply.user, heard, self._language, reply.stages)
        await self.line(reply.turn, Speaker.AI, heard, final=True, interrupted=reply.interrupted)
        if reply.user is None:  # the greeting: no caller turn, so no latency to report
            return
        self._recorder.timed(reply.stages)
        stages, ended = dict(reply.stages), reply.speech_ended_at
        first = reply.acknowledged_at or reply.first_audio_at  # the first audio heard
        await self._events.report(TurnTimed(self.call_id, reply.turn, stages, ended, first))
        if self._speaking.legacy_audio_event and not reply.interrupted and reply.audio:
            wav = await asyncio.to_thread(encode_wav, np.concatenate(reply.audio), RATE)
            await self._events.report(SpokenReply(wav, utcnow()))

    async def greet(self, text: str) -> None:
        """The greeting is the AI's turn 0 and goes as a reply does: shown before anything the
        caller says, cut by a barge-in (what was heard is stored and shown, `interrupted`), and
        stored once heard."""
        greeting = Reply(turn=0, user=None, text=text)
        self._reply, self._responder = greeting, asyncio.current_task()
        await self.line(0, Speaker.AI, text, final=False)
        said = text
        try:
            async for chunk in self._voice.say(text, language=self._language):
                self.play(greeting, chunk)
        except ParleyError as exc:
            await self._events.report(Trouble(exc))
            said = " ".join(greeting.spoken)
        if said:
            await self.played(greeting, said)
        elif self._reply is greeting:  # not a word of it could be spoken: take it back
            self._reply = self._responder = None
            await self.line(0, Speaker.AI, "", final=True)

    async def apologize(self, error: ParleyError) -> None:
        log.warning("provider failed during call %s: %s", self.call_id, error.message)
        await self._events.report(Trouble(error))
        apology = APOLOGIES[self._language]
        try:
            async for chunk in self._voice.speak(apology, language=self._language):
                self._track.play(chunk.pcm, tag=("apology", 0))
        except ParleyError:
            log.warning("the apology itself could not be spoken on call %s", self.call_id)

    async def sentiment(self, turn: int, user: Turn) -> None:
        if (mood := await self._recorder.mood(user, self._language)) is not None:
            await self._events.report(MoodFound(self.call_id, turn, mood))

    async def line(
        self,
        turn: int,
        speaker: Speaker,
        text: str,
        *,
        final: bool,
        interrupted: bool | None = None,
        carried: bool = False,
    ) -> None:
        """A line of the transcript, to the client."""
        language = self._language
        line = Transcribed(self.call_id, turn, speaker, text, final, language, interrupted, carried)
        await self._events.report(line)
