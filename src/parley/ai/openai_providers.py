"""Cloud providers through the official `openai` SDK: OpenAI itself, and for the LLM any server
that speaks its chat API (Ollama's `/v1`, llama.cpp's server, vLLM...).

SDK errors become `AIProviderError` here; nothing above this module sees an `openai` type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
import openai
from openai import AsyncOpenAI

from parley.ai.audio import encode_wav, to_pcm16
from parley.ai.base import (
    SAMPLE_RATE,
    AudioChunk,
    ChatMessage,
    Confidence,
    Language,
    Samples,
    Transcript,
)
from parley.ai.hearing import combine
from parley.errors import AIProviderError

OPENAI_VOICES = ["alloy", "echo", "fable", "onyx", "nova", "shimmer"]
PCM_RATE = 24_000  # OpenAI's `pcm` speech format: 24 kHz, 16-bit, mono
_LANGUAGE_NAMES = {"korean": Language.KOREAN, "english": Language.ENGLISH}
_FIGURES = ("avg_logprob", "no_speech_prob", "compression_ratio")


def make_client(api_key: str, base_url: str | None, timeout: float) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=1)


def _failure(provider: str, exc: Exception) -> AIProviderError:
    detail = type(exc).__name__
    if isinstance(exc, openai.APIStatusError):
        detail = f"HTTP {exc.status_code}"
    return AIProviderError(f"The {provider} provider failed ({detail}).", provider=provider)


def _confidence(result: Any) -> Confidence | None:
    """Whisper's figures from `verbose_json`'s segments, in one. None where the server gives no
    segments or leaves the figures out (some compatible servers do)."""
    segments = getattr(result, "segments", None) or []
    return combine(p for p in map(_segment_figures, segments) if p is not None)


def _segment_figures(segment: Any) -> tuple[float, Confidence] | None:
    """One segment's figures, weighted by its tokens (or, without them, its seconds)."""
    figures = [
        float(figure)
        for name in _FIGURES
        if isinstance(figure := getattr(segment, name, None), int | float)
    ]
    if len(figures) < len(_FIGURES):
        return None
    logprob, no_speech, ratio = figures
    tokens = len(getattr(segment, "tokens", None) or [])
    seconds = float(getattr(segment, "end", 0.0)) - float(getattr(segment, "start", 0.0))
    return tokens or seconds, Confidence(logprob, no_speech, ratio)


class OpenAISTT:
    def __init__(self, client: AsyncOpenAI, model: str = "whisper-1") -> None:
        self.name = f"openai {model}"
        self._client = client
        self._model = model

    async def transcribe(self, audio: Samples, *, language: Language | None) -> Transcript:
        wav = encode_wav(to_pcm16(audio), SAMPLE_RATE)
        options: dict[str, Any] = {"language": language.value} if language else {}
        try:
            result = await self._client.audio.transcriptions.create(
                model=self._model,
                file=("speech.wav", wav, "audio/wav"),
                response_format="verbose_json",
                **options,
            )
        except openai.OpenAIError as exc:
            raise _failure("stt:openai", exc) from exc
        heard = _LANGUAGE_NAMES.get(str(getattr(result, "language", "")).lower())
        chosen = language or heard or Language.ENGLISH
        duration = len(audio) / SAMPLE_RATE
        return Transcript(result.text.strip(), chosen, duration, _confidence(result))

    async def aclose(self) -> None:
        await self._client.close()


class OpenAIChatLLM:
    """Chat completions, streamed: OpenAI, Ollama, or any OpenAI-compatible server."""

    def __init__(
        self, client: AsyncOpenAI, model: str, *, temperature: float, provider: str
    ) -> None:
        self.name = f"{provider} {model}"
        self._client = client
        self._model = model
        self._temperature = temperature
        self._provider = f"llm:{provider}"

    async def stream_reply(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, all_cores: bool = False
    ) -> AsyncIterator[str]:
        prompt: Any = [{"role": m.role, "content": m.content} for m in messages]
        try:
            stream = await self._client.chat.completions.create(
                model=self._model,
                messages=prompt,
                stream=True,
                max_tokens=max_tokens,
                temperature=self._temperature,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.choices and (text := chunk.choices[0].delta.content):
                        yield text
        except openai.OpenAIError as exc:
            raise _failure(self._provider, exc) from exc

    async def aclose(self) -> None:
        await self._client.close()


class OpenAITTS:
    """`tts-1` speech, streamed as raw 24 kHz PCM so playback can start before it is complete."""

    def __init__(self, client: AsyncOpenAI, model: str = "tts-1", voice: str = "alloy") -> None:
        self.name = f"openai {model}"
        self._client = client
        self._model = model
        self._voice = voice

    def voices(self) -> dict[Language, list[str]]:
        return {language: list(OPENAI_VOICES) for language in Language}

    async def synthesize(
        self, text: str, *, language: Language, voice: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        chosen = voice or self._voice
        if chosen not in OPENAI_VOICES:
            from parley.errors import InvalidInputError

            raise InvalidInputError(
                f"Unknown voice '{chosen}'; choose one of {', '.join(OPENAI_VOICES)}.",
                code="UNKNOWN_VOICE",
            )
        try:
            async with self._client.audio.speech.with_streaming_response.create(
                model=self._model, voice=chosen, input=text, response_format="pcm"
            ) as response:
                leftover = b""
                async for block in response.iter_bytes(PCM_RATE // 5 * 2):
                    data = leftover + block
                    usable = len(data) - len(data) % 2
                    leftover = data[usable:]
                    if usable:
                        yield AudioChunk(np.frombuffer(data[:usable], np.int16), PCM_RATE)
        except openai.OpenAIError as exc:
            raise _failure("tts:openai", exc) from exc

    async def aclose(self) -> None:
        await self._client.close()
