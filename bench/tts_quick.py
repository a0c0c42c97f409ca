"""How fast the local voices speak: time to the first chunk and real-time factor.

    .venv/bin/python bench/tts_quick.py
    .venv/bin/python bench/tts_quick.py --repeat 5

For Piper (English) and espeak-ng (Korean) it synthesizes a few single sentences and a short
paragraph, each `--repeat` times after loading, and prints medians of the time to the first
chunk (TTFC), the total synthesis time, the audio duration and the real-time factor (synthesis
time / audio duration; below 1 is faster than real time). It also writes one English and one
Korean sample to /tmp (printed) to be listened to or transcribed. It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parley.ai.audio import encode_wav
from parley.ai.base import AudioChunk, Language, TextToSpeech
from parley.ai.local.espeak_tts import EspeakTTS
from parley.ai.local.piper_tts import PiperTTS

ENGLISH = [
    "Hello, thanks for calling.",
    "How can I help you today?",
    "Your order has shipped and should arrive on Thursday.",
    "I can book an appointment for you next week, in the morning or the afternoon.",
    "Thanks for calling. Your order shipped yesterday. It should arrive on Thursday. "
    "Is there anything else I can help you with?",
]
KOREAN = [
    "안녕하세요.",
    "무엇을 도와드릴까요?",
    "주문하신 상품은 목요일에 도착할 예정입니다.",
    "다음 주 오전이나 오후로 상담 예약을 잡아 드릴 수 있습니다.",
    "전화해 주셔서 감사합니다. 주문하신 상품은 어제 발송되었습니다. "
    "목요일에 도착할 예정입니다. 더 도와드릴 일이 있을까요?",
]
OUT = Path(tempfile.gettempdir())
SAMPLES = {
    Language.ENGLISH: (OUT / "parley_tts_en.wav", ENGLISH[-1]),
    Language.KOREAN: (OUT / "parley_tts_ko.wav", KOREAN[-1]),
}


@dataclass(frozen=True, slots=True)
class Run:
    ttfc_s: float
    total_s: float
    audio_s: float
    chunks: int

    @property
    def rtf(self) -> float:
        return self.total_s / self.audio_s


async def run_once(tts: TextToSpeech, text: str, language: Language) -> tuple[Run, AudioChunk]:
    started = time.perf_counter()
    first = 0.0
    chunks: list[AudioChunk] = []
    async for chunk in tts.synthesize(text, language=language):
        if not chunks:
            first = time.perf_counter() - started
        chunks.append(chunk)
    total = time.perf_counter() - started
    audio = AudioChunk(np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate)
    return Run(first, total, audio.duration_s, len(chunks)), audio


async def bench(
    label: str, tts: TextToSpeech, language: Language, texts: list[str], repeat: int
) -> None:
    started = time.perf_counter()
    load = getattr(tts, "load", None)
    if load is not None:
        await load()
    print(f"\n{label}: loaded in {time.perf_counter() - started:.2f} s")
    print(f"  {'chunks':>6} {'audio s':>8} {'TTFC ms':>8} {'total ms':>9} {'RTF':>7}  text")
    every: list[Run] = []
    for text in texts:
        runs = [(await run_once(tts, text, language))[0] for _ in range(repeat)]
        every += runs
        shown = text if len(text) <= 40 else text[:37] + "..."
        print(
            f"  {runs[0].chunks:>6} {statistics.median(r.audio_s for r in runs):>8.2f}"
            f" {statistics.median(r.ttfc_s for r in runs) * 1000:>8.1f}"
            f" {statistics.median(r.total_s for r in runs) * 1000:>9.1f}"
            f" {statistics.median(r.rtf for r in runs):>7.3f}  {shown}"
        )
    print(
        f"  median over all: TTFC {statistics.median(r.ttfc_s for r in every) * 1000:.1f} ms,"
        f" RTF {statistics.median(r.rtf for r in every):.3f}"
    )
    path, text = SAMPLES[language]
    _, audio = await run_once(tts, text, language)
    path.write_bytes(encode_wav(audio.pcm, audio.sample_rate))
    print(f"  sample: {path} ({audio.duration_s:.2f} s at {audio.sample_rate} Hz)")
    await tts.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per text (default 3)")
    args = parser.parse_args()
    await bench(
        "Piper en_US-joe-medium (English)", PiperTTS(), Language.ENGLISH, ENGLISH, args.repeat
    )
    await bench("espeak-ng ko (Korean)", EspeakTTS(), Language.KOREAN, KOREAN, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
