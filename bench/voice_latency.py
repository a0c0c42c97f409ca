"""Voice-to-voice latency of real AI calls over WebRTC: a `parley serve` process with the offline
default models, and an aiortc caller in this process (its own interpreter and event loop, as a
real caller's would be), on loopback, through the real REST + Socket.IO contract.

Per turn:
  voice-to-voice   the end of the caller's speech (the last loud sample of the clip, as sent)
                   → the first loud AI frame arriving at the client (its packet; a player adds
                   its jitter buffer: aiortc's 80 ms, printed beside it, a browser's NetEq
                   ~20–60 ms on a clean network);
  its parts        how long after that end the server's VAD heard the last speech (the receive
                   path and Silero's hangover), the server's own voice-to-voice (`turn-latency`:
                   end of speech heard → first audio queued) with its stages (end-of-turn wait,
                   STT, LLM first token and first clause, TTS first chunk), and the delivery
                   (first audio queued → arrived at the client: pacing, network, the leading
                   quiet of the voice);
  greeting         media flowing → first greeting audio;
  barge-in         every other answer is interrupted: the onset of the caller's speech → the
                   last loud AI frame arriving at the client.
The server's and this process's monotonic clocks are the same clock (Linux CLOCK_MONOTONIC), so
the parts line up. Prints p50/p95; asserts nothing.

    .venv/bin/python -m bench.voice_latency [--turns 12] [--window 10] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from tests.live import LiveServer, start_server
from tests.speech import resample, speak, with_silence

from bench.webrtc_caller import (
    FRAME,
    RATE,
    Caller,
    Ear,
    QueueMic,
    Script,
    dial,
    encode_opus,
    hang_up,
)
from parley.ai.base import AudioChunk, Language

QUESTIONS = [
    "Wait, when will my order arrive?",
    "Can I change my delivery address?",
    "What time do you open on Saturday?",
    "I would like to return a pair of shoes.",
]
LOUD = 300.0  # RMS (16-bit) of a frame that counts as the AI speaking
SPEECH_LEVEL = 300  # |sample| (16-bit) above which the clip's own speech is taken to go on


class Clip:
    """A question as the caller's microphone sends it: Opus packets, and where its speech
    starts and ends (seconds from its first packet)."""

    def __init__(self, chunk: AudioChunk) -> None:
        pcm = (resample(chunk.pcm, chunk.sample_rate, RATE) * 32767).astype(np.int16)
        pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME, np.int16)])
        loud = np.flatnonzero(np.abs(pcm) > SPEECH_LEVEL)
        self.onset_s = float(loud[0]) / RATE
        self.end_s = float(loud[-1] + 1) / RATE
        self.packets = encode_opus(pcm)[: len(pcm) // FRAME]


def another_speaker(clip: AudioChunk) -> AudioChunk:
    """The caller must not sound exactly like the AI: the same Piper voice saying the same words
    is, rightly, taken for the AI's echo. Played 12 % faster, the voice is higher and quicker, as
    another person's would be (and Whisper hears it as well)."""
    return AudioChunk(clip.pcm, int(clip.sample_rate * 1.12))


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def show(name: str, values: list[float]) -> None:
    if values:
        p50, p95 = p(values, 0.5), p(values, 0.95)
        print(f"  {name:34s} p50 {p50:7.0f} ms   p95 {p95:7.0f} ms  (n={len(values)})")


def loud_frames(ear: Ear, since: float, played: bool = False) -> list[float]:
    """When loud frames arrived (or, `played`, came out of aiortc's jitter buffer) after `since`."""
    times = ear.arrivals if played else ear.received
    return [t for t, level in zip(times, ear.levels, strict=False) if t >= since and level > LOUD]


async def first_loud(
    ear: Ear, since: float, within: float = 30, played: bool = False
) -> float | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if frames := loud_frames(ear, since, played):
            return frames[0]
        await asyncio.sleep(0.01)
    return None


