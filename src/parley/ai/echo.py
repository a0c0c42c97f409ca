"""Telling the caller's voice from the AI's own voice coming back through the caller's microphone.

A phone on speaker, or a browser whose echo canceller is off or overwhelmed, sends the AI's
speech back to us a few hundred milliseconds later, filtered and quieter. Silero hears speech in
it, and without a guard the AI would interrupt itself (barge-in) and then answer its own words.

`EchoGuard` keeps the spectral envelope of what the call played (20 ms frames, log energy in
sixteen bands from 150 Hz to 5 kHz) and compares the last `window_s` of what the caller's side
sent with it at every delay up to `max_delay_s`. Echo follows the played envelope band by band
at some delay, whatever the gain and colouring of the path (each band's mean is removed, so a
fixed filter does not matter); a person talking does not, and the two talking together follow it
only weakly. But the best of forty delays flatters chance: a caller's onset from silence lines up
with *some* pause in the AI's speech (0.6–0.67 within 200 ms of onset, which held barge-in back by
half a second). So the guard first waits for unmistakable echo (≥ `lock_threshold` = 0.75 at the
best delay, four checks in a row at the same delay; real echo sits at ~0.8 for the whole
utterance, a chance match does not last) to learn the path's delay, and from then on only looks
within a few frames of it, where `threshold` = 0.6 suffices and a caller's onset lines up only by
luck.

Per 20 ms frame it only keeps the samples; the envelopes are computed (all missing ones in one
FFT call) when a check needs them, and a check happens only when the caller's side sounds like
speech while the AI speaks or has just stopped (when no echo can exist, `is_echo` is false
without any work).
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from parley.ai.base import Pcm16, Samples

FRAME_S = 0.02
# Kept as two rows that read as one scale: ruff format would give each edge a line of its own.
_EDGES_HZ = (150, 250, 350, 500, 650, 800, 1000, 1200, 1450, 1700, 2000, 2300, 2650, 3000, 3500,
             4000, 5000)  # fmt: skip
_FLOOR = 1e-7
_DELAY_SLACK = 3  # frames either side of the locked delay (network jitter moves it a little)
_LOCK_CHECKS = 4  # checks in a row that must agree on the delay (chance matches are isolated)

Envelope = npt.NDArray[np.float32]  # one row of band log-energies per 20 ms frame
_SILENCE: Envelope = np.full(len(_EDGES_HZ) - 1, np.log10(_FLOOR), np.float32)


@functools.lru_cache(maxsize=4)
def _band_bins(size: int, rate: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """For frames of `size` samples at `rate`: where each band starts among the rFFT bins, and
    its width in bins."""
    starts = np.searchsorted(np.fft.rfftfreq(size, 1 / rate), _EDGES_HZ)
    return starts[:-1], np.diff(starts).astype(np.float32)


def _envelopes(frames: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float32]:
    """Band log-energies of each row of `frames` (all at once: one FFT call for the lot)."""
    size = frames.shape[1]
    starts, widths = _band_bins(size, rate)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    energies = np.add.reduceat(spectrum[:, : starts[-1] + int(widths[-1])], starts, axis=1)
    return np.asarray(np.log10(energies / widths / size + _FLOOR), np.float32)


@dataclass(slots=True)
class _Frame:
    """20 ms of audio and when; its envelope is computed only when a check needs it."""

    at: float
    samples: npt.NDArray[np.float32] | None  # None: silence
    envelope: Envelope | None = None


def _envelopes_of(frames: deque[_Frame], rate: int) -> Envelope:
    loud = [f for f in frames if f.envelope is None and f.samples is not None]
    if loud:
        batch = np.stack([f.samples for f in loud if f.samples is not None])
        for frame, envelope in zip(loud, _envelopes(batch, rate), strict=True):
            frame.envelope, frame.samples = envelope, None
    return np.stack([_SILENCE if f.envelope is None else f.envelope for f in frames])


class EchoGuard:
    def __init__(
        self,
        *,
        window_s: float = 0.48,
        max_delay_s: float = 0.8,
        threshold: float = 0.6,
        lock_threshold: float = 0.75,
        speech_rate: int = 48_000,
        mic_rate: int = 16_000,
    ) -> None:
        self._window = round(window_s / FRAME_S)
        self._max_delay = round(max_delay_s / FRAME_S)
        self.threshold = threshold
        self.lock_threshold = lock_threshold
        self.delay: int | None = None  # the echo path's delay in frames, once echo was sure
        self._streak: list[int] = []  # best delays of the last checks in a row above the lock
        history = self._window + self._max_delay + 8
        self._played: deque[_Frame] = deque(maxlen=history)
        self._heard: deque[_Frame] = deque(maxlen=self._window)
        self._last_loud_played = -1e9
        self._speech_rate, self._mic_rate = speech_rate, mic_rate
        self._pending = np.zeros(0, np.float32)
        self.checks = 0
        self.echoes = 0

    def played(self, pcm: Pcm16, at: float) -> None:
        """One outbound frame (20 ms at `speech_rate`, silence included), sent at `at`. Called
        for every frame, so it only keeps the samples: envelopes wait for a check."""
        if len(pcm) and max(int(pcm.max()), -int(pcm.min())) > 32:  # above -60 dBFS
            self._last_loud_played = at
            self._played.append(_Frame(at, pcm.astype(np.float32) * np.float32(1 / 32768)))
        elif self._played and at - self._last_loud_played < (self._max_delay + 8) * FRAME_S:
            self._played.append(_Frame(at, None))

    def heard(self, samples: Samples, at: float) -> None:
        """Caller audio as it arrives (float at `mic_rate`), cut into 20 ms frames."""
        step = round(FRAME_S * self._mic_rate)
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        while len(self._pending) >= step:
            frame, self._pending = self._pending[:step], self._pending[step:]
            self._heard.append(_Frame(at, frame))

    def could_echo(self, now: float) -> bool:
        """Whether anything the AI said could still be coming back."""
        return now - self._last_loud_played <= (self._max_delay + self._window) * FRAME_S

    def correlations(self) -> npt.NDArray[np.float64]:
        """The correlation between the last window heard and the played envelope, per delay."""
        if len(self._heard) < self._window // 2 or not self._played:
            return np.zeros(self._max_delay + 1)
        heard = _envelopes_of(self._heard, self._mic_rate)
        heard_at = np.array([f.at for f in self._heard])
        before = _SILENCE[None, :]  # row 0: before anything was played
        played = np.concatenate([before, _envelopes_of(self._played, self._speech_rate)])
        played_at = np.array([f.at for f in self._played])
        heard = heard - heard.mean(axis=0)
        heard = heard - heard.mean(axis=1, keepdims=True)
        # for every delay, the played frame that was sent that long before each heard frame
        delays = np.arange(self._max_delay + 1)[:, None] * FRAME_S
        index = np.searchsorted(played_at, heard_at[None, :] - delays, side="right")
        reference = played[index]  # (delays, frames, bands)
        reference = reference - reference.mean(axis=1, keepdims=True)
        reference = reference - reference.mean(axis=2, keepdims=True)
        dot = np.einsum("fb,dfb->d", heard, reference)
        norm = np.sqrt((heard**2).sum() * (reference**2).sum(axis=(1, 2)))
        return np.where(norm > 1e-6, dot / np.maximum(norm, 1e-6), 0.0)

    def similarity(self) -> float:
        """How much the last window heard looks like the played audio: at the echo path's delay
        once it is known (±`_DELAY_SLACK` frames), else at the best of all delays."""
        correlation = self.correlations()
        best = int(correlation.argmax())
        if correlation[best] >= self.lock_threshold:
            # unmistakable echo, several checks running at the same delay: the path's delay
            steady = self._streak and abs(best - self._streak[-1]) <= _DELAY_SLACK
            self._streak = [*self._streak, best] if steady else [best]
            if len(self._streak) >= _LOCK_CHECKS:
                self.delay = int(np.median(self._streak))
        else:
            self._streak = []
        if self.delay is None:
            return float(max(0.0, correlation[best]))
        low, high = max(0, self.delay - _DELAY_SLACK), self.delay + _DELAY_SLACK + 1
        return float(max(0.0, correlation[low:high].max()))

    def is_echo(self, now: float) -> bool:
        """Whether the speech heard in the last window is the AI's own voice coming back."""
        if not self.could_echo(now):
            return False
        self.checks += 1
        threshold = self.threshold if self.delay is not None else self.lock_threshold
        echo = self.similarity() >= threshold
        self.echoes += echo
        return echo
