"""A real AI call: an aiortc client speaks to the server through the original REST + Socket.IO
contract, over WebRTC on loopback, and the server answers by voice on the audio track."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import socketio
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame

from parley.ai.base import SAMPLE_RATE, AudioChunk, Language, Samples, SpeechToText, Transcript
from parley.ai.engine import AIEngine
from parley.rtc.ice import use_host_addresses
from tests.conftest import make_settings
from tests.live import serve_app
from tests.speech import resample, speak

RATE = 48_000
FRAME = 960


class ScriptedMic(MediaStreamTrack):
    """A microphone that says what it is told, in real time; silence otherwise. With `echo`, it
    also picks up what the caller's speaker plays (`Ear`), `delay` seconds later and quieter, as
    a phone on speaker with no echo cancellation does."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: list[np.ndarray] = []
        self._pts = 0
        self._start: float | None = None
        self.spoke_until = 0.0
        self.echo: tuple[Ear, float, float] | None = None  # (speaker, delay s, gain)

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
        if self.echo is not None:
            speaker, delay, gain = self.echo
            played = speaker.played_at(time.monotonic() - delay)
            if played is not None:
                mixed = samples.astype(np.float32) + gain * played.astype(np.float32)
                samples = np.clip(mixed, -32768, 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME
        return frame


@dataclass
class Ear:
    """What the client hears: (monotonic time, RMS) per received frame."""

    levels: list[tuple[float, float]] = field(default_factory=list)
    recent: deque[tuple[float, np.ndarray]] = field(default_factory=lambda: deque(maxlen=100))

    def played_at(self, when: float) -> np.ndarray | None:
        """The mono 48 kHz frame that was being played at `when` (the last 2 s are kept)."""
        return next((pcm for t, pcm in reversed(self.recent) if t <= when), None)

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
            now = time.monotonic()
            self.levels.append((now, float(np.sqrt(np.mean(pcm**2)))))
            channels = len(frame.layout.channels)
            self.recent.append((now, pcm.reshape(-1)[::channels].astype(np.int16)))


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


@asynccontextmanager
async def serving(
    tmp_path: Path,
    engine: AIEngine,
    *,
    webrtc: dict[str, Any] | None = None,
    calls: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[str, Any]]:
    """The real app (HTTP + Socket.IO) under uvicorn in this event loop, on loopback only."""
    settings = make_settings(
        tmp_path,
        webrtc={"stun_server_urls": [], "ice_host_addresses": ["127.0.0.1"], **(webrtc or {})},
        ai={"default_language": "en"},
        calls=calls or {},
    )
    try:
        async with serve_app(settings, engine) as running:
            yield running
    finally:
        use_host_addresses(None)


@pytest.fixture
async def server(tmp_path: Path, local_engine: AIEngine) -> AsyncIterator[tuple[str, Any]]:
    async with serving(tmp_path, local_engine) as running:
        yield running


async def dial(base: str, *, offer: bool = True) -> Caller:
    http = httpx.AsyncClient(base_url=base, timeout=30)
    call = (await http.post("/api/v1/calls", json={"callerNumber": "01012345678"})).json()["data"][
        "call"
    ]
    http.headers["X-Session-Id"] = call["sessionId"]  # to read its transcript (web.access)
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
    if not offer:
        return caller
    caller.pc.addTrack(caller.mic)
    caller.pc.on("track", lambda track: asyncio.ensure_future(caller.ear.listen(track)))
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    description = {"type": "offer", "sdp": caller.pc.localDescription.sdp}
    await sio.emit("offer", {**session, "offer": description}, namespace="/signaling")
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
    assert len(app.state.services.live) == 0


async def test_the_ais_own_voice_coming_back_does_not_interrupt_it(
    server: tuple[str, Any], english_question: AudioChunk
) -> None:
    """The caller's mic hears the caller's speaker (250 ms later, at half level): the greeting
    and the answer play to the end, the echo never becomes a caller turn, and the caller's own
    question over the echo is still heard."""
    base, app = server
    caller = await dial(base)
    caller.mic.echo = (caller.ear, 0.25, 0.5)
    await caller.wait_for("transcript", lambda p: p["turn"] == 0)  # the greeting starts
    flowing = time.monotonic()
    await asyncio.sleep(4.0)  # the greeting plays, and comes back
    loud = [t for t, rms in caller.ear.levels if t > flowing - 1.0 and rms > 300]
    assert loud
    assert max(loud) - min(loud) > 2.0
    greeting = await caller.wait_for("transcript", lambda p: p["turn"] == 0 and p["final"])
    assert greeting["interrupted"] is False  # by its own echo
    live = app.state.services.live.get(caller.call["id"])
    echo = f"echo checks {live.echo.checks}, echo {live.echo.echoes}; events {caller.events}"
    assert not [p for _, e, p in caller.events if e == "transcript" and p["speaker"] == "caller"], (
        echo
    )

    caller.mic.say(english_question)
    heard = await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "caller" and p["final"] and p["text"]
    )
    assert "shoes" in heard["text"].lower()
    reply = await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "ai" and p["turn"] == 1 and p["final"], 90
    )
    assert reply["interrupted"] is False
    await asyncio.sleep(1.5)  # the answer's echo dies away: it must not start a turn
    callers = [p for _, e, p in caller.events if e == "transcript" and p["speaker"] == "caller"]
    assert {p["turn"] for p in callers} == {1}
    turns = (await caller.http.get(f"/api/v1/calls/{caller.call['id']}/conversation")).json()
    assert [t["role"] for t in turns["data"]["turns"]] == ["assistant", "user", "assistant"]
    await hang_up(caller)


