"""The AI's voice on the WebRTC audio track: 20 ms frames at 48 kHz, paced in real time.

Speech is queued as PCM segments (one per sentence) and played back to back; between them, and
whenever nothing is queued, the track sends silence so the stream never stalls. `clear()` drops
everything not yet played (barge-in) and the track reports how much of each segment was played,
so the stored AI turn can be what the caller actually heard.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from aiortc import MediaStreamTrack
from av import AudioFrame

from parley.ai.base import Pcm16

RATE = 48_000
FRAME = 960  # 20 ms
TIME_BASE = fractions.Fraction(1, RATE)


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
        self._progress = asyncio.Event()  # set, and replaced, whenever a segment ends

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
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME
        return frame

    async def _pace(self) -> None:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -FRAME / RATE:
            self.underruns += 1

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
