"""How long each AI stage takes on this machine, with the offline default models.

    STT        Whisper base on 1–6 s utterances (English by Piper, Korean by espeak-ng),
               for each encoder window in --windows
    LLM        time to first token and tokens/s, first turn (cold prompt) and next turns
               (system prompt cached), English and Korean
    TTS        time to first chunk and real-time factor, Piper (en) and espeak-ng (ko)
    sentiment  time per message, for each analyzer

Prints medians and p95; asserts nothing. Run with nothing else busy on the machine:
    .venv/bin/python bench/ai_stages.py [--rounds 5] [--windows 30,10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable
from typing import Any

from tests.speech import resample, speak, with_silence

from parley.ai.base import AudioChunk, ChatMessage, Language
from parley.ai.engine import build_engine, install_local_models
from parley.ai.local.whisper_stt import WhisperSTT
from parley.calls.agent import Agent
from parley.config import load_settings

UTTERANCES = {
    Language.ENGLISH: [
        "Yes, please.",
        "I'd like to check my order status.",
        "My package was supposed to arrive yesterday but it never came.",
        "Hello, I ordered a pair of running shoes last week, and I would like to know "
        "when they will arrive, because I need them by Saturday.",
    ],
    Language.KOREAN: [
        "네, 맞아요.",
        "주문 상태를 확인하고 싶어요.",
        "어제 도착한다던 택배가 아직도 안 왔어요.",
        "안녕하세요, 지난주에 운동화를 주문했는데요, 토요일까지 꼭 필요해서 "
        "언제 도착하는지 알고 싶습니다.",
    ],
}
QUESTIONS = {
    Language.ENGLISH: ["When will my order arrive?", "Can I change my delivery address?"],
    Language.KOREAN: ["제 주문은 언제 도착하나요?", "배송 주소를 바꿀 수 있나요?"],
}
REPLIES = {
    Language.ENGLISH: "Thanks for calling. Your order left our warehouse this morning, and it "
    "should arrive on Thursday. Is there anything else I can help you with?",
    Language.KOREAN: "전화 주셔서 감사합니다. 주문하신 상품은 오늘 아침 출고되었고 목요일에 "
    "도착할 예정입니다. 더 도와드릴 일이 있을까요?",
}


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):7.1f}  p95 {p95:7.1f}  (n={len(ordered)})"


async def timed(work: Awaitable[Any]) -> float:
    """Milliseconds the awaitable takes (a coroutine starts only when awaited)."""
    started = time.perf_counter()
    await work
    return (time.perf_counter() - started) * 1000


async def bench_stt(engine: Any, settings: Any, windows: list[int], rounds: int) -> None:
    print("\n== STT (ms per utterance)")
    clips = {
        lang: [with_silence(await speak(engine.tts, text, lang), 0.2, 0.3) for text in texts]
        for lang, texts in UTTERANCES.items()
    }
    for window in windows:
        stt = WhisperSTT(settings.ai.models_path / "whisper-base", window_s=window)
        await stt.load()
        for lang, chunks in clips.items():
            for clip in chunks:
                audio = resample(clip.pcm, clip.sample_rate)
                await stt.transcribe(audio, language=lang)  # warm
                times = [await timed(stt.transcribe(audio, language=lang)) for _ in range(rounds)]
                label = f"window {window:2d}s {lang.value} {clip.duration_s:4.1f}s audio"
                print(f"  {label}: {summary(times)}")
        await stt.aclose()


async def bench_llm(engine: Any, rounds: int) -> None:
    print("\n== LLM")
    for lang, questions in QUESTIONS.items():
        first_tokens: list[float] = []
        rates: list[float] = []
        system = ChatMessage("system", Agent().system_prompt(lang, None))
        for i in range(rounds * len(questions)):
            messages = [system, ChatMessage("user", questions[i % len(questions)])]
            started = time.perf_counter()
            first, count = 0.0, 0
            async for _ in engine.llm.stream_reply(messages, max_tokens=60):
                count += 1
                if count == 1:
                    first = time.perf_counter()
            end = time.perf_counter()
            first_tokens.append((first - started) * 1000)
            if count > 1:
                rates.append((count - 1) / (end - first))
        print(f"  {lang.value} first token ms  {summary(first_tokens)}")
        print(f"  {lang.value} pieces/s        median {statistics.median(rates):5.1f}")


async def bench_tts(engine: Any, rounds: int) -> None:
    print("\n== TTS")
    for lang, text in REPLIES.items():
        firsts: list[float] = []
        factors: list[float] = []
        for _ in range(rounds):
            started = time.perf_counter()
            chunks: list[AudioChunk] = []
            async for chunk in engine.tts.synthesize(text, language=lang):
                if not chunks:
                    firsts.append((time.perf_counter() - started) * 1000)
                chunks.append(chunk)
            elapsed = time.perf_counter() - started
            factors.append(elapsed / sum(c.duration_s for c in chunks))
        rtf = statistics.median(factors)
        print(f"  {lang.value} first chunk ms {summary(firsts)}   RTF median {rtf:.3f}")


async def bench_sentiment(settings: Any, rounds: int) -> None:
    print("\n== sentiment (ms per message)")
    for name in ("lexicon", "llm"):
        analyzer = build_engine(
            settings.model_copy(update={"ai": settings.ai.model_copy(update={"sentiment": name})})
        ).sentiment
        if hasattr(analyzer, "load"):
            await analyzer.load()
        for lang, questions in QUESTIONS.items():
            times = [
                await timed(analyzer.analyze(q, language=lang))
                for _ in range(rounds)
                for q in questions
            ]
            print(f"  {name:8s} {lang.value} {summary(times)}")
        await analyzer.aclose()


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(None)
    await asyncio.to_thread(install_local_models, settings)
    engine = build_engine(settings)
    await engine.load()
    print(f"engine: {engine.describe()}")
    if "stt" in args.stages:
        await bench_stt(engine, settings, [int(w) for w in args.windows.split(",")], args.rounds)
    if "llm" in args.stages:
        await bench_llm(engine, args.rounds)
    if "tts" in args.stages:
        await bench_tts(engine, args.rounds)
    if "sentiment" in args.stages:
        await bench_sentiment(settings, args.rounds)
    await engine.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--windows", default="30,10")
    parser.add_argument("--stages", default="stt,llm,tts,sentiment")
    asyncio.run(main(parser.parse_args()))