async def test_a_server_at_capacity_refuses_a_new_call_and_keeps_the_others(
    tmp_path: Path, local_engine: AIEngine
) -> None:
    async with serving(tmp_path, local_engine, webrtc={"max_live_calls": 1}) as (base, app):
        first = await dial(base)
        await first.wait_for("call-state", lambda p: p["status"] == "IN_PROGRESS")
        second = await dial(base, offer=False)
        second.pc.addTrack(second.mic)
        await second.pc.setLocalDescription(await second.pc.createOffer())
        session = {"sessionId": second.call["sessionId"], "peerId": "caller-1"}
        offer = {"type": "offer", "sdp": second.pc.localDescription.sdp}
        await signal(second, "offer", {**session, "offer": offer})
        refused = await second.wait_for("error")
        assert refused["code"] == "AT_CAPACITY"
        assert "MAX_LIVE_CALLS" in refused["message"]
        assert not [e for _, e, _ in second.events if e == "answer"]
        assert len(app.state.services.live) == 1
        assert app.state.services.live.get(first.call["id"]) is not None  # the first call goes on
        await hang_up(first)
        await hang_up(second)


def signal(caller: Caller, event: str, payload: Any) -> Any:
    return caller.sio.emit(event, payload, namespace="/signaling")


def errors(caller: Caller) -> list[dict[str, Any]]:
    return [p for _, e, p in caller.events if e == "error"]


