"""End-of-turn detection on a live audio stream, from Silero's speech probabilities.

    idle ──(speech for min_speech_s)──▶ speaking ──(silence for end_silence_s)──▶ turn ended
                    └─ SpeechStarted                                   └─ TurnEnded(audio)

A turn ends only after `end_silence_s` of silence (700 ms by default), so the normal pauses
inside a sentence do not cut the caller off; a turn that goes on past `max_turn_s` is ended anyway.
`SpeechStarted` comes as soon as speech is sure (`min_speech_s`), which is what barge-in needs.
The audio handed over starts `preroll_s` before the detected onset, so no first syllable is lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from parley.ai.base import SAMPLE_RATE, Samples
from parley.ai.vad import WINDOW

WINDOW_S = WINDOW / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class TurnConfig:
    start_threshold: float = 0.6
    end_threshold: float = 0.35
    min_speech_s: float = 0.16
    end_silence_s: float = 0.7
    preroll_s: float = 0.3
    max_turn_s: float = 30.0


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float  # time.monotonic() when speech became sure


@dataclass(frozen=True, slots=True)
class TurnEnded:
    audio: Samples
    speech_ended_at: float  # when the last speech window was heard
    detected_at: float


TurnEvent = SpeechStarted | TurnEnded


@dataclass
class TurnDetector:
    """Feed it audio and the matching window probabilities; it says when turns start and end."""

    config: TurnConfig = field(default_factory=TurnConfig)
    _speaking: bool = False
    _run: int = 0  # consecutive windows of speech (idle) or of silence (speaking)
    _recent: list[Samples] = field(default_factory=list)
    _turn: list[Samples] = field(default_factory=list)
    _turn_samples: int = 0
    _last_speech_at: float = 0.0

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
        now = time.monotonic()
        if not self._speaking:
            self._run = self._run + 1 if probability >= self.config.start_threshold else 0
            if self._run * WINDOW_S >= self.config.min_speech_s:
                return self._start(now)
            return None
        if probability >= self.config.end_threshold:
            self._run, self._last_speech_at = 0, now
        else:
            self._run += 1
        too_long = self._turn_samples >= self.config.max_turn_s * SAMPLE_RATE
        if self._run * WINDOW_S >= self.config.end_silence_s or too_long:
            return self._end(now)
        return None

    def _start(self, now: float) -> SpeechStarted:
        self._speaking, self._run, self._last_speech_at = True, 0, now
        self._turn = list(self._recent)
        self._turn_samples = sum(len(a) for a in self._turn)
        self._recent = []
        return SpeechStarted(at=now)

    def _end(self, now: float) -> TurnEnded:
        audio = np.concatenate(self._turn) if self._turn else np.zeros(0, np.float32)
        self._speaking, self._run, self._turn, self._turn_samples = False, 0, [], 0
        return TurnEnded(audio=audio, speech_ended_at=self._last_speech_at, detected_at=now)
