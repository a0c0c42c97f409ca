"""The AI's voice on the WebRTC audio track: 20 ms frames at 48 kHz, paced in real time.

Speech is queued as PCM segments (one per sentence) and played back to back; between them, and
whenever nothing is queued, the track sends silence so the stream never stalls. `clear()` drops
everything not yet played (barge-in) and the track reports how much of each segment was played,
so the stored AI turn can be what the caller actually heard.

Pacing is measured, cheaply, in two ways (the event loop or the encoder was busy):
- an *underrun* is a frame handed to the encoder more than one frame period (20 ms) after it was
  due: the stream is running behind its clock;
- a *gap* is an interval of more than two frame periods between two frames handed over: for that
  long a receiver got nothing, and a jitter buffer that holds a frame or two runs dry (an audible
  glitch). A late stream catches up in a burst, so one stall makes one gap but many underruns.
Each track counts its own (`underruns`, `gaps`, and `speech_...` for those that fell while speech
was queued, the audible ones); `PACING` sums every track of the process, and `live_tracks()`
counts the tracks still in memory.
"""

from __future__ import annotations

import asyncio
import fractions
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from aiortc import MediaStreamTrack
from av import AudioFrame

from parley.ai.base import Pcm16

RATE = 48_000
FRAME = 960  # 20 ms
PERIOD = FRAME / RATE
TIME_BASE = fractions.Fraction(1, RATE)


@dataclass
class PacingStats:
    """Process-wide totals over every speech track, for `/metrics` and benchmarks."""

    frames: int = 0  # 20 ms frames handed to the encoder
    underruns: int = 0  # frames handed over more than one frame period after they were due
    speech_underruns: int = 0  # of those, frames handed over while speech was queued
    gaps: int = 0  # intervals of more than two frame periods between two frames
    speech_gaps: int = 0  # of those, gaps while speech was queued
    gap_seconds: float = 0.0  # the time those gaps lasted beyond one frame period


PACING = PacingStats()
_TRACKS: weakref.WeakSet[SpeechTrack] = weakref.WeakSet()


def live_tracks() -> int:
    """Speech tracks still in memory (ended or not): a leak shows as growth."""
    return len(_TRACKS)


@dataclass
class Segment:
    """Queued speech: `played` counts the samples already sent."""

    pcm: Pcm16
    tag: object
    played: int = 0

    @property
    def done(self) -> bool:
        return self.played >= len(self.pcm)


class SpeechTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[Segment] = deque()
        self._pts = 0
        self._start: float | None = None
        self._silence = np.zeros(FRAME, np.int16)
        self.finished: deque[Segment] = deque(maxlen=256)  # the last segments played in full
        self.underruns = 0  # frames that were late by more than one frame (the loop was busy)
        self.speech_underruns = 0  # of those, the ones that fell while speech was queued
        self.gaps = 0  # stalls of more than two frame periods between two frames
        self.speech_gaps = 0
        self._handed_at: float | None = None  # when the last frame was handed over
        self._progress = asyncio.Event()  # set, and replaced, whenever a segment ends
        # each frame as it is sent, with the time it is due (monotonic; free of the loop's jitter)
        self.on_frame: Callable[[Pcm16, float], None] | None = None
        _TRACKS.add(self)

    @property
    def speaking(self) -> bool:
        return bool(self._queue)

    def queued_seconds(self) -> float:
        return sum(len(s.pcm) - s.played for s in self._queue) / RATE

    def pending(self, match: Callable[[object], bool]) -> bool:
        """Whether a queued segment's tag satisfies `match`."""
        return any(match(segment.tag) for segment in self._queue)

    async def played(self, match: Callable[[object], bool]) -> None:
        """Wait until no queued segment satisfies `match` (played to the end, or cleared)."""
        while self.pending(match):
            await self._progress.wait()

    def play(self, pcm: Pcm16, tag: object = None) -> None:
        if len(pcm):
            self._queue.append(Segment(np.ascontiguousarray(pcm, np.int16), tag))

    def clear(self) -> list[Segment]:
        """Stop speaking now; return the segments cut short or never started."""
        dropped = list(self._queue)
        self._queue.clear()
        self._signal()
        return dropped

    def _signal(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def recv(self) -> AudioFrame:
        await self._pace()
        samples = self._next_samples()
        if self.on_frame is not None and self._start is not None:
            self.on_frame(samples, self._start + self._pts / RATE)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME
        return frame

    async def _pace(self) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._pts / RATE
        if due > now:
            await asyncio.sleep(due - now)
            now = time.monotonic()
        if now - due > PERIOD:
            self._count_underrun()
        if self._handed_at is not None and now - self._handed_at > 2 * PERIOD:
            self._count_gap(now - self._handed_at - PERIOD)
        self._handed_at = now
        PACING.frames += 1

    def _count_underrun(self) -> None:
        self.underruns += 1
        PACING.underruns += 1
        if self._queue:
            self.speech_underruns += 1
            PACING.speech_underruns += 1

    def _count_gap(self, missing_s: float) -> None:
        self.gaps += 1
        PACING.gaps += 1
        PACING.gap_seconds += missing_s
        if self._queue:
            self.speech_gaps += 1
            PACING.speech_gaps += 1

    def _next_samples(self) -> Pcm16:
        out = np.zeros(FRAME, np.int16)
        filled = 0
        while filled < FRAME and self._queue:
            segment = self._queue[0]
            take = min(FRAME - filled, len(segment.pcm) - segment.played)
            out[filled : filled + take] = segment.pcm[segment.played : segment.played + take]
            segment.played += take
            filled += take
            if segment.done:
                self.finished.append(self._queue.popleft())
                self._signal()
        return out if filled else self._silence
