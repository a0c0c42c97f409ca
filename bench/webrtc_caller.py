"""A light aiortc caller for load benchmarks, through Parley's real REST + Socket.IO contract.

Lighter than the test suite's caller (`tests/calls/test_live_call.py`): the microphone replays a
clip encoded once on a fixed cycle, the ear keeps only arrival time, RTP timestamp and level of
each frame, and the large `ai-audio-response` payloads are counted, not kept.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
import numpy as np
import socketio
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from av import AudioFrame

from parley.ai.base import Pcm16

RATE = 48_000
FRAME = 960  # 20 ms
TIME_BASE = fractions.Fraction(1, RATE)
LOUD = 200.0  # RMS (16-bit) above which a received frame counts as the AI speaking
PEER = "bench-caller"
NAMESPACE = "/signaling"
HANG_UPS = ("leave-session", "disconnect", "rest-end")
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"


def encode_opus(pcm: Pcm16) -> list[bytes]:
    """`pcm` (48 kHz mono, whole frames) as Opus packets of 20 ms, encoded as aiortc would."""
    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate, codec.format, codec.layout = 96_000, "s16", "stereo"
    codec.sample_rate, codec.time_base = RATE, TIME_BASE
    codec.options = {"application": "voip"}
    stereo = np.repeat(pcm, 2).reshape(1, -1)
    packets: list[bytes] = []
    for start in range(0, stereo.shape[1], 2 * FRAME):
        frame = AudioFrame.from_ndarray(
            stereo[:, start : start + 2 * FRAME], format="s16", layout="stereo"
        )
        frame.sample_rate, frame.pts, frame.time_base = RATE, start // 2, TIME_BASE
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    return packets


@dataclass(frozen=True)
class Script:
    """What every caller's microphone says, encoded once: `cycle` over and over after `silence`
    (one packet) for a lead-in. Callers send these packets as they are (aiortc sends a track's
    `av.Packet`s without re-encoding), so a hundred callers do not cost a hundred encoders."""

    silence: bytes
    cycle: list[bytes]

    @classmethod
    def of(cls, clip: Pcm16 | None, cycle_s: float) -> Script:
        silence = encode_opus(np.zeros(25 * FRAME, np.int16))[10]  # past the encoder's start
        if clip is None:
            return cls(silence, [])
        length = max(len(clip), int(cycle_s * RATE))
        script = np.zeros(length + -length % FRAME, np.int16)
        script[: len(clip)] = clip
        return cls(silence, encode_opus(script)[: len(script) // FRAME])


class PacedMic(MediaStreamTrack):
    """A microphone that sends one pre-encoded 20 ms packet per frame period, in real time;
    subclasses say which (`_next`)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._index = 0  # of the next packet; packet i goes out at start + i frames
        self._start: float | None = None

    def _next(self) -> bytes:
        raise NotImplementedError

    async def recv(self) -> av.Packet[Any]:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._index * FRAME / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(self._next())
        packet.pts, packet.time_base = self._index * FRAME, TIME_BASE
        self._index += 1
        return packet


class LoopMic(PacedMic):
    """Sends `script`, in real time: silence for `lead_s`, then its cycle over and over."""

    def __init__(self, script: Script, lead_s: float = 0.0) -> None:
        super().__init__()
        self._script = script
        self._lead = int(lead_s * RATE) // FRAME

    def _next(self) -> bytes:
        position = self._index - self._lead
        cycle = self._script.cycle
        return cycle[position % len(cycle)] if cycle and position >= 0 else self._script.silence


class QueueMic(PacedMic):
    """Sends silence in real time, and the packets of a clip when told (`say`)."""

    def __init__(self, silence: bytes) -> None:
        super().__init__()
        self._silence = silence
        self._queue: list[bytes] = []

    def say(self, packets: list[bytes]) -> float:
        """Queue `packets`; return when (monotonic) the first of them will be sent."""
        start = self._start if self._start is not None else time.monotonic()
        index = self._index + len(self._queue)
        self._queue.extend(packets)
        return start + index * FRAME / RATE

    def _next(self) -> bytes:
        return self._queue.pop(0) if self._queue else self._silence


class ArrivalClock(JitterBuffer):
    """aiortc's audio jitter buffer as aiortc makes it (16 packets, prefetch 4), which also notes
    when each packet arrived, by RTP timestamp: a frame comes out of the buffer (is played) about
    80 ms after its packet arrived, and a benchmark may want either moment. Keyed as the decoded
    frames' `pts` are: RTP time since the first packet."""

    def __init__(self) -> None:
        super().__init__(capacity=16, prefetch=4)
        self.arrived: dict[int, float] = {}
        self._first: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if self._first is None:
            self._first = packet.timestamp
        pts = (packet.timestamp - self._first) % 2**32
        self.arrived.setdefault(pts, time.monotonic())
        return super().add(packet)