async def test_bad_payloads_get_an_error_and_change_nothing(server: tuple[str, Any]) -> None:
    base, app = server
    caller = await dial(base, offer=False)
    session = {"sessionId": caller.call["sessionId"], "peerId": "caller-1"}
    call_id, other = caller.call["id"], {"sessionId": "other", "peerId": "p"}
    host = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
    # One case a line (event, payload, code), laid out by hand: fmt: skip.
    bad: list[tuple[str, Any, str]] = [
        ("join-session", "not an object", "INVALID_PAYLOAD"),
        ("join-session", {"peerId": "p", "callId": call_id}, "INVALID_PAYLOAD"),  # no sessionId
        ("join-session", {**other}, "CALL_NOT_FOUND"),  # no callId: found by sessionId, or not
        ("join-session", {**session, "callId": "nope"}, "CALL_NOT_FOUND"),
        ("join-session", {**other, "callId": call_id}, "SESSION_MISMATCH"),
        ("join-session", {**session, "callId": call_id, "language": "fr"}, "INVALID_PAYLOAD"),
        ("offer", None, "INVALID_PAYLOAD"),
        ("offer", {**session, "offer": {"type": "offer"}}, "INVALID_PAYLOAD"),
        ("offer", {**session, "offer": {"type": "offer", "sdp": "x" * 200_000}}, "INVALID_PAYLOAD"),
        ("offer", {**session, "offer": {"type": "answer", "sdp": "v=0 " * 10}}, "INVALID_PAYLOAD"),
        ("offer", {**other, "offer": {"type": "offer", "sdp": "v=0 " * 5}}, "NOT_JOINED"),
        ("offer", {**session, "offer": {"type": "offer", "sdp": "not SDP at all"}}, "INVALID_SDP"),
        ("ice-candidate", {**session, "candidate": host}, "NO_PEER"),
        ("ice-candidate", {**session, "candidate": {"candidate": 42}}, "INVALID_PAYLOAD"),
        ("leave-session", [], "INVALID_PAYLOAD"),
    ]  # fmt: skip
    for event, payload, code in bad:
        before = len(errors(caller))
        await signal(caller, event, payload)
        for _ in range(100):
            if len(errors(caller)) > before:
                break
            await asyncio.sleep(0.02)
        assert errors(caller)[before:], f"{event} {payload!r:.60} got no error"
        assert errors(caller)[before]["code"] == code, (event, errors(caller)[before])
        assert errors(caller)[before]["message"]
    call = (await caller.http.get(f"/api/v1/calls/{caller.call['id']}")).json()["data"]["call"]
    assert call["status"] == "RINGING"
    assert len(app.state.services.live) == 0
    await signal(caller, "no-such-event", {"x": 1})  # ignored, as any unknown event
    await hang_up(caller)


async def open_call(base: str) -> Caller:
    caller = await dial(base)
    await caller.wait_for("call-state", lambda p: p["status"] == "IN_PROGRESS")
    return caller


def call_tasks(call_id: str) -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(f"call-{call_id[:8]}")]


@pytest.mark.parametrize("path", ["leave-session", "disconnect", "rest-end", "idle", "shutdown"])
async def test_every_hang_up_releases_everything(
    tmp_path: Path, local_engine: AIEngine, path: str
) -> None:
    idle: dict[str, Any] = {"call_idle_timeout_s": 2.0} if path == "idle" else {}
    async with serving(tmp_path, local_engine, calls=idle) as (base, app):
        caller = await open_call(base)
        call_id = caller.call["id"]
        live = app.state.services.live.get(call_id)
        assert live is not None
        assert call_tasks(call_id)
        if path == "leave-session":
            await signal(
                caller,
                "leave-session",
                {"sessionId": caller.call["sessionId"], "peerId": "caller-1"},
            )
        elif path == "disconnect":
            await caller.sio.disconnect()
        elif path == "rest-end":
            ended = await caller.http.post(f"/api/v1/calls/{call_id}/end")
            assert ended.json()["data"]["call"]["status"] == "ENDED"
        elif path == "idle":
            await caller.wait_for("call-state", lambda p: p["status"] == "ENDED", within=15)
            for _ in range(50):  # a call that closed itself leaves the registry at once
                if len(app.state.services.live) == 0:
                    break
                await asyncio.sleep(0.1)
            assert len(app.state.services.live) == 0
    # after shutdown (or the hang-up), nothing of the call is left
    for _ in range(50):
        if live.closed and not call_tasks(call_id):
            break
        await asyncio.sleep(0.1)
    assert live.closed
    assert call_tasks(call_id) == []
    assert live.pc.connectionState == "closed"
    assert live.track.readyState == "ended"
    assert len(app.state.services.live) == 0
    if caller.sio.connected:
        await caller.sio.disconnect()
    await caller.pc.close()
    await caller.http.aclose()


