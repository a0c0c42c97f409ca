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

from parley.ai.base import AudioChunk, Language
from parley.ai.engine import build_engine, install_local_models

QUESTIONS = [
    "Wait, when will my order arrive?",
    "Can I change my delivery address?",
    "What time do you open on Saturday?",
    "I would like to return a pair of shoes.",
]
LOUD = 300.0
TRAILING_SILENCE = 0.5


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
        print(f"  {name:28s} p50 {p50:7.0f} ms   p95 {p95:7.0f} ms  (n={len(values)})")


async def quiet_until(ear: Ear, since: float, within: float = 30) -> float | None:
    """When the AI audio stopped arriving after `since`: the last loud frame before the first
    0.6 s of quiet (`since` itself when it was already quiet, e.g. between two sentences)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        last = since
        for t, rms in ear.levels:
            if t < since or rms <= LOUD:
                continue
            if t - last > 0.6:
                return last
            last = t
        if time.monotonic() - last > 0.6:
            return last
        await asyncio.sleep(0.05)
    return None


async def speaking_for(ear: Ear, seconds: float, within: float = 10) -> None:
    """Until the AI has been loud, without a 60 ms break, for `seconds`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        recent = [(t, rms) for t, rms in ear.levels if t > time.monotonic() - seconds]
        if len(recent) > seconds * 40 and all(rms > LOUD / 3 for _, rms in recent):
            return
        await asyncio.sleep(0.01)


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
        another_speaker(
            with_silence(await speak(engine.tts, q, Language.ENGLISH), 0.2, TRAILING_SILENCE)
        )
        for q in QUESTIONS
    ]
    v2v: list[float] = []
    greeting: list[float] = []
    barge: list[float] = []
    stages: dict[str, list[float]] = {}
    turns = {"turn_min_speech_s": args.min_speech, "echo_guard": not args.no_echo_guard}
    async with serving(workdir, engine, stt_window_s=args.window, **turns) as (base, app):
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
            if args.verbose:
                print(f"  turn {turn}: voice-to-voice at the client {v2v[-1]:.0f} ms")
            if turn % 2 == 0:  # interrupt every other answer a moment after it starts
                # a moment after it starts, while the AI is audibly speaking (the clip's speech
                # starts after its 0.2 s pad: be loud then, not in a pause between clauses)
                await asyncio.sleep(0.8)
                await speaking_for(caller.ear, 0.3)
                onset = caller.mic.say(clips[0]) + 0.2 - clips[0].duration_s
                stopped = await quiet_until(caller.ear, onset)
                if stopped is not None:
                    barge.append(max(0.0, stopped - onset) * 1000)
                    if args.verbose:
                        print(f"  turn {turn}: barge-in {barge[-1]:.0f} ms")
                await caller.wait_for(
                    "transcript",
                    lambda e, t=turn + 1: e["speaker"] == "ai" and e["final"] and e["turn"] >= t,
                    within=60,
                )
                await quiet_until(caller.ear, time.monotonic())
            else:
                await quiet_until(caller.ear, answer)
        for _, event, payload in caller.events:
            if event == "turn-latency" and args.verbose:
                print(f"  turn {payload['turn']}: {payload['stages']}")
            if event == "turn-latency":
                for key, value in payload["stages"].items():
                    if isinstance(value, int | float):
                        stages.setdefault(key, []).append(value)
        if args.verbose and (live := app.state.live.get(caller.call["id"])) is not None:
            echo = live.echo
            print(f"  echo guard: {echo.checks} checks, {echo.echoes} echo, delay {echo.delay}")
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
    parser.add_argument("--llm-batch-threads", type=int, default=0, help="0: the setting's default")
    parser.add_argument("--verbose", action="store_true", help="every turn's stages")
    parser.add_argument("--no-echo-guard", action="store_true")
    parser.add_argument("--min-speech", type=float, default=0.064, help="TURN_MIN_SPEECH")
    asyncio.run(run(parser.parse_args()))
