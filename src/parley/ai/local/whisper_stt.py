"""Speech-to-text on this machine: faster-whisper (CTranslate2) with Whisper *base*, int8.

Decoding is greedy at temperature 0, without timestamps and without conditioning on previous
text; Korean in particular then falls into loops less often, and the loops that remain are cut by
`collapse_repeats`. The language comes from the call; when it is not known it is chosen between
Korean and English only (Whisper otherwise hears Japanese or Chinese in short Korean clips).

Whisper pads every clip to a 30 s window before its encoder, and faster-whisper's `transcribe`
does so whatever `chunk_length` says. For a phone call's short utterances most of that work
is padding: here a clip that fits in `window_s` seconds is padded only to `window_s` and decoded
straight on the CTranslate2 model (the encoder costs 0.66 s for 30 s and 0.10 s for 10 s on
this machine). Longer clips take faster-whisper's usual path in 30 s windows: a live call never
sends more than one (`TurnConfig.max_turn_s`). Windows of `window_s` there would each still be
padded to 30 s, three encoder runs for a 30 s clip (a 30 s monologue: 6.0 s, against 4.6 s in
one window). The output length is capped in proportion to the audio's length, so a decoding loop
cannot run on to 448 tokens; either path stops early when nobody waits for the words any more.
See `bench/stt_accuracy.py` for what each window does to accuracy.

Every transcript carries Whisper's own figures (`Confidence`: mean log-probability of the tokens,
no-speech probability, compression ratio), worked out on the short path as faster-whisper does
on its own, for `parley.ai.hearing.heard_well` to judge whether to ask the caller to repeat.

Whisper runs on one thread by default (`STT_THREADS`). CTranslate2's own default (an OpenMP
pool) was *slower* on this 2-core machine for a call's short clips — 40 questions of 1–3 s:
median 181 / p95 286 ms with it, 140 / 167 ms on one thread (`bench/stt_accuracy.py --windows 10
--language en --limit 20 --threads 0|1`) — and one thread leaves the other core to the event loop
and the LLM. Only the 30 s path of long clips gains from a second thread (a 10.5 s clip:
~2.6–3.0 s on two, ~3.1–3.4 s on one).
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from parley.ai.base import SAMPLE_RATE, Confidence, Language, Samples, Transcript
from parley.ai.hearing import combine, compression_ratio
from parley.ai.local.workers import model_worker
from parley.errors import AIProviderError

_REPEAT = re.compile(r"(\S.{0,39}?)(?:[\s,.]+\1){2,}", re.DOTALL)
SILENCE_RMS = 3e-4  # about -70 dBFS: nothing a microphone would call speech
TOKENS_PER_SECOND = 25  # Korean spends up to ~3 byte-level tokens per syllable
MIN_WINDOW_S = 6  # 5 s lost accuracy (WER 9.7 → 14.7 % on 40 sentences); 6 s did not, 90 ms faster
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


def window_confidence(result: Any, text: str) -> Confidence:
    """Whisper's figures for one decoded window, as faster-whisper derives them: CTranslate2's
    score is the summed log-probability over length ** length_penalty (1 here), and Whisper
    averages over the tokens plus the end-of-text one. The compression ratio is of the raw text,
    before `collapse_repeats` hides a loop."""
    tokens = len(result.sequences_ids[0])
    average = result.scores[0] * tokens / (tokens + 1)
    return Confidence(float(average), float(result.no_speech_prob), compression_ratio(text))


def segments_confidence(segments: list[Any]) -> Confidence | None:
    """faster-whisper's segments in one: their figures are per 30 s window (every segment of a
    window carries the same ones), so the log-probability is weighted by tokens, and the worst
    no-speech probability and compression ratio stand for the whole."""
    return combine(
        (len(s.tokens), Confidence(s.avg_logprob, s.no_speech_prob, s.compression_ratio))
        for s in segments
    )


class WhisperSTT:
    """One model shared by every call; one worker thread, so utterances queue instead of fighting
    over the two cores."""

    def __init__(self, model_dir: Path, *, window_s: int = 30, threads: int = 1) -> None:
        self.name = f"whisper-base (window {window_s}s)"
        self._model_dir = model_dir
        self._window_s = window_s
        self._threads = threads
        self._executor = model_worker("stt")
        self._model: Any = None

    async def load(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ensure_model)

    async def transcribe(self, audio: Samples, *, language: Language | None) -> Transcript:
        """Cancelling the caller also stops the work: before it starts, or between Whisper's
        encoder and decoder (a speculative transcription of a turn that went on is abandoned
        half-way, and the next one, of the whole turn, does not queue behind all of it)."""
        loop = asyncio.get_running_loop()
        abandoned = threading.Event()
        try:
            return await loop.run_in_executor(
                self._executor, self._transcribe, audio, language, abandoned
            )
        except asyncio.CancelledError:
            abandoned.set()
            raise
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
                str(self._model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=self._threads,
                num_workers=1,
                local_files_only=True,
            )
        return self._model

    def _transcribe(
        self, audio: Samples, language: Language | None, abandoned: threading.Event | None = None
    ) -> Transcript:
        model = self._ensure_model()
        if float(np.sqrt(np.mean(np.square(audio)))) < SILENCE_RMS:
            chosen = language or Language.ENGLISH
            return Transcript(text="", language=chosen, duration_s=len(audio) / SAMPLE_RATE)
        if self._window_s < 30 and len(audio) <= self._window_s * SAMPLE_RATE:
            return self._transcribe_window(model, audio, language, abandoned)
        chosen = language or self._detect(model, audio)
        # With timestamps: without them Whisper base tends to stop at the first long pause of a
        # 30 s window (it heard only "안녕하세요." of a two-sentence Korean clip on CI's CPU).
        segments, _ = model.transcribe(
            audio,
            language=chosen.value,
            task="transcribe",
            beam_size=1,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=False,
            vad_filter=False,
            no_speech_threshold=0.6,
            log_prob_threshold=-1.0,
            compression_ratio_threshold=2.4,
            chunk_length=30,
        )
        kept: list[Any] = []
        dropped: list[Any] = []
        for segment in segments:  # decoded as they are taken, window by window
            if abandoned is not None and abandoned.is_set():
                return Transcript(text="", language=chosen, duration_s=0.0)
            (kept if segment.no_speech_prob < 0.8 else dropped).append(segment)
        text = drop_hallucinations(collapse_repeats(" ".join(s.text.strip() for s in kept)))
        duration = len(audio) / SAMPLE_RATE
        return Transcript(text, chosen, duration, segments_confidence(kept or dropped))

    def _transcribe_window(
        self,
        model: Any,
        audio: Samples,
        language: Language | None,
        abandoned: threading.Event | None = None,
    ) -> Transcript:
        """Encode the clip padded to `window_s` only, then decode greedily on that."""
        from faster_whisper.tokenizer import Tokenizer

        features = model.feature_extractor(audio)
        # The encoder's cost grows with the window: a 3 s question gets 5 s, not the full window.
        window_s = min(self._window_s, max(MIN_WINDOW_S, math.ceil(len(audio) / SAMPLE_RATE) + 2))
        frames = window_s * 100
        padded = np.zeros((features.shape[0], frames), np.float32)
        padded[:, : min(frames, features.shape[1])] = features[:, :frames]
        encoded = model.encode(padded)
        if abandoned is not None and abandoned.is_set():  # nobody waits for the words any more
            return Transcript(text="", language=language or Language.ENGLISH, duration_s=0.0)
        # Language identification is less sure on a short window (espeak's Korean passed for
        # English): when the call does not say, detect on Whisper's full window.
        chosen = language or self._detect(model, audio)
        tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=chosen.value)
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        duration = len(audio) / SAMPLE_RATE
        limit = min(448, len(prompt) + int(duration * TOKENS_PER_SECOND) + 8)
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=limit,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        decoded = tokenizer.decode(result.sequences_ids[0]).strip()
        confidence = window_confidence(result, decoded)
        text = "" if result.no_speech_prob > 0.8 else decoded
        text = drop_hallucinations(collapse_repeats(text))
        return Transcript(text, chosen, duration, confidence)

    def _detect(self, model: Any, audio: Samples) -> Language:
        _, _, probabilities = model.detect_language(audio[: 30 * SAMPLE_RATE])
        scores = dict(probabilities)
        return max(Language, key=lambda lang: scores.get(lang.value, 0.0))
