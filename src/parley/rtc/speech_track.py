"""The AI's voice on the WebRTC audio track: 20 ms frames at 48 kHz, paced in real time.

Speech is queued as PCM segments (one per sentence) and played back to back; between them, and
whenever nothing is queued, the track sends silence so the stream never stalls. `clear()` drops
everything not yet played (barge-in) and the track reports how much of each segment was played,
so the stored AI turn can be what the caller actually heard.

A track holds at most `MAX_QUEUED_S` of speech (a reply is bounded by `LLM_MAX_TOKENS` well
below it; speech beyond is dropped, not queued), and a segment played in full keeps only its
length and tag (`finished`), not its audio: a long call once kept its last 256 sentences' PCM
and packets. `/metrics` reports the audio every track holds (`speechAudio`).

Pacing is measured, cheaply, in two ways (the event loop or the encoder was busy):
- an *underrun* is a frame handed to the encoder more than one frame period (20 ms) after it was
  due: the stream is running behind its clock;
- a *gap* is an interval of more than two frame periods between two frames handed over: for that
  long a receiver got nothing, and a jitter buffer that holds a frame or two runs dry (an audible
  glitch). A late stream catches up in a burst, so one stall makes one gap but many underruns.
Each track counts its own (`underruns`, `gaps`, and `speech_...` for those that fell while speech
was queued, the audible ones); `PACING` sums every track of the process, and `live_tracks()`
counts the tracks still in memory.

The track hands aiortc Opus packets, not PCM frames (aiortc sends a track's `av.Packet`s as they
are). Left to aiortc, every 20 ms frame of every call, silence included, is encoded (stereo,
96 kbit/s, ~0.35 ms of CPU here) after a hop to a worker thread: at forty calls that is most of a
core spent saying nothing. Here silence is one packet made once per process, and speech is
encoded once, when it is queued, by one encoder thread for the whole process (mono, 40 kbit/s,
complexity 5: ~0.27 ms per frame; a stereo Opus stream carries mono packets, as browsers send
them). Each segment is padded to whole frames (< 20 ms of silence after a sentence) so that a
frame belongs to one segment. A segment whose first packets are not encoded yet when its turn
comes waits a frame, with silence, rather than stall the stream.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack

from parley.ai.base import Pcm16
from parley.memory import CacheFigures, register

RATE = 48_000
FRAME = 960  # 20 ms
PERIOD = FRAME / RATE
TIME_BASE = fractions.Fraction(1, RATE)
BITRATE = 40_000
COMPLEXITY = 5  # of libopus's 0-10: 10 costs a third more CPU for no audible gain on speech
MAX_QUEUED_S = 180  # of speech queued on one track: 17 MB of PCM, plus its Opus
_HELD_LIMIT = MAX_QUEUED_S * RATE * (2 + 1)  # PCM (2 bytes a sample) and packets (well under 1)

_ENCODER_THREAD = ThreadPoolExecutor(1, thread_name_prefix="opus")  # in order, for every track


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
    """Queued speech, whole frames of it: `played` counts the samples already sent, `packets`
    fills with its Opus packets (one per frame) as the encoder thread gets to them."""

    pcm: Pcm16
    tag: object
    played: int = 0
    packets: list[bytes] = field(default_factory=list)
    samples: int = field(init=False)  # its length, which it keeps once its audio is let go

    def __post_init__(self) -> None:
        self.samples = len(self.pcm)

    @property
    def done(self) -> bool:
        return self.played >= self.samples

    def held_bytes(self) -> int:
        return int(self.pcm.nbytes) + sum(len(packet) for packet in self.packets)

    def let_go(self) -> Segment:
        """Drop the audio (played in full, nobody reads it again); keep length, tag, played."""
        self.pcm, self.packets = _NO_AUDIO, []
        return self


def _opus_encoder() -> Any:
    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate, codec.format, codec.layout = BITRATE, "s16", "mono"
    codec.sample_rate, codec.time_base = RATE, TIME_BASE
    codec.options = {"application": "voip", "compression_level": str(COMPLEXITY)}
    return codec


def _encode_frame(codec: Any, samples: Pcm16, pts: int) -> list[bytes]:
    """One 20 ms mono frame through `codec`: libopus returns one packet per frame (its look-ahead
    shifts the audio by 6.5 ms; it does not hold a frame back)."""
    frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = RATE, pts, TIME_BASE
    return [bytes(p) for p in codec.encode(frame)]


class _Encoder:
    """One track's Opus encoder. It runs only on the one encoder thread, which takes the jobs in
    the order they were queued, so a track's segments are encoded one after the other."""

    def __init__(self) -> None:
        self._codec: Any = None
        self._pts = 0

    def encode(self, segment: Segment) -> None:
        if self._codec is None:
            self._codec = _opus_encoder()
        for start in range(0, len(segment.pcm), FRAME):
            segment.packets += _encode_frame(
                self._codec, segment.pcm[start : start + FRAME], self._pts
            )
            self._pts += FRAME