async def quiet_until(ear: Ear, since: float, within: float = 30) -> float | None:
    """When the AI audio stopped arriving after `since`: the last loud frame before the first
    0.6 s of quiet (`since` itself when it was already quiet)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        last = since
        for t in loud_frames(ear, since):
            if t - last > 0.6:
                return last
            last = t
        if time.monotonic() - last > 0.6:
            return last
        await asyncio.sleep(0.05)
    return None


async def wait_for(
    caller: Caller, event: str, test: Any, since: float = 0, within: float = 60
) -> Any:
    """The first `event` received after `since` that passes `test`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for at, name, payload in caller.events:
            if at >= since and name == event and test(payload):
                return payload
        await asyncio.sleep(0.02)
    return None


def monotonic_of(epoch_ms: float) -> float:
    return time.monotonic() - (time.time() - epoch_ms / 1000)


async def make_clips() -> list[Clip]:
    from parley.ai.local.piper_tts import PiperTTS

    tts = PiperTTS()
    await tts.load()
    try:
        spoken = [await speak(tts, q, Language.ENGLISH) for q in QUESTIONS]
    finally:
        await tts.aclose()
    return [Clip(another_speaker(with_silence(chunk, 0.2, 0.0))) for chunk in spoken]


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {
        "ICE_HOST_ADDRESSES": "127.0.0.1",
        "STUN_SERVER_URL": "",
        "DEFAULT_LANGUAGE": "en",
        "STT_WINDOW": str(args.window),
        "LLM_TEMPERATURE": "0",
        "LOG_LEVEL": "WARNING",
        "TURN_MIN_SPEECH": str(args.min_speech),
        "ECHO_GUARD": str(not args.no_echo_guard).lower(),
        "CALL_IDLE_TIMEOUT": "600",
        "TURN_STT_PAUSE": str(args.stt_pause),
    }
    if args.llm_threads:
        env["LLM_THREADS"] = str(args.llm_threads)
    return env


class Figures:
    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float) -> None:
        self.values.setdefault(name, []).append(seconds * 1000)


async def converse(server: LiveServer, clips: list[Clip], args: argparse.Namespace) -> Figures:
    figures = Figures()
    silence = Script.of(None, 0).silence
    mic = QueueMic(silence)
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        await warmed_up(http)
        caller = await dial(http, server.url, mic)
        try:
            await asyncio.wait_for(caller.in_progress.wait(), 30)
            flowing = time.monotonic()
            if (heard := await first_loud(caller.ear, flowing)) is not None:
                figures.add("greeting (media → audio)", heard - flowing)
            await quiet_until(caller.ear, flowing)
            for turn in range(1, args.turns + 1):
                await one_turn(caller, mic, clips, turn, figures, args)
            media = (await http.get("/metrics?format=json")).json()["media"]
            print(
                f"  server pacing over the call: {media['framesSent']} frames, "
                f"{media['speechGaps']} gaps while speaking ({media['gaps']} in all), "
                f"{media['speechUnderruns']} late frames while speaking"
            )
        finally:
            await hang_up(caller, http, "leave-session")
    return figures