async def test_the_caller_can_interrupt_the_ai(
    server: tuple[str, Any], english_question: AudioChunk
) -> None:
    base, _ = server
    caller = await open_call(base)
    flowing = time.monotonic()
    await caller.wait_for("transcript", lambda p: p["turn"] == 0)  # the greeting starts
    while caller.ear.loud_since(flowing) is None:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.2)  # "Hello!" has been heard, the rest is playing
    onset = time.monotonic()
    caller.mic.say(english_question)
    await caller.wait_for("transcript", lambda p: p["speaker"] == "caller" and not p["final"])
    await asyncio.sleep(1.5)
    speech_onset = onset + 0.3  # the clip starts with 0.3 s of silence
    loud = [t for t, rms in caller.ear.levels if onset < t < onset + 2.0 and rms > 300]
    # The greeting had ~3 s left; it stopped soon after the caller began (target: 250 ms,
    # measured by bench/voice_latency.py; a loaded test machine gets slack).
    assert max(loud) - speech_onset < 1.0
    # ... and it is cut like any reply: shown and stored as far as it was heard, and said to be
    # interrupted; it came before the caller's first words.
    greeting = await caller.wait_for("transcript", lambda p: p["turn"] == 0 and p["final"])
    assert greeting["interrupted"] is True
    assert greeting["text"].startswith("Hello!")
    assert "How can I help you today?" not in greeting["text"], greeting
    shown = [(p["speaker"], p["turn"]) for _, e, p in caller.events if e == "transcript"]
    assert shown.index(("ai", 0)) < shown.index(("caller", 1)), shown
    heard = await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "caller" and p["final"] and p["text"]
    )
    assert "shoes" in heard["text"].lower()
    # Now interrupt the answer as soon as it starts.
    await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "ai" and p["turn"] == 1, within=60
    )
    started = time.monotonic()
    while caller.ear.loud_since(started) is None:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    caller.mic.say(english_question)
    cut = await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "ai" and p["turn"] == 1 and p["final"], within=30
    )
    assert cut["interrupted"] is True
    await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "caller" and p["turn"] == 2 and p["final"]
    )
    turns = (await caller.http.get(f"/api/v1/calls/{caller.call['id']}/conversation")).json()
    stored = turns["data"]["turns"]
    assert (stored[0]["role"], stored[0]["text"]) == ("assistant", greeting["text"])
    assert stored[2]["role"] == "assistant"
    assert stored[2]["text"] == cut["text"]  # what the caller heard, not what was generated
    await hang_up(caller)


async def test_a_failing_llm_mid_call_apologizes_and_the_call_goes_on(
    tmp_path: Path, local_engine: AIEngine, english_question: AudioChunk
) -> None:
    from tests.web.test_conversation_api import dead_llm

    async with serving(tmp_path, replace(local_engine, llm=dead_llm())) as (base, app):
        caller = await open_call(base)
        await caller.wait_for("transcript", lambda p: p["turn"] == 0 and p["final"])
        await asyncio.sleep(3.5)
        spoken = caller.mic.say(english_question)
        error = await caller.wait_for("error", within=60)
        assert error["code"] == "AI_PROVIDER_FAILED"
        await asyncio.sleep(2.0)
        assert caller.ear.loud_since(spoken + 0.5) is not None  # the apology was heard
        call = (await caller.http.get(f"/api/v1/calls/{caller.call['id']}")).json()["data"]["call"]
        assert call["status"] == "IN_PROGRESS"
        assert app.state.services.live.get(caller.call["id"]) is not None
        await hang_up(caller)


