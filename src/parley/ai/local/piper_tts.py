"""English speech on this machine: Piper (VITS on ONNX Runtime) with the en_US "joe" voice.

Piper phonemizes the whole text with its embedded espeak-ng (about a millisecond) and then runs
the model one sentence at a time, so the first sentence's audio is handed over as soon as that
sentence is synthesized (~0.1 s for a short sentence on two cores, RTF ~0.05), not when the
whole reply is. Everything, loading included, runs on the provider's single worker thread:
syntheses queue instead of fighting over the cores, and the event loop never waits. Closing the
stream early stops the work before the next sentence; the one being synthesized, if any,
finishes first (one ONNX run cannot be interrupted from Python, ~0.1 s).

The model runs on one ONNX Runtime thread that does not spin. Piper's default (a thread per core,
spinning while it waits) is faster on an idle machine, but a reply's first clause is synthesized
while the LLM generates the rest on the other core: there, a 10-word sentence took 350–535 ms
with the default and 307–341 ms with one quiet thread (and the LLM's thread is not preempted).

`length_scale` is Piper's speaking rate: phoneme durations are multiplied by it, so 1.2 speaks
20 % slower and 0.8 20 % faster; None keeps the voice's own (1.0 for joe).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from parley.ai import assets
from parley.ai.base import AudioChunk, Language
from parley.ai.local.workers import model_worker
from parley.ai.streaming import stream_from_thread
from parley.errors import AIProviderError, InvalidInputError

if TYPE_CHECKING:
    from piper import PiperVoice

PROVIDER = "tts:local"
VOICES: dict[str, assets.PackagedFile] = {"joe": assets.PIPER_JOE}
DEFAULT_VOICE = "joe"
LENGTH_SCALE_RANGE = (0.25, 4.0)


class PiperTTS:
    """`TextToSpeech` for English with Piper voices; one chunk per sentence."""

    def __init__(
        self, *, length_scale: float | None = None, default_voice: str = DEFAULT_VOICE
    ) -> None:
        low, high = LENGTH_SCALE_RANGE
        if length_scale is not None and not low <= length_scale <= high:
            raise ValueError(f"length_scale must be within [{low}, {high}], not {length_scale}")
        if default_voice not in VOICES:
            raise _unknown_voice(default_voice)
        self.name = f"piper ({default_voice})"
        self._length_scale = length_scale
        self._default_voice = default_voice
        self._executor = model_worker("tts-piper")
        self._voices: dict[str, PiperVoice] = {}  # loaded on the worker thread only

    def voices(self) -> dict[Language, list[str]]:
        return {Language.ENGLISH: list(VOICES)}

    async def load(self) -> None:
        """Load the default voice now (on the worker thread) rather than on first use."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._ensure_voice, self._default_voice)
        except Exception as exc:
            raise AIProviderError(
                f"Loading the Piper voice failed: {exc}", provider=PROVIDER
            ) from exc

    def synthesize(
        self, text: str, *, language: Language, voice: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Speech for `text`, a chunk per sentence. An unknown voice or a language other than
        English raises `InvalidInputError` here, before anything runs."""
        if language is not Language.ENGLISH:
            raise InvalidInputError(
                f"Piper speaks English only, not '{language.value}'.",
                code="UNSUPPORTED_LANGUAGE",
                language=language.value,
            )
        name = voice or self._default_voice
        if name not in VOICES:
            raise _unknown_voice(name)
        return self._stream(text, name)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._voices.clear()

    async def _stream(self, text: str, voice: str) -> AsyncGenerator[AudioChunk, None]:
        if not text.strip():
            return

        def produce(stop: threading.Event) -> Iterator[AudioChunk]:
            return self._synthesize(text, voice, stop)

        stream = stream_from_thread(self._executor, produce, provider=PROVIDER)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()  # stops the worker now, not when the stream is collected

    # On the worker thread.

    def _ensure_voice(self, name: str) -> PiperVoice:
        voice = self._voices.get(name)
        if voice is None:
            from piper import PiperVoice

            model = VOICES[name].locate()
            voice = PiperVoice.load(model, config_path=model.with_name(model.name + ".json"))
            voice.session = _quiet_session(model)
            self._voices[name] = voice
        return voice

    def _synthesize(self, text: str, name: str, stop: threading.Event) -> Iterator[AudioChunk]:
        from piper import SynthesisConfig

        voice = self._ensure_voice(name)
        config = SynthesisConfig(length_scale=self._length_scale)
        sentences = iter(voice.synthesize(text, syn_config=config))  # ONNX runs on each next()
        try:
            for sentence in sentences:
                pcm = np.ascontiguousarray(sentence.audio_int16_array, dtype=np.int16).reshape(-1)
                if len(pcm):
                    yield AudioChunk(pcm=pcm, sample_rate=int(sentence.sample_rate))
                if stop.is_set():
                    return
        finally:
            if isinstance(sentences, Generator):
                sentences.close()


def _unknown_voice(name: str) -> InvalidInputError:
    return InvalidInputError(
        f"Unknown English voice '{name}'; available: {', '.join(VOICES)}.",
        code="UNKNOWN_VOICE",
        voice=name,
        available=list(VOICES),
    )


def _quiet_session(model: Path) -> Any:
    """An ONNX Runtime session on one thread that sleeps, not spins, while it waits."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
