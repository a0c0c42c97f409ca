"""End-of-turn detection on a live audio stream, from Silero's speech probabilities.

    idle ─(speech, min_speech_s)─▶ speaking ─(silence, pause_s)─▶ paused ─(end_silence_s)─▶ ended
              └─ SpeechStarted      ▲  │      └─ SpeechPaused(audio)        └─ TurnEnded(audio)
                                    │  └─(max_turn_s of audio)─▶ SpeechCut(audio), goes on
                                    └──── speech again: SpeechResumed ◀──┘

A turn ends by itself only after `end_silence_s` of silence (700 ms by default), so the normal
pauses inside a sentence do not cut the caller off. Waiting that long on every turn is what makes
voice agents feel slow, so the detector also says when the caller *may* have finished
(`SpeechPaused`, after `pause_s` = 100 ms): the call starts recognizing there, asks the LLM once
the silence has lasted `answer_pause_s` (200 ms; Whisper is half done by then), and ends the turn
early (`end_now`) when the words sound finished (`sounds_finished`: a question, a complete
sentence), the way LiveKit's and Pipecat's text-aware turn detectors do. `SpeechResumed` cancels
the speculation. `SpeechStarted` comes as soon as speech is sure (`min_speech_s`), which is what
barge-in needs. The audio handed over starts `preroll_s` before the detected onset, so no first
syllable is lost.

A turn is never ended for being long. A caller who talks on is not done, and ending their turn
at a limit made their next words a new turn that barged in on the answer to their own first half
(which was then dropped, or carried as ever more audio for Whisper). Instead, each time the turn
has gathered `max_turn_s` of audio (30 s, Whisper's window) that audio is handed over as a
`SpeechCut` piece, to be transcribed while the caller goes on; later events of the turn carry
only the audio since the last cut, and the call joins the pieces' words. Whisper never hears more
than its window, and the end of a long turn costs no more than the end of a short one. This is
how LiveKit and Pipecat treat a long turn: speech is recognized in bounded pieces (streamed, or
per VAD segment), the user's transcripts are joined until the user stops, and the whole is
answered once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from parley.ai.base import SAMPLE_RATE, Samples
from parley.ai.vad import WINDOW

WINDOW_S = WINDOW / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class TurnConfig:
    start_threshold: float = 0.6
    end_threshold: float = 0.35
    min_speech_s: float = 0.064  # two 32 ms windows: barge-in waits for this
    pause_s: float = 0.1  # the words so far are transcribed (a dropped Whisper run is cheap)
    answer_pause_s: float = 0.2  # ... and answered (an LLM prompt cannot be interrupted)
    early_end_silence_s: float = 0.3  # the least silence before a turn that sounds finished ends
    end_silence_s: float = 0.7
    preroll_s: float = 0.3
    max_turn_s: float = 30.0


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float  # time.monotonic() when speech became sure


@dataclass(frozen=True, slots=True)
class SpeechPaused:
    """The caller has been silent for `pause_s`: the turn so far, to start on speculatively."""

    audio: Samples
    speech_ended_at: float


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """The caller spoke again after a `SpeechPaused`: the turn goes on."""

    at: float


@dataclass(frozen=True, slots=True)
class SpeechCut:
    """The turn has reached `max_turn_s` and the caller is still in it: the audio since the turn
    (or its last cut) began, to transcribe on its own. The turn goes on."""

    audio: Samples


@dataclass(frozen=True, slots=True)
class TurnEnded:
    audio: Samples
    speech_ended_at: float  # when the last speech window was heard
    detected_at: float


TurnEvent = SpeechStarted | SpeechPaused | SpeechResumed | SpeechCut | TurnEnded

# The last words of a sentence that is not over yet, whatever punctuation Whisper put after them
# (a word list filled across the lines, by hand: fmt: skip).
_UNFINISHED_EN = frozenset(
    ("and", "but", "or", "so", "because", "the", "a", "an", "to", "of", "with", "for", "um", "uh",
     "like", "if", "then", "my", "your", "i", "is", "are")
)  # fmt: skip
_FINISHED_KO = ("요", "다", "까", "죠", "네", "니다", "세요", "어요", "아요")
_UNFINISHED_KO = ("고", "서", "는데", "지만", "면", "니까", "그리고", "그래서", "근데", "음", "어")


def sounds_finished(text: str) -> bool:
    """Whether a transcript reads as a complete turn: a question, or a sentence of a few words
    that ends with a full stop after a word that can end one. Trailing commas, ellipses,
    conjunctions and fillers mean the caller is still thinking."""
    text = text.strip()
    if not text or text.endswith(("...", "…", ",", "-")):
        return False
    if text.endswith(("?", "？")):
        return True
    if not text.endswith((".", "!", "。", "！")):
        return False
    body = text.rstrip(".!。！ ")
    last = body.rsplit(None, 1)[-1] if body else ""
    if any("가" <= ch <= "힣" for ch in last):
        syllables = sum("가" <= ch <= "힣" for ch in body)
        return syllables >= 4 and last.endswith(_FINISHED_KO) and not last.endswith(_UNFINISHED_KO)
    # Whisper ends fragments with a full stop too ("Wait." for "Wait, when will..."): a statement
    # must have a few words before it can end a turn early.
    words = body.split()
    return len(words) >= 3 and last.lower().strip("\"'") not in _UNFINISHED_EN


@dataclass
class TurnDetector:
    """Feed it audio and the matching window probabilities; it says when turns start and end."""

    config: TurnConfig = field(default_factory=TurnConfig)
    clock: Callable[[], float] = time.monotonic  # the time of the events, in seconds
    _speaking: bool = False
    _run: int = 0  # consecutive windows of speech (idle) or of silence (speaking)
    _recent: list[Samples] = field(default_factory=list)
    _turn: list[Samples] = field(default_factory=list)
    _turn_samples: int = 0
    _last_speech_at: float = 0.0
    _paused: bool = False

    @property
    def speaking(self) -> bool:
        return self._speaking

    def feed(self, audio: Samples, probabilities: np.ndarray) -> list[TurnEvent]:
        """`probabilities` are the VAD windows completed by this `audio` (possibly none)."""
        self._keep(audio)
        events: list[TurnEvent] = []
        for probability in probabilities:
            if event := self._step(float(probability)):
                events.append(event)
        return events

    def _keep(self, audio: Samples) -> None:
        if self._speaking:
            self._turn.append(audio)
            self._turn_samples += len(audio)
            return
        self._recent.append(audio)
        budget = (
            int(self.config.preroll_s * SAMPLE_RATE)
            + int(self.config.min_speech_s * SAMPLE_RATE)
            + WINDOW
        )
        while sum(len(a) for a in self._recent) - len(self._recent[0]) > budget:
            self._recent.pop(0)

    def _step(self, probability: float) -> TurnEvent | None:
        now = self.clock()
        if not self._speaking:
            self._run = self._run + 1 if probability >= self.config.start_threshold else 0
            if self._run * WINDOW_S >= self.config.min_speech_s:
                return self._start(now)
            return None
        if probability >= self.config.end_threshold:
            self._run, self._last_speech_at = 0, now
            if self._paused:
                self._paused = False
                return SpeechResumed(at=now)
        else:
            self._run += 1
        if self._run * WINDOW_S >= self.config.end_silence_s:
            return self._end(now)
        if self._turn_samples >= self.config.max_turn_s * SAMPLE_RATE:
            return self._cut()
        if not self._paused and self._run * WINDOW_S >= self.config.pause_s:
            self._paused = True
            return SpeechPaused(np.concatenate(self._turn), self._last_speech_at)
        return None

    def end_now(self) -> TurnEnded | None:
        """End the current turn at once (it sounds finished); `None` when no one is speaking."""
        return self._end(self.clock()) if self._speaking else None

    def _start(self, now: float) -> SpeechStarted:
        self._speaking, self._run, self._last_speech_at = True, 0, now
        self._turn = list(self._recent)
        self._turn_samples = sum(len(a) for a in self._turn)
        self._recent = []
        return SpeechStarted(at=now)

    def _cut(self) -> SpeechCut:
        """Hand the audio so far over; a pause already reported is reported again (with only
        the audio since the cut), so the call can start on the turn's end once more."""
        audio = np.concatenate(self._turn)
        self._turn, self._turn_samples, self._paused = [], 0, False
        return SpeechCut(audio)

    def _end(self, now: float) -> TurnEnded:
        audio = np.concatenate(self._turn) if self._turn else np.zeros(0, np.float32)
        self._speaking, self._run, self._turn, self._turn_samples = False, 0, [], 0
        self._paused = False
        return TurnEnded(audio=audio, speech_ended_at=self._last_speech_at, detected_at=now)
