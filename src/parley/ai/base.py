"""The AI parts Parley talks to, each reduced to one small async interface.

    SpeechToText.transcribe(audio, language)      -> Transcript
    LanguageModel.stream_reply(messages)          -> AsyncIterator[str]       (text as generated)
    TextToSpeech.synthesize(text, language, voice) -> AsyncIterator[AudioChunk] (PCM as produced)
    VoiceActivity.speech_probabilities(audio)     -> per-window speech probabilities
    VoiceActivity.stream().feed(audio)            -> the same, live, chunk by chunk
    SentimentAnalyzer.analyze(text, language)     -> SentimentScore

Optional capabilities are Protocols of their own, checked with `isinstance`:
    Warmable.warm(messages)   a local LLM evaluates a prompt ahead, for its prompt cache
    Loadable.load()           a local model loads now rather than on first use

Every implementation (local models, OpenAI, Ollama, any OpenAI-compatible server) lives behind
these, and `aclose()` releases what it holds. Audio in is mono float32 at 16 kHz (what VAD and
Whisper want); audio out is mono int16 PCM at the voice's own rate. Vendor SDK types never leave
the provider modules: a provider's failure surfaces as `AIProviderError`.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
Samples = npt.NDArray[np.float32]
Pcm16 = npt.NDArray[np.int16]


class Sentiment(enum.StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Language(enum.StrEnum):
    KOREAN = "ko"
    ENGLISH = "en"


@dataclass(frozen=True, slots=True)
class Confidence:
    """How sure Whisper was of a transcript, in its own three figures (the ones its decoder
    uses to retry or to drop a window): `avg_logprob`, the mean log-probability of the decoded
    tokens (0 is certain; Whisper retries below -1); `no_speech_prob`, the probability it gave
    to "nobody speaks" before the first token; `compression_ratio`, the text's length over its
    zlib-compressed length (a decoding loop compresses well; Whisper retries above 2.4).
    `parley.ai.hearing.heard_well` judges them."""

    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


@dataclass(frozen=True, slots=True)
class Transcript:
    """`confidence` is None where nothing was decoded (silence, an abandoned transcription) or
    the provider does not say."""

    text: str
    language: Language
    duration_s: float
    confidence: Confidence | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of synthesized speech: mono int16 samples at `sample_rate`."""

    pcm: Pcm16
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / self.sample_rate


@dataclass(frozen=True, slots=True)
class SentimentScore:
    """`score` is the confidence in `label`, in [0, 1]."""

    label: Sentiment
    score: float


class SpeechToText(Protocol):
    name: str

    async def transcribe(self, audio: Samples, *, language: Language | None) -> Transcript:
        """Text of one utterance; `language=None` chooses between Korean and English."""
        ...

    async def aclose(self) -> None: ...


class LanguageModel(Protocol):
    name: str

    def stream_reply(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, all_cores: bool = False
    ) -> AsyncIterator[str]:
        """The reply as it is generated. Closing the iterator stops generation. `all_cores`:
        no live audio needs the CPU now, so a local model may evaluate the prompt on every
        core (it otherwise leaves the audio path one)."""
        ...

    async def aclose(self) -> None: ...


class TextToSpeech(Protocol):
    name: str

    def synthesize(
        self, text: str, *, language: Language, voice: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Speech for `text`, chunk by chunk. Closing the iterator stops synthesis."""
        ...

    def voices(self) -> dict[Language, list[str]]:
        """The voices this provider offers, per language."""
        ...

    async def aclose(self) -> None: ...


class VoiceStream(Protocol):
    async def feed(self, audio: Samples) -> npt.NDArray[np.float32]:
        """Probabilities of the windows this audio completes (state carried between calls)."""
        ...


class VoiceActivity(Protocol):
    window: int  # samples per probability (at 16 kHz)

    async def speech_probabilities(self, audio: Samples) -> npt.NDArray[np.float32]:
        """One speech probability per `window` samples of a whole clip."""
        ...

    def stream(self) -> VoiceStream:
        """A detector for one live stream."""
        ...

    async def aclose(self) -> None: ...


class SentimentAnalyzer(Protocol):
    name: str

    async def analyze(self, text: str, *, language: Language) -> SentimentScore: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Warmable(Protocol):
    """An LLM that can evaluate a prompt ahead of time, so that a reply that starts with it
    does not wait for it to be read (local models; a cloud LLM has nothing to warm)."""

    async def warm(self, messages: Sequence[ChatMessage], *, all_cores: bool = False) -> None: ...


@runtime_checkable
class Loadable(Protocol):
    """A model that can load its weights now instead of on its first use."""

    async def load(self) -> None: ...