async def warmed_up(http: httpx.AsyncClient, within: float = 120) -> None:
    """Wait for the server's start-up warm-up (the LLM reading the calls' prompts in): a call
    made during it competes with it, which is a start-up cost, not a turn's."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not (await http.get("/metrics?format=json")).json()["modelsWarming"]:
            return
        await asyncio.sleep(0.2)


async def one_turn(
    caller: Caller,
    mic: QueueMic,
    clips: list[Clip],
    turn: int,
    figures: Figures,
    args: argparse.Namespace,
) -> None:
    clip = clips[(turn - 1) % len(clips)]
    speech_end = mic.say(clip.packets) + clip.end_s
    answer = await first_loud(caller.ear, speech_end + 0.05, within=60)
    if answer is None:
        print(f"  turn {turn}: no answer heard")
        return
    figures.add("voice-to-voice at the client", answer - speech_end)
    if (played := await first_loud(caller.ear, answer - 0.001, played=True)) is not None:
        figures.add("  … played by aiortc (jitter buffer)", played - speech_end)
    if turn % 2 == 0:  # interrupt every other answer, mid-sentence
        await barge_in(caller, mic, clips[0], answer + 1.0, figures, turn, args)
    else:
        await quiet_until(caller.ear, answer)
    # the server's turn that this clip ended (sent when the answer is over or cut): the one
    # whose end of speech it heard just after the clip's
    latency = await wait_for(
        caller,
        "turn-latency",
        lambda e: 0 <= monotonic_of((e.get("at") or {}).get("speechEnded") or 0) - speech_end < 2,
        since=speech_end,
    )
    if latency is None:
        print(f"  turn {turn}: no turn-latency event")
        return
    at = latency["at"]
    figures.add("  VAD heard the end after", monotonic_of(at["speechEnded"]) - speech_end)
    if at.get("firstAudio"):
        figures.add("  delivery (queued → arrived)", answer - monotonic_of(at["firstAudio"]))
    for key, value in latency["stages"].items():
        if isinstance(value, int | float):
            figures.add(f"  server {key}", value / 1000)
    if args.verbose:
        print(f"  turn {turn}: {(answer - speech_end) * 1000:.0f} ms {latency['stages']}")
        said = [
            e["text"]
            for t, name, e in caller.events
            if t > speech_end and name == "transcript" and e["speaker"] == "ai" and e["final"]
        ]
        print(f"    AI: {said}")
    await asyncio.sleep(0.5)


async def barge_in(
    caller: Caller,
    mic: QueueMic,
    clip: Clip,
    at: float,
    figures: Figures,
    turn: int,
    args: argparse.Namespace,
) -> None:
    """Speak `clip` over the answer from `at`, as soon as the AI is mid-word (its last three
    frames loud); the onset of the clip's speech → the AI's last audio at the client."""
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    for _ in range(2000):  # 10 s at most
        if all(level > LOUD for level in caller.ear.levels[-3:]):
            break
        await asyncio.sleep(0.005)
    onset = mic.say(clip.packets) + clip.onset_s
    stopped = await quiet_until(caller.ear, onset)
    if stopped is not None and stopped == onset:
        print(f"  turn {turn}: the answer was over before the caller spoke over it")
    elif stopped is not None:
        figures.add("barge-in (onset → silence)", max(0.0, stopped - onset))
        if args.verbose:
            print(f"  turn {turn}: barge-in {(stopped - onset) * 1000:.0f} ms")
    # the interrupting question is answered in full before the next turn
    await wait_for(
        caller,
        "transcript",
        lambda e: e["speaker"] == "ai" and e["final"] and e.get("interrupted") is False,
        since=onset,
    )
    await quiet_until(caller.ear, time.monotonic())


async def run(args: argparse.Namespace) -> None:
    clips = await make_clips()
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    server = await asyncio.to_thread(start_server, workdir, server_env(args), 120)
    try:
        figures = await converse(server, clips, args)
    finally:
        server.stop()
    print(f"\n== voice latency over WebRTC (Whisper window {args.window}s, {args.turns} turns)")
    for name, values in figures.values.items():
        show(name, values)
    if v2v := figures.values.get("voice-to-voice at the client"):
        print(f"  mean voice-to-voice {statistics.mean(v2v):.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--llm-threads", type=int, default=0, help="0: the setting's default")
    parser.add_argument("--verbose", action="store_true", help="every turn's stages")
    parser.add_argument("--no-echo-guard", action="store_true")
    parser.add_argument("--min-speech", type=float, default=0.064, help="TURN_MIN_SPEECH")
    parser.add_argument("--stt-pause", type=float, default=0.1, help="TURN_STT_PAUSE")
    asyncio.run(run(parser.parse_args()))