_NO_AUDIO: Pcm16 = np.zeros(0, np.int16)


@functools.cache
def silence_packet() -> bytes:
    """Opus for 20 ms of silence, from an encoder past its start-up."""
    codec = _opus_encoder()
    zeros = np.zeros(FRAME, np.int16)
    packets = [p for index in range(12) for p in _encode_frame(codec, zeros, index * FRAME)]
    return packets[-1]


class SpeechTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[Segment] = deque()
        self._pts = 0
        self._start: float | None = None
        self._silence = np.zeros(FRAME, np.int16)
        self._silence_packet = silence_packet()
        self._encoder = _Encoder()
        self.finished: deque[Segment] = deque(maxlen=256)  # the last played in full, no audio
        self.underruns = 0  # frames that were late by more than one frame (the loop was busy)
        self.speech_underruns = 0  # of those, the ones that fell while speech was queued
        self.gaps = 0  # stalls of more than two frame periods between two frames
        self.speech_gaps = 0
        self._handed_at: float | None = None  # when the last frame was handed over
        self._progress = asyncio.Event()  # set, and replaced, whenever a segment ends
        # each frame as it is sent, with the time it is due (monotonic; free of the loop's jitter)
        self.on_frame: Callable[[Pcm16, float], None] | None = None
        self.dropped_s = 0.0  # speech refused past MAX_QUEUED_S
        _TRACKS.add(self)
        register("speechAudio", self)

    @property
    def speaking(self) -> bool:
        return bool(self._queue)

    def queued_seconds(self) -> float:
        return sum(s.samples - s.played for s in self._queue) / RATE

    def figures(self) -> CacheFigures:
        held = [*self._queue, *self.finished]
        return CacheFigures(sum(s.held_bytes() for s in held), _HELD_LIMIT, len(held))

    def pending(self, match: Callable[[object], bool]) -> bool:
        """Whether a queued segment's tag satisfies `match`."""
        return any(match(segment.tag) for segment in self._queue)

    async def played(self, match: Callable[[object], bool]) -> None:
        """Wait until no queued segment satisfies `match` (played to the end, or cleared)."""
        while self.pending(match):
            await self._progress.wait()

    def play(self, pcm: Pcm16, tag: object = None) -> bool:
        """Queue `pcm` after what is queued; False (nothing queued) past `MAX_QUEUED_S`."""
        if len(pcm) / RATE + self.queued_seconds() > MAX_QUEUED_S:
            self.dropped_s += len(pcm) / RATE
            return False
        if len(pcm):
            whole = np.zeros(len(pcm) + -len(pcm) % FRAME, np.int16)
            whole[: len(pcm)] = pcm
            segment = Segment(whole, tag)
            self._queue.append(segment)
            _ENCODER_THREAD.submit(self._encoder.encode, segment)
        return True

    def clear(self) -> list[Segment]:
        """Stop speaking now; return the segments cut short or never started."""
        dropped = list(self._queue)
        self._queue.clear()
        self._signal()
        return dropped

    def _signal(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def recv(self) -> av.Packet[Any]:
        await self._pace()
        samples, data = self._next_frame()
        if self.on_frame is not None and self._start is not None:
            self.on_frame(samples, self._start + self._pts / RATE)
        packet = av.Packet(data)
        packet.pts, packet.time_base = self._pts, TIME_BASE
        self._pts += FRAME
        return packet

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

    def _next_frame(self) -> tuple[Pcm16, bytes]:
        """The next 20 ms to send, as samples (for the echo guard) and as an Opus packet."""
        if not self._queue:
            return self._silence, self._silence_packet
        segment = self._queue[0]
        index = segment.played // FRAME
        if index >= len(segment.packets):  # not encoded yet (just queued): silence this once
            return self._silence, self._silence_packet
        samples = segment.pcm[segment.played : segment.played + FRAME]
        packet = segment.packets[index]
        segment.played += FRAME
        if segment.done:
            self.finished.append(self._queue.popleft().let_go())
            self._signal()
        return samples, packet