@dataclass
class Ear:
    """Per received frame: when aiortc played it out (monotonic), when its packet arrived (the
    same, unless `clock` notes arrivals), RTP timestamp, RMS level."""

    arrivals: list[float] = field(default_factory=list)
    received: list[float] = field(default_factory=list)
    pts: list[int] = field(default_factory=list)
    levels: list[float] = field(default_factory=list)
    heard: asyncio.Event = field(default_factory=asyncio.Event)  # a first loud frame came
    clock: ArrivalClock | None = None

    async def listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, AudioFrame)
            pcm = frame.to_ndarray().astype(np.float32)
            level = float(np.sqrt(np.mean(pcm * pcm)))
            now = time.monotonic()
            self.arrivals.append(now)
            arrived = now
            if self.clock is not None and frame.pts is not None:
                arrived = self.clock.arrived.pop(frame.pts, now)
            self.received.append(arrived)
            self.pts.append(int(frame.pts or 0))
            self.levels.append(level)
            if level > LOUD:
                self.heard.set()


@dataclass
class Caller:
    call: dict[str, Any]
    sio: Any
    pc: RTCPeerConnection
    ear: Ear
    states: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    legacy_audio_events: int = 0
    events: list[tuple[float, str, Any]] = field(default_factory=list)  # transcripts, latencies
    in_progress: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    listener: asyncio.Task[None] | None = None

    @property
    def session(self) -> dict[str, str]:
        return {"sessionId": self.call["sessionId"], "peerId": PEER}

    def on_state(self, payload: dict[str, Any]) -> None:
        self.states.append(payload["status"])
        if payload["status"] == "IN_PROGRESS":
            self.in_progress.set()
        if payload["status"] in ("ENDED", "FAILED"):
            self.ended.set()

    def on_legacy_audio(self, _: Any) -> None:
        self.legacy_audio_events += 1


async def dial(http: httpx.AsyncClient, base: str, mic: MediaStreamTrack) -> Caller:
    """Create a call (REST), join its session, offer, answer, connect: as the original client.
    On failure, what was opened is closed again."""
    created = await http.post("/api/v1/calls", json={"callerNumber": "01012345678"})
    created.raise_for_status()
    call = created.json()["data"]["call"]
    caller = Caller(call, socketio.AsyncClient(reconnection=False), _peer(), Ear())
    try:
        await _negotiate(caller, http, base, mic)
    except BaseException:
        await release(caller)
        raise
    return caller


async def _negotiate(
    caller: Caller, http: httpx.AsyncClient, base: str, mic: MediaStreamTrack
) -> None:
    joined: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    _listen_to(caller, joined, answered)
    await caller.sio.connect(base, namespaces=[NAMESPACE], transports=["websocket"])
    await _emit(caller, "join-session", {**caller.session, "callId": caller.call["id"]})
    await asyncio.wait_for(joined, 15)
    caller.pc.addTrack(mic)
    caller.pc.on("track", lambda track: _start_listening(caller, track))
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    offer = {"type": "offer", "sdp": caller.pc.localDescription.sdp}
    await _emit(caller, "offer", {**caller.session, "offer": offer})
    answer = await asyncio.wait_for(answered, 15)
    await caller.pc.setRemoteDescription(RTCSessionDescription(**answer["answer"]))
    (await http.post(f"/api/v1/calls/{caller.call['id']}/connect")).raise_for_status()


def _peer() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN, ever


def _listen_to(caller: Caller, joined: asyncio.Future[Any], answered: asyncio.Future[Any]) -> None:
    def settle(future: asyncio.Future[Any]) -> Any:
        return lambda payload: None if future.done() else future.set_result(payload)

    handlers = {
        "joined-session": settle(joined),
        "answer": settle(answered),
        "call-state": caller.on_state,
        "error": caller.errors.append,
        "ai-audio-response": caller.on_legacy_audio,
    }
    for event, handler in handlers.items():
        caller.sio.on(event, handler, namespace=NAMESPACE)
    for event in ("transcript", "turn-latency"):
        caller.sio.on(event, _recorder(caller, event), namespace=NAMESPACE)


def _recorder(caller: Caller, event: str) -> Any:
    return lambda payload: caller.events.append((time.monotonic(), event, payload))


def _start_listening(caller: Caller, track: MediaStreamTrack) -> None:
    if track.kind == "audio" and caller.listener is None:
        for transceiver in caller.pc.getTransceivers():
            receiver = transceiver.receiver
            if receiver.track is track and hasattr(receiver, _JITTER_BUFFER):
                caller.ear.clock = ArrivalClock()
                setattr(receiver, _JITTER_BUFFER, caller.ear.clock)
        caller.listener = asyncio.create_task(caller.ear.listen(track), name="bench-ear")


async def _emit(caller: Caller, event: str, payload: dict[str, Any]) -> None:
    await caller.sio.emit(event, payload, namespace=NAMESPACE)


async def hang_up(caller: Caller, http: httpx.AsyncClient, path: str) -> None:
    """End the call by `path` (one of HANG_UPS), then close the socket and the peer."""
    try:
        if path == "leave-session":
            await _emit(caller, "leave-session", caller.session)
        elif path == "rest-end":
            (await http.post(f"/api/v1/calls/{caller.call['id']}/end")).raise_for_status()
        if path != "disconnect":
            await asyncio.wait_for(caller.ended.wait(), 10)
    finally:
        await release(caller)


async def release(caller: Caller) -> None:
    """Close what the caller holds (idempotent): socket, peer connection, listening task."""
    if caller.sio.connected:
        await caller.sio.disconnect()
    await caller.pc.close()
    if caller.listener is not None:
        caller.listener.cancel()
        await asyncio.gather(caller.listener, return_exceptions=True)
