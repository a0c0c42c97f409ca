"""Whose turn it is in a live call: the caller's speech events in, decisions for the call out.

    SpeechStarted ─▶ [BargeIn(stopped)] while the AI speaks or answers, then Listening(turn)
    SpeechPaused  ─▶ [Drop(old)], Answer(attempt)     speculation: answer before it is certain
    SpeechResumed ─▶ [Drop(attempt)]                   the caller went on: it was a pause
    SpeechCut     ─▶ [Drop(attempt)], Transcribe(piece) a long turn's piece, transcribed now
    TurnEnded     ─▶ [Drop(stale), Answer(attempt)], Commit(attempt): the attempt's gate opens
    words known   ─▶ `heard()`: when they sound finished, `end_early()` after the short silence

A pure object, in the spirit of Pipecat's processors but with no tasks of its own: it holds the
`TurnDetector` and the state that decides (the caller's turn number, the speculative attempt,
the committed one being answered, the pieces of the turn so far) and is driven by the call,
which owns the tasks, the media and the effects. Its clock is injected, so the timing rules —
the LLM asked only after `answer_pause_s` of silence, a turn that sounds finished ended after
`early_end_silence_s` instead of `end_silence_s` — are unit-tested in milliseconds
(`tests/calls/test_turn_taker.py`).

A turn's words are transcribed piece by piece, each piece once (`Piece`): the pieces a long turn
is cut into, and a committed turn the caller went on with before the AI said a word — a barge-in
that stops an answer nobody heard gives its pieces to the next turn (`carry`), which is answered
as a whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from parley.ai.base import Samples
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


@dataclass(eq=False)
class Piece:
    """Audio of a caller turn that is transcribed on its own, once (the call keeps its words)."""

    audio: Samples
    name: str


@dataclass(eq=False)
class Attempt:
    """One try at answering caller turn `turn`: begun at a pause (speculative), or when the turn
    ended. Its effects wait until it is committed (`committed_at`)."""

    turn: int
    speech_ended_at: float
    last: Piece  # the audio since the turn (or its last cut) began
    earlier: tuple[Piece, ...] = ()  # cut pieces, and the words of a carried turn
    committed_at: float | None = None

    @property
    def committed(self) -> bool:
        return self.committed_at is not None

    @property
    def pieces(self) -> tuple[Piece, ...]:
        return (*self.earlier, self.last)


@dataclass(frozen=True, slots=True)
class BargeIn:
    """The caller speaks over the AI: stop it now. `stopped` is the committed turn whose answer
    stops; if the caller heard none of it, `carry` its words into the turn going on."""

    stopped: Attempt | None


@dataclass(frozen=True, slots=True)
class Listening:
    """The caller started speaking: turn `turn` is theirs."""

    turn: int


@dataclass(frozen=True, slots=True)
class Transcribe:
    piece: Piece


@dataclass(frozen=True, slots=True)
class Answer:
    """Start answering `attempt`: transcribe its last piece and prepare the reply."""

    attempt: Attempt


@dataclass(frozen=True, slots=True)
class Drop:
    """A speculative attempt is wrong (the caller went on): cancel it and its transcription.
    The words of its earlier pieces stay the turn's."""

    attempt: Attempt


@dataclass(frozen=True, slots=True)
class Commit:
    """The turn is over: `attempt`'s effects may happen."""

    attempt: Attempt


Decision = BargeIn | Listening | Transcribe | Answer | Drop | Commit


