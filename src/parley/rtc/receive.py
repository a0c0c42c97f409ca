"""The caller's audio without aiortc's playout delay.

aiortc's audio receiver holds packets in a jitter buffer until four more have arrived (prefetch 4)
before it hands one to the decoder: 80 ms that a *player* spends to ride out network jitter. The
server is no player: its listener feeds voice activity detection, and every millisecond it waits
is added to the end of each caller turn (voice-to-voice) and to the start of each barge-in. An
Opus packet is a whole 20 ms frame, so `PassThroughAudio` hands each packet to the decoder the
moment it arrives; one that arrives after a later one (reordered, or a late retransmission) is
dropped — the VAD and Whisper do not notice a missing 20 ms, while a caller would notice 80 ms
on every turn. A browser's NetEq, on the caller's side, still smooths what the caller hears.

aiortc has no option for this: `use_pass_through` replaces the buffer of one receiver before
its first packet, and reports whether it could (a future aiortc that renames the attribute
leaves the stock buffer in place, and the test `test_receive.py` fails).
"""

from __future__ import annotations

import logging

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

log = logging.getLogger("parley.rtc")

_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"
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
