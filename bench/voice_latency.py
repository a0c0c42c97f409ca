"""Voice-to-voice latency of real AI calls over WebRTC (aiortc client ↔ Parley on loopback).

Per turn: end of the caller's speech → first AI audio at the client (voice-to-voice), with the
server's stages (end-of-turn wait, STT, LLM first token, TTS first chunk); the greeting time
(media flowing → first greeting audio); barge-in latency (caller speech onset → AI audio stops
arriving). Offline default models, English. Prints p50/p95; asserts nothing.

    .venv/bin/python -m bench.voice_latency [--turns 8] [--window 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tests.calls.test_live_call import Ear, dial, hang_up, serving
from tests.conftest import make_settings
from tests.speech import speak, with_silence

from parley.ai.base import Language
from parley.ai.engine import build_engine, install_local_models

QUESTIONS = [
    "Wait, when will my order arrive?",
    "Can I change my delivery address?",
    "What time do you open on Saturday?",
    "I would like to return a pair of shoes.",
]
LOUD = 300.0
TRAILING_SILENCE = 0.5


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def show(name: str, values: list[float]) -> None:
    if values:
        p50, p95 = p(values, 0.5), p(values, 0.95)
        print(f"  {name:28s} p50 {p50:7.0f} ms   p95 {p95:7.0f} ms  (n={len(values)})")


async def quiet_until(ear: Ear, since: float, within: float = 30) -> float | None:
    """When the AI audio stopped arriving after `since` (the last loud frame)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        loud = [t for t, rms in ear.levels if t >= since and rms > LOUD]
        if loud and time.monotonic() - loud[-1] > 0.6:
            return loud[-1]
        await asyncio.sleep(0.05)
    return None


async def first_loud(ear: Ear, since: float, within: float = 30) -> float | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (t := ear.loud_since(since, LOUD)) is not None:
            return t
        await asyncio.sleep(0.01)
    return None


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    ai = {"stt_window_s": args.window, "llm_temperature": 0.0, "llm_threads": args.llm_threads}
    settings = make_settings(workdir, ai=ai)
    await asyncio.to_thread(install_local_models, settings)
    engine = build_engine(settings)
    await engine.load()
    clips = [
        with_silence(await speak(engine.tts, q, Language.ENGLISH), 0.2, TRAILING_SILENCE)
        for q in QUESTIONS
    ]
    v2v: list[float] = []
    greeting: list[float] = []
    barge: list[float] = []
    stages: dict[str, list[float]] = {}
    async with serving(workdir, engine, stt_window_s=args.window) as (base, _):
        caller = await dial(base)
        state = await caller.wait_for("call-state", lambda e: e["status"] == "IN_PROGRESS")
        flowing = next(t for t, e, pl in caller.events if e == "call-state" and pl is state)
        if (heard := await first_loud(caller.ear, flowing)) is not None:
            greeting.append((heard - flowing) * 1000)
        await quiet_until(caller.ear, flowing)
        for turn in range(1, args.turns + 1):
            clip = clips[(turn - 1) % len(clips)]
            speech_end = caller.mic.say(clip) - TRAILING_SILENCE
            answer = await first_loud(caller.ear, speech_end + 0.05, within=60)
            if answer is None:
                print(f"  turn {turn}: no answer heard")
                continue
            v2v.append((answer - speech_end) * 1000)
            if turn % 2 == 0:  # interrupt every other answer a moment after it starts
                await asyncio.sleep(0.4)
                onset = (
                    caller.mic.say(clips[0]) + 0.2 - clips[0].duration_s
                )  # speech starts after 0.2 s pad
                stopped = await quiet_until(caller.ear, onset)
                if stopped is not None:
                    barge.append(max(0.0, stopped - onset) * 1000)
                await caller.wait_for(
                    "transcript",
                    lambda e, t=turn + 1: e["speaker"] == "ai" and e["final"] and e["turn"] >= t,
                    within=60,
                )
                await quiet_until(caller.ear, time.monotonic())
            else:
                await quiet_until(caller.ear, answer)
        for _, event, payload in caller.events:
            if event == "turn-latency":
                for key, value in payload["stages"].items():
                    if isinstance(value, int | float):
                        stages.setdefault(key, []).append(value)
        await hang_up(caller)
    await engine.aclose()
    print(f"\n== voice latency over WebRTC (Whisper window {args.window}s, {args.turns} turns)")
    show("greeting (media → audio)", greeting)
    show("voice-to-voice at client", v2v)
    for key in ("endOfTurnMs", "sttMs", "llmFirstTokenMs", "ttsFirstChunkMs", "voiceToVoiceMs"):
        show(f"server {key}", stages.get(key, []))
    show("barge-in (onset → silence)", barge)
    if v2v:
        print(f"  mean voice-to-voice {statistics.mean(v2v):.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--llm-threads", type=int, default=0, help="0: the setting's default")
    asyncio.run(run(parser.parse_args()))