class TurnTaker:
    def __init__(self, config: TurnConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self.detector = TurnDetector(config, clock)
        self.turn = 0  # the caller's last committed turn
        self.last_event_at = clock()  # for the idle watchdog
        self._speculation: Attempt | None = None
        self._answering: Attempt | None = None  # committed, until answered (or given up)
        self._pieces: list[Piece] = []  # of the current turn, before the audio held in detector

    @property
    def speaking(self) -> bool:
        """The caller is in a turn (their speech started and has not ended)."""
        return self.detector.speaking

    @property
    def answering(self) -> Attempt | None:
        return self._answering

    def on(self, event: TurnEvent, *, ai_busy: bool) -> list[Decision]:
        """What to do about `event`; `ai_busy`: the AI speaks, or is answering a turn."""
        self.last_event_at = self._clock()
        if isinstance(event, SpeechStarted):
            stop = [self._barge_in()] if ai_busy else []
            return [*stop, Listening(self.turn + 1)]
        if isinstance(event, SpeechPaused):
            return [*self._drop(), self._speculate(event.audio, event.speech_ended_at)]
        if isinstance(event, SpeechResumed):
            return self._drop()
        if isinstance(event, SpeechCut):
            piece = Piece(event.audio, f"stt-{self.turn + 1}-cut")
            self._pieces.append(piece)
            return [*self._drop(), Transcribe(piece)]
        return [*self._commit(event)]

    def answer_wait(self, attempt: Attempt) -> float:
        """Seconds before the LLM may be asked: a prompt the LLM has started cannot be stopped
        and would hold up the real one, so a speculative attempt waits for `answer_pause_s` of
        silence (its words were started at the shorter `pause_s` and are mostly known by then)."""
        if attempt.committed:
            return 0.0
        return max(0.0, attempt.speech_ended_at + self.config.answer_pause_s - self._clock())

    def heard(self, attempt: Attempt, text: str) -> float | None:
        """`attempt`'s words are known: if they sound finished (a question, a complete
        sentence), the seconds after which `end_early` may end the turn; else None."""
        if attempt.committed or not sounds_finished(text):
            return None
        return max(0.0, attempt.speech_ended_at + self.config.early_end_silence_s - self._clock())

    def end_early(self, attempt: Attempt) -> list[Answer | Drop | Commit]:
        """End the turn now, if `attempt` still speaks for it (the caller has not gone on)."""
        if self._speculation is not attempt or (ended := self.detector.end_now()) is None:
            return []
        return self._commit(ended)

    def carry(self, stopped: Attempt) -> None:
        """The AI was stopped before the caller heard a word of its answer to `stopped`: the
        caller was not done, and that turn's words begin the one they go on with."""
        self._pieces = list(stopped.pieces)

    def settled(self, attempt: Attempt) -> None:
        """`attempt` has had all the answer it gets: speech from now on is a new turn, which does
        not carry its words."""
        if self._answering is attempt:
            self._answering = None

    def _barge_in(self) -> BargeIn:
        stopped, self._answering = self._answering, None
        return BargeIn(stopped)

    def _drop(self) -> list[Decision]:
        attempt, self._speculation = self._speculation, None
        return [Drop(attempt)] if attempt is not None else []

    def _attempt(self, turn: int, audio: Samples, speech_ended_at: float) -> Attempt:
        return Attempt(turn, speech_ended_at, Piece(audio, f"stt-{turn}"), tuple(self._pieces))

    def _speculate(self, audio: Samples, speech_ended_at: float) -> Answer:
        self._speculation = self._attempt(self.turn + 1, audio, speech_ended_at)
        return Answer(self._speculation)

    def _commit(self, ended: TurnEnded) -> list[Answer | Drop | Commit]:
        """The turn is over: commit its speculative attempt if it heard the same audio, else
        answer the turn from its end."""
        attempt, self._speculation = self._speculation, None
        self.turn += 1
        decisions: list[Answer | Drop | Commit] = []
        if attempt is None or attempt.speech_ended_at != ended.speech_ended_at:
            decisions += [Drop(attempt)] if attempt is not None else []
            attempt = self._attempt(self.turn, ended.audio, ended.speech_ended_at)
            decisions.append(Answer(attempt))
        self._pieces = []
        self._answering = attempt
        attempt.committed_at = ended.detected_at
        return [*decisions, Commit(attempt)]
