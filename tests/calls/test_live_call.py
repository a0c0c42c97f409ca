"""A real AI call: an aiortc client speaks to the server through the original REST + Socket.IO
contract, over WebRTC on loopback, and the server answers by voice on the audio track."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import socketio
import uvicorn
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame

from parley.ai.base import AudioChunk
from parley.ai.engine import AIEngine
from parley.rtc.ice import use_host_addresses
from parley.web.app import create_asgi_app
from tests.conftest import make_settings
from tests.live import free_port
from tests.speech import resample

RATE = 48_000
FRAME = 960


class ScriptedMic(MediaStreamTrack):
    """A microphone that says what it is told, in real time; silence otherwise."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: list[np.ndarray] = []
        self._pts = 0
        self._start: float | None = None
        self.spoke_until = 0.0

    def say(self, clip: AudioChunk) -> float:
        """Queue the clip; return when (monotonic) its speech will have been sent."""
        pcm = (resample(clip.pcm, clip.sample_rate, RATE) * 32767).astype(np.int16)
        self._queue.append(pcm)
        self.spoke_until = time.monotonic() + len(pcm) / RATE
        return self.spoke_until

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        samples = np.zeros(FRAME, np.int16)
        if self._queue:
            head = self._queue[0]
            take = min(FRAME, len(head))
            samples[:take] = head[:take]
            self._queue[0] = head[take:]
            if not len(self._queue[0]):
                self._queue.pop(0)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME
        return frame


@dataclass
class Ear:
    """What the client hears: (monotonic time, RMS) per received frame."""

    levels: list[tuple[float, float]] = field(default_factory=list)

    def loud_since(self, since: float, threshold: float = 300) -> float | None:
        return next((t for t, rms in self.levels if t >= since and rms > threshold), None)

    async def listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            assert isinstance(frame, AudioFrame)
            pcm = frame.to_ndarray().astype(np.float32)
            self.levels.append((time.monotonic(), float(np.sqrt(np.mean(pcm**2)))))


@dataclass
class Caller:
    http: httpx.AsyncClient
    sio: socketio.AsyncClient
    pc: RTCPeerConnection
    mic: ScriptedMic
    ear: Ear
    call: dict[str, Any]
    events: list[tuple[float, str, Any]] = field(default_factory=list)

    async def wait_for(self, name: str, test: Any = None, within: float = 30) -> Any:
        """The first event `name` (passing `test`) received so far or within `within` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for _, event, payload in self.events:
                if event == name and (test is None or test(payload)):
                    return payload
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {name} within {within}s; got {[e for _, e, _ in self.events]}")


@pytest.fixture
async def server(tmp_path: Path, local_engine: AIEngine) -> AsyncIterator[tuple[str, Any]]:
    settings = make_settings(
        tmp_path,
        webrtc={"stun_server_urls": [], "ice_host_addresses": ["127.0.0.1"]},
        ai={"default_language": "en"},
    )
    asgi = create_asgi_app(settings, engine=local_engine)
    port = free_port()
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}", asgi.other_asgi_app
    uv.should_exit = True
    await task
    use_host_addresses(None)


async def dial(base: str) -> Caller:
    http = httpx.AsyncClient(base_url=base, timeout=30)
    call = (await http.post("/api/v1/calls", json={"callerNumber": "01012345678"})).json()["data"][
        "call"
    ]
    sio = socketio.AsyncClient()
    caller = Caller(
        http, sio, RTCPeerConnection(RTCConfiguration(iceServers=[])), ScriptedMic(), Ear(), call
    )

    @sio.on("*", namespace="/signaling")  # type: ignore[untyped-decorator]
    async def record(event: str, payload: Any) -> None:
        caller.events.append((time.monotonic(), event, payload))

    await sio.connect(base, namespaces=["/signaling"], transports=["websocket"])
    session = {"sessionId": call["sessionId"], "peerId": "caller-1"}
    await sio.emit("join-session", {**session, "callId": call["id"]}, namespace="/signaling")
    await caller.wait_for("joined-session")
    caller.pc.addTrack(caller.mic)
    caller.pc.on("track", lambda track: asyncio.ensure_future(caller.ear.listen(track)))
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    offer = {"type": "offer", "sdp": caller.pc.localDescription.sdp}
    await sio.emit("offer", {**session, "offer": offer}, namespace="/signaling")
    answer = await caller.wait_for("answer")
    assert answer["peerId"] == "ai-server"
    await caller.pc.setRemoteDescription(RTCSessionDescription(**answer["answer"]))
    await http.post(f"/api/v1/calls/{call['id']}/connect")
    return caller


async def hang_up(caller: Caller) -> None:
    session = {"sessionId": caller.call["sessionId"], "peerId": "caller-1"}
    await caller.sio.emit("leave-session", session, namespace="/signaling")
    await asyncio.sleep(0.3)
    await caller.sio.disconnect()
    await caller.pc.close()
    await caller.http.aclose()


async def test_a_call_greets_listens_answers_and_stores_the_turns(
    server: tuple[str, Any], english_question: AudioChunk
) -> None:
    base, app = server
    caller = await dial(base)
    state = await caller.wait_for("call-state", lambda p: p["status"] == "IN_PROGRESS")
    flowing = next(t for t, e, p in caller.events if e == "call-state" and p is state)
    greeting_heard = caller.ear.loud_since(flowing)
    for _ in range(100):
        if greeting_heard is None:
            await asyncio.sleep(0.05)
            greeting_heard = caller.ear.loud_since(flowing)
    # The target is 1.5 s (bench/voice_latency.py measures it); a loaded CI machine gets slack.
    assert greeting_heard is not None
    assert greeting_heard - flowing < 3.0
    await caller.wait_for("transcript", lambda p: p["turn"] == 0 and p["final"])
    await asyncio.sleep(3.5)  # let the greeting finish, as a polite caller would

    spoken = caller.mic.say(english_question)
    heard = await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "caller" and p["final"] and p["text"]
    )
    assert "shoes" in heard["text"].lower()
    reply = await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "ai" and p["turn"] == 1 and p["final"], 60
    )
    assert reply["text"]
    assert not reply.get("interrupted")
    latency = await caller.wait_for("turn-latency")
    assert latency["voiceToVoiceMs"] > 0, latency
    assert {"endOfTurnMs", "sttMs", "llmFirstTokenMs", "ttsFirstChunkMs"} <= set(latency["stages"])
    assert caller.ear.loud_since(spoken + 0.2) is not None  # the answer arrived on the track
    assert (await caller.wait_for("sentiment"))["sentiment"] in ("positive", "neutral", "negative")

    turns = (await caller.http.get(f"/api/v1/calls/{caller.call['id']}/conversation")).json()
    roles = [t["role"] for t in turns["data"]["turns"]]
    assert roles == ["assistant", "user", "assistant"]
    await hang_up(caller)
    call = (
        await caller.http.__class__(base_url=base).get(f"/api/v1/calls/{caller.call['id']}")
    ).json()
    assert call["data"]["call"]["status"] == "ENDED"
    assert len(app.state.live) == 0
