"""Speech-to-text on this machine: faster-whisper (CTranslate2) with Whisper *base*, int8.

Decoding is greedy at temperature 0, without timestamps and without conditioning on previous
text; Korean in particular then falls into loops less often, and the loops that remain are cut by
`collapse_repeats`. The language comes from the call; when it is not known it is chosen between
Korean and English only (Whisper otherwise hears Japanese or Chinese in short Korean clips).

The encoder window (`window_s`) defaults to Whisper's 30 s; a shorter window encodes less padding
and is much faster for the short utterances of a phone call (see `bench/stt_accuracy.py`).
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from parley.ai.base import SAMPLE_RATE, Language, Samples, Transcript
from parley.errors import AIProviderError

_REPEAT = re.compile(r"(\S.{0,39}?)(?:[\s,.]+\1){2,}", re.DOTALL)
SILENCE_RMS = 3e-4  # about -70 dBFS: nothing a microphone would call speech
# Phrases Whisper invents over silence or noise (subtitle credits it saw in training).
_HALLUCINATIONS = (
    "시청해 주셔서 감사합니다",
    "시청해주셔서 감사합니다",
    "구독과 좋아요",
    "MBC 뉴스",
    "이 영상은",
    "Thanks for watching",
    "Thank you for watching",
    "Subtitles by",
)


def collapse_repeats(text: str) -> str:
    """Keep one copy of any phrase repeated three or more times in a row."""
    return _REPEAT.sub(r"\1", text).strip()


def drop_hallucinations(text: str) -> str:
    return "" if any(phrase in text for phrase in _HALLUCINATIONS) and len(text) < 40 else text


class WhisperSTT:
    """One model shared by every call; one worker thread, so utterances queue instead of fighting
    over the two cores."""

    def __init__(self, model_dir: Path, *, window_s: int = 30, threads: int = 0) -> None:
        self.name = f"whisper-base (window {window_s}s)"
        self._model_dir = model_dir
        self._window_s = window_s
        self._threads = threads
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="stt")
        self._model: Any = None

    async def load(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ensure_model)

    async def transcribe(self, audio: Samples, *, language: Language | None) -> Transcript:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._transcribe, audio, language)
        except AIProviderError:
            raise
        except Exception as exc:
            raise AIProviderError(
                f"Speech recognition failed: {exc}", provider="stt:local"
            ) from exc

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._model = None

    def _ensure_model(self) -> Any:
        if self._model is None:
            from faster_whisper import WhisperModel

            self._model = WhisperModel(
                str(self._model_dir), device="cpu", compute_type="int8",
                cpu_threads=self._threads, num_workers=1, local_files_only=True,
            )  # fmt: skip
        return self._model

    def _transcribe(self, audio: Samples, language: Language | None) -> Transcript:
        model = self._ensure_model()
        if float(np.sqrt(np.mean(np.square(audio)))) < SILENCE_RMS:
            chosen = language or Language.ENGLISH
            return Transcript(text="", language=chosen, duration_s=len(audio) / SAMPLE_RATE)
        chosen = language or self._detect(model, audio)
        segments, _ = model.transcribe(
            audio, language=chosen.value, task="transcribe", beam_size=1, best_of=1,
            temperature=0.0, condition_on_previous_text=False, without_timestamps=True,
            vad_filter=False, no_speech_threshold=0.6, log_prob_threshold=-1.0,
            compression_ratio_threshold=2.4, chunk_length=self._window_s,
        )  # fmt: skip
        text = " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.8)
        text = drop_hallucinations(collapse_repeats(text))
        return Transcript(text=text, language=chosen, duration_s=len(audio) / SAMPLE_RATE)

    def _detect(self, model: Any, audio: Samples) -> Language:
        _, _, probabilities = model.detect_language(audio[: 30 * SAMPLE_RATE])
        scores = dict(probabilities)
        return max(Language, key=lambda lang: scores.get(lang.value, 0.0))
