"""The caller's audio reaches the server's listener without aiortc's 80 ms playout delay."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RtpPacket

from parley.rtc.ice import use_host_addresses
from parley.rtc.receive import (
    PassThroughAudio,
    inline_decoding_of,
    listen_directly,
    pass_through_of,
)
from parley.rtc.speech_track import FRAME, RATE, SpeechTrack


def packet(sequence: int) -> RtpPacket:
    rtp = RtpPacket(payload_type=111, sequence_number=sequence, timestamp=sequence * FRAME)
    rtp._data = bytes([sequence % 256])  # type: ignore[attr-defined]
    return rtp


def test_each_packet_in_order_is_a_frame_at_once_and_a_late_one_is_dropped() -> None:
    buffer = PassThroughAudio()
    out = [buffer.add(packet(s))[1] for s in (65534, 65535, 0, 1, 3)]
    expected = [65534 * FRAME, 65535 * FRAME, 0, FRAME, 3 * FRAME]
    assert [f.timestamp if f else None for f in out] == expected
    assert buffer.add(packet(2)) == (False, None)  # came after 3: too late for the listener
    assert buffer.add(packet(1)) == (False, None)  # a duplicate
    assert buffer.dropped == 2
    assert buffer.add(packet(4))[1] is not None


async def test_a_real_receiver_decodes_inline_and_hears_the_audio_sooner() -> None:
    """Two aiortc peers on loopback: the answerer's audio receiver is given the pass-through
    buffer and inline decoding before media flows; the first sound arrives within a few frames
    of being sent (aiortc's own buffer holds four 20 ms frames first), mono, with the RTP
    time, and the receiver stops cleanly (its idle decoder thread ends)."""
    use_host_addresses(["127.0.0.1"])
    caller = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    server = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    voice = SpeechTrack()
    caller.addTrack(voice)
    arrived: asyncio.Queue[tuple[float, float]] = asyncio.Queue()

    frames: list[object] = []

    async def listen(track: object) -> None:
        while True:
            frame = await track.recv()  # type: ignore[attr-defined]
            frames.append(frame)
            level = float(np.abs(frame.to_ndarray()).max())
            await arrived.put((time.monotonic(), level))

    taken: list[bool] = []
    listening: list[asyncio.Task[None]] = []

    def on_track(track: object) -> None:
        for transceiver in server.getTransceivers():
            if transceiver.receiver.track is track:
                taken.append(listen_directly(transceiver.receiver))
        listening.append(asyncio.ensure_future(listen(track)))

    server.on("track", on_track)
    try:
        await caller.setLocalDescription(await caller.createOffer())
        await server.setRemoteDescription(caller.localDescription)
        await server.setLocalDescription(await server.createAnswer())
        await caller.setRemoteDescription(server.localDescription)
        await asyncio.wait_for(arrived.get(), 10)  # media flows (silence)
        await asyncio.sleep(0.3)
        while not arrived.empty():
            arrived.get_nowait()
        voice.play(np.full(10 * FRAME, 8000, np.int16))
        sent = time.monotonic()
        while True:
            at, level = await asyncio.wait_for(arrived.get(), 5)
            if level > 1000:
                break
        # play() → first loud frame decoded: pacing (≤ 20 ms), Opus look-ahead, loopback: 15-26
        # ms measured; 93-97 ms with aiortc's own buffer
        assert at - sent < 3 * FRAME / RATE, f"{(at - sent) * 1000:.0f} ms"
        assert taken == [True]
        receiver = server.getTransceivers()[0].receiver
        buffer = pass_through_of(receiver)
        assert buffer is not None
        assert buffer.dropped == 0
        decoding = inline_decoding_of(receiver)
        assert decoding is not None
        assert decoding.failures == 0
        last = frames[-1]
        assert last.layout.name == "mono"  # type: ignore[attr-defined]
        assert last.samples == FRAME  # type: ignore[attr-defined]
        gaps = {b.pts - a.pts for a, b in zip(frames[-5:-1], frames[-4:], strict=True)}  # type: ignore[attr-defined]
        assert gaps == {FRAME}  # RTP time, 20 ms apart
        threads = {t.name for t in threading.enumerate()}
        assert "audio-decoder" in threads
        await server.close()
        await asyncio.sleep(0.1)
        assert "audio-decoder" not in {t.name for t in threading.enumerate()}
    finally:
        for task in listening:
            task.cancel()
        await caller.close()
        await server.close()
        use_host_addresses(None)
