"""Korean speech on this machine (and English as a fallback): espeak-ng through ctypes.

libespeak-ng and its data, Korean dictionary (`ko_dict`) included, come from the espeakng-loader
package. espeak-ng keeps all its state in process globals and is not thread-safe, so the process
has exactly one engine, `_ENGINE`: loaded and initialised once (AUDIO_OUTPUT_SYNCHRONOUS, the
synth callback collecting the PCM) and only ever called on its own thread, a one-worker executor
that every `EspeakTTS` shares. Concurrent syntheses therefore queue; espeak-ng is fast enough
(a sentence in 1-3 ms, RTF ~0.002) that the wait is negligible.

Text is cut into sentences (`SentenceSplitter`); each is one `espeak_Synth` call and one chunk,
handed over as soon as it is made. The callback answers "abort" once the stream's stop flag is
set, so closing the stream stops espeak-ng within one 60 ms buffer of audio.

Piper's own phonemizer embeds a separate, statically linked espeak-ng; both load privately
(RTLD_LOCAL), so they share no state and can be used side by side.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import espeakng_loader
import numpy as np

from parley.ai.base import AudioChunk, Language, Pcm16
from parley.ai.local.workers import model_worker
from parley.ai.streaming import stream_from_thread
from parley.ai.text import SentenceSplitter
from parley.errors import AIProviderError, InvalidInputError, ParleyError

T = TypeVar("T")
PROVIDER = "tts:local"
BASE_VOICES = {Language.KOREAN: "ko", Language.ENGLISH: "en-us"}
# espeak-ng voice variants (espeak-ng-data/voices/!v): "ko+f3" is Korean spoken by variant f3.
VARIANTS = ("f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7")
RATE_NORMAL, RATE_RANGE = 175, (80, 450)  # words per minute
PITCH_NORMAL, PITCH_RANGE = 50, (0, 100)

# speak_lib.h (API revision 12)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data directory calls exit()
_BUFFER_MS = 60  # audio per callback
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # keep the pause that ends a sentence
_PHONEMES_IPA = 0x02
_RATE, _PITCH = 1, 3  # espeak_PARAMETER
_EE_OK = 0
_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    """The process's one espeak-ng. Every method but `__init__` runs on `executor`'s thread."""

    def __init__(self) -> None:
        self.executor = model_worker("tts-espeak")
        self.sample_rate = 0
        self._lib: Any = None
        self._voice: str | None = None
        self._callback = _SynthCallback(self._on_audio)  # must outlive every espeak_Synth
        self._pcm: list[Pcm16] = []
        self._stop: threading.Event | None = None
        self._error: BaseException | None = None

    def ensure(self) -> Any:
        if self._lib is not None:
            return self._lib
        data = Path(espeakng_loader.get_data_path())
        if not (data / "ko_dict").is_file():
            raise AIProviderError(f"espeak-ng data in {data} has no ko_dict.", provider=PROVIDER)
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, bytes(data), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise AIProviderError(f"espeak-ng failed to initialise from {data}.", provider=PROVIDER)
        lib.espeak_SetSynthCallback(self._callback)
        self.sample_rate = rate
        self._lib = lib
        return lib

    def speak(
        self, text: str, voice: str, rate: int, pitch: int, stop: threading.Event, end_pause: bool
    ) -> Pcm16:
        """The audio of `text`; cut short (and not to be used) if `stop` is set meanwhile."""
        lib = self._use_voice(voice)
        lib.espeak_SetParameter(_RATE, rate, 0)
        lib.espeak_SetParameter(_PITCH, pitch, 0)
        data = text.encode("utf-8") + b"\0"
        flags = _CHARS_UTF8 | (_ENDPAUSE if end_pause else 0)
        self._pcm, self._stop, self._error = [], stop, None
        try:
            status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, flags, None, None)
            if self._error is not None:
                raise self._error
            if status != _EE_OK:
                raise AIProviderError(f"espeak_Synth returned {status}.", provider=PROVIDER)
            return np.concatenate(self._pcm) if self._pcm else np.zeros(0, np.int16)
        finally:
            self._pcm, self._stop, self._error = [], None, None

    def phonemes(self, text: str, voice: str) -> str:
        """IPA, a clause per space-separated group, as espeak-ng reads `text` with `voice`."""
        lib = self._use_voice(voice)
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        cursor = ctypes.c_void_p(ctypes.addressof(buffer))  # espeak-ng advances it, then NULLs it
        clauses: list[str] = []
        for _ in range(len(buffer)):
            if not cursor.value:
                break
            ipa = lib.espeak_TextToPhonemes(ctypes.byref(cursor), _CHARS_UTF8, _PHONEMES_IPA)
            if ipa:
                clauses.append(ipa.decode("utf-8", "replace"))
        return " ".join(clauses)

    def _use_voice(self, voice: str) -> Any:
        lib = self.ensure()
        if voice != self._voice:
            status = lib.espeak_SetVoiceByName(voice.encode("ascii"))
            if status != _EE_OK:
                raise AIProviderError(
                    f"espeak-ng has no voice '{voice}' (status {status}).", provider=PROVIDER
                )
            self._voice = voice
        return lib

    def _on_audio(self, wav: Any, count: int, _events: Any) -> int:
        """Called by espeak_Synth, on the same thread, per buffer: 0 continues, 1 aborts."""
        try:
            if wav and count > 0:
                self._pcm.append(np.ctypeslib.as_array(wav, shape=(count,)).astype(np.int16))
            return 1 if self._stop is not None and self._stop.is_set() else 0
        except BaseException as exc:  # nothing may escape into C: hand it to `speak`
            self._error = exc
            return 1


_ENGINE = _Engine()


def _sentences(text: str) -> list[str]:
    never = len(text) + 1  # cut at sentence ends only; espeak-ng handles clauses itself
    splitter = SentenceSplitter(clause_chars=never, first_clause_chars=never)
    pieces = splitter.feed(text.replace("\0", " "))  # a NUL would end the C string early
    rest = splitter.flush()
    return [*pieces, rest] if rest else pieces


def _installed_variants() -> tuple[str, ...]:
    try:
        variants = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    except RuntimeError:
        return ()
    return tuple(v for v in VARIANTS if (variants / v).is_file())


class EspeakTTS:
    """`TextToSpeech` with espeak-ng: Korean ("ko", "ko+f3", ...) and English ("en-us", ...).

    `rate` is in words per minute (espeak-ng's default 175), `pitch` 0-100 (50 is the voice's
    own). Instances are light handles on the shared engine; `aclose()` leaves it running for the
    other handles (it holds no more than the loaded library and one idle thread).
    """

    def __init__(self, *, rate: int = RATE_NORMAL, pitch: int = PITCH_NORMAL) -> None:
        if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
            raise ValueError(f"rate must be within {RATE_RANGE} words per minute, not {rate}")
        if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
            raise ValueError(f"pitch must be within {PITCH_RANGE}, not {pitch}")
        self.name = "espeak-ng"
        self._rate = rate
        self._pitch = pitch
        variants = _installed_variants()
        self._voices = {
            language: [base, *(f"{base}+{variant}" for variant in variants)]
            for language, base in BASE_VOICES.items()
        }

    def voices(self) -> dict[Language, list[str]]:
        return {language: list(names) for language, names in self._voices.items()}

    async def load(self) -> None:
        """Load and initialise libespeak-ng now (on its thread) rather than on first use."""
        await self._on_engine(_ENGINE.ensure)

    def synthesize(
        self, text: str, *, language: Language, voice: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Speech for `text`, a chunk per sentence. An unknown voice raises `InvalidInputError`
        here, before anything runs."""
        return self._stream(text, self._voice(language, voice))

    async def phonemize(self, text: str, *, language: Language, voice: str | None = None) -> str:
        """The IPA espeak-ng speaks for `text`: shows which dictionary read it (for checks)."""
        name = self._voice(language, voice)
        return await self._on_engine(lambda: _ENGINE.phonemes(text, name))

    async def aclose(self) -> None:
        return None

    def _voice(self, language: Language, voice: str | None) -> str:
        names = self._voices.get(language, [])
        name = voice or BASE_VOICES[language]
        if name not in names:
            raise InvalidInputError(
                f"Unknown {language.name.lower()} voice '{name}'; available: {', '.join(names)}.",
                code="UNKNOWN_VOICE",
                voice=name,
                available=names,
            )
        return name

    async def _on_engine(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(_ENGINE.executor, work)
        except ParleyError:
            raise
        except Exception as exc:
            raise AIProviderError(f"espeak-ng failed: {exc}", provider=PROVIDER) from exc

    async def _stream(self, text: str, voice: str) -> AsyncGenerator[AudioChunk, None]:
        sentences = _sentences(text)
        if not sentences:
            return

        def produce(stop: threading.Event) -> Iterator[AudioChunk]:
            for index, sentence in enumerate(sentences):
                if stop.is_set():
                    return
                last = index == len(sentences) - 1
                pcm = _ENGINE.speak(sentence, voice, self._rate, self._pitch, stop, not last)
                if stop.is_set():
                    return
                if len(pcm):
                    yield AudioChunk(pcm=pcm, sample_rate=_ENGINE.sample_rate)

        stream = stream_from_thread(_ENGINE.executor, produce, provider=PROVIDER)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()  # stops the worker now, not when the stream is collected
