"""The caller's audio without aiortc's playout delay, decoded where it arrives.

aiortc's audio receiver holds packets in a jitter buffer until four more have arrived (prefetch 4)
before it hands one to the decoder: 80 ms that a *player* spends to ride out network jitter. The
server is no player: its listener feeds voice activity detection, and every millisecond it waits
is added to the end of each caller turn (voice-to-voice) and to the start of each barge-in. An
Opus packet is a whole 20 ms frame, so `PassThroughAudio` hands each packet to the decoder the
moment it arrives; one that arrives after a later one (reordered, or a late retransmission) is
dropped — the VAD and Whisper do not notice a missing 20 ms, while a caller would notice 80 ms
on every turn. A browser's NetEq, on the caller's side, still smooths what the caller hears.

aiortc also decodes each receiver's audio on a thread of its own: every 20 ms packet is queued
to that thread, decoded, and handed back to the event loop (`run_coroutine_threadsafe`). Opus
decodes a 20 ms frame in ~50 µs here, less than the two hand-offs cost, and with forty calls
forty decoder threads contend for the interpreter lock with the event loop that paces every
call's audio. `InlineDecoding` takes the place of the receiver's decoder queue: each frame is
decoded on the event loop as it arrives (mono, which is what the VAD wants) and put straight on
the track. The receiver's decoder thread still starts, and waits idle until the receiver stops.

aiortc has no option for either: `listen_directly` replaces the buffer and the queue of one audio
receiver before its first packet, and reports whether it could (a future aiortc that renames
the attributes leaves its own in place, and the tests in `test_receive.py` fail).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import queue
import threading
from typing import Any

import av
from aiortc import RTCRtpCodecParameters, RTCRtpReceiver
from aiortc.codecs import get_decoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

log = logging.getLogger("parley.rtc")

_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"
_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RTP_CLOCK = fractions.Fraction(1, 48_000)  # Opus's RTP clock, whatever the audio's rate
_HALF = 0x8000  # sequence numbers wrap at 2^16: a "difference" past half is a step back


class PassThroughAudio(JitterBuffer):
    """An audio "jitter buffer" that buffers nothing: each packet in order is a frame, now."""

    def __init__(self) -> None:
        super().__init__(capacity=16)
        self._next: int | None = None  # the sequence number expected next
        self.dropped = 0  # packets that came after a later one

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        sequence = packet.sequence_number
        if self._next is not None and uint16_add(sequence, -self._next) >= _HALF:
            self.dropped += 1
            return False, None
        self._next = uint16_add(sequence, 1)
        data: bytes = getattr(packet, "_data", b"")
        return False, JitterFrame(data=data, timestamp=packet.timestamp)


class InlineDecoding:
    """Stands in for an audio receiver's decoder queue: `put` (called by the receiver on the
    event loop) decodes the frame and puts the audio on the track's queue at once; `get` (the
    receiver's own decoder thread) returns only when the receiver stops."""

    def __init__(self, track_queue: asyncio.Queue[Any]) -> None:
        self._out = track_queue
        self._decoders: dict[str, Any] = {}
        self._stopped = threading.Event()
        self.failures = 0

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            self._stopped.set()  # the decoder thread ends the track, as it would have
            return
        codec, encoded = item
        try:
            frames = self._decode(codec, encoded)
        except av.FFmpegError as exc:
            self.failures += 1
            log.debug("undecodable %s frame: %s", codec.name, exc)
            return
        for frame in frames:
            self._out.put_nowait(frame)

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        self._stopped.wait(timeout)  # then the thread reads None as "stop"

    def _decode(self, codec: RTCRtpCodecParameters, encoded: JitterFrame) -> list[Any]:
        decoder = self._decoders.get(codec.name)
        if codec.name.lower() != "opus":
            if decoder is None:
                decoder = self._decoders[codec.name] = get_decoder(codec)
            return list(decoder.decode(encoded))
        if decoder is None:
            decoder = av.CodecContext.create("libopus", "r")
            decoder.format, decoder.layout, decoder.sample_rate = "s16", "mono", 48_000
            self._decoders[codec.name] = decoder
        packet = av.Packet(encoded.data)
        packet.pts, packet.time_base = encoded.timestamp, _RTP_CLOCK
        frames = list(decoder.decode(packet))
        for frame in frames:
            frame.pts, frame.time_base = encoded.timestamp, _RTP_CLOCK
        return frames


def listen_directly(receiver: RTCRtpReceiver) -> bool:
    """Give an audio `receiver` (before media flows) the pass-through buffer and inline
    decoding; False, and nothing changed, when this aiortc keeps them elsewhere."""
    track_queue = getattr(receiver.track, "_queue", None)
    if not isinstance(getattr(receiver, _QUEUE, None), queue.Queue) or track_queue is None:
        log.warning("this aiortc keeps no audio decoder queue where expected; left as it is")
        return False
    if not use_pass_through(receiver):
        return False
    setattr(receiver, _QUEUE, InlineDecoding(track_queue))
    return True


def inline_decoding_of(receiver: RTCRtpReceiver) -> InlineDecoding | None:
    decoding = getattr(receiver, _QUEUE, None)
    return decoding if isinstance(decoding, InlineDecoding) else None


def use_pass_through(receiver: RTCRtpReceiver) -> bool:
    """Give `receiver` (an audio one, before media flows) a `PassThroughAudio` buffer."""
    if not isinstance(getattr(receiver, _ATTRIBUTE, None), JitterBuffer):
        log.warning("this aiortc keeps no audio jitter buffer where expected; left as it is")
        return False
    setattr(receiver, _ATTRIBUTE, PassThroughAudio())
    return True


def pass_through_of(receiver: RTCRtpReceiver) -> PassThroughAudio | None:
    buffer = getattr(receiver, _ATTRIBUTE, None)
    return buffer if isinstance(buffer, PassThroughAudio) else None