MONOLOGUE = (
    "I ordered a pair of running shoes from your shop three weeks ago, and they still have not"
    " arrived.",
    "The tracking page says the parcel left the warehouse on Monday, but it has not moved since.",
    "I called the courier twice and they told me to contact the seller instead.",
    "My brother ordered the same shoes a week after me and he already got his pair.",
    "I paid extra for express delivery because I need them for a marathon next month.",
    "I would like to know where my parcel is right now and when it will be delivered.",
    "If it cannot arrive by Friday, please refund the express shipping fee to my credit card.",
    "My order number is four five seven two, and the name on the order is Daniel Park.",
    "I have been a customer of yours for many years and this has never happened before.",
    "So please tell me, what can you do about my late shoes?",
)


async def monologue(engine: AIEngine) -> AudioChunk:
    """Over 40 s of speech with no pause a turn could end at: the sentences, spoken one by one,
    their quiet trimmed and joined by 150 ms (the least silence that ends a turn is 300 ms)."""
    clips = [await speak(engine.tts, sentence, Language.ENGLISH) for sentence in MONOLOGUE]
    rate = clips[0].sample_rate
    gap = np.zeros(int(0.15 * rate), np.int16)
    parts: list[np.ndarray] = [np.zeros(int(0.3 * rate), np.int16)]
    for clip in clips:
        loud = np.flatnonzero(np.abs(clip.pcm.astype(np.int32)) > 500)
        parts += [clip.pcm[loud[0] : loud[-1] + 1], gap]
    parts.append(np.zeros(int(0.5 * rate), np.int16))
    return AudioChunk(np.concatenate(parts), rate)


@dataclass
class MeasuredSTT:
    """The local Whisper, noting the length of every clip it is asked to transcribe."""

    inner: SpeechToText
    seconds: list[float] = field(default_factory=list)
    name: str = "measured"

    async def transcribe(self, audio: Samples, *, language: Language | None) -> Transcript:
        self.seconds.append(len(audio) / SAMPLE_RATE)
        return await self.inner.transcribe(audio, language=language)

    async def aclose(self) -> None:  # the session's engine closes the model
        pass


async def test_a_caller_who_speaks_for_over_40_seconds_is_answered(
    tmp_path: Path, local_engine: AIEngine
) -> None:
    """The turn reaches the 30 s limit while the caller is still talking: it goes on (the
    caller's own words are not a barge-in), Whisper never gets more than the limit at a time,
    and the whole monologue is one caller turn, answered once."""
    speech = await monologue(local_engine)
    assert len(speech.pcm) / speech.sample_rate > 40
    stt = MeasuredSTT(local_engine.stt)
    async with serving(tmp_path, replace(local_engine, stt=stt)) as (base, _):
        caller = await open_call(base)
        await caller.wait_for("transcript", lambda p: p["turn"] == 0 and p["final"], 30)
        await asyncio.sleep(4.0)  # the greeting is over
        caller.mic.say(speech)
        heard = await caller.wait_for(
            "transcript", lambda p: p["speaker"] == "caller" and p["final"] and p["text"], 90
        )
        reply = await caller.wait_for(
            "transcript", lambda p: p["speaker"] == "ai" and p["turn"] > 0 and p["final"], 90
        )
        text = heard["text"].lower()
        assert "running shoes" in text, text  # the first sentence ...
        assert "late shoes" in text, text  # ... and the last, in one turn
        assert reply["turn"] == heard["turn"]
        assert reply["text"]
        assert not reply["interrupted"]
        callers = [p for _, e, p in caller.events if e == "transcript" and p["speaker"] == "caller"]
        assert {p["turn"] for p in callers} == {heard["turn"]}, callers  # no bubble left behind
        assert max(stt.seconds) <= 30.5, stt.seconds
        turns = (await caller.http.get(f"/api/v1/calls/{caller.call['id']}/conversation")).json()
        stored = [(t["role"], t["text"]) for t in turns["data"]["turns"]]
        assert [role for role, _ in stored] == ["assistant", "user", "assistant"], stored
        assert stored[1][1] == heard["text"]
        await hang_up(caller)
