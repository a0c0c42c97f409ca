"""Words in, speech out: the LLM's reply streamed into sentences and each sentence into speech,
as typed events; shared by the live call and the one-shot exchange (`conversation/process`).

    messages ─▶ LLM ─▶ TextDelta ... ─▶ SentenceSplitter ─▶ TTS ─▶ SentenceAudio ... ─▶ Replied
                 └ Timed(llm_first_token)   └ Timed(llm_first_clause)  └ Timed(tts_first_chunk)
    a provider's failure: Failed(error), the last event

A sentence is spoken as soon as it is complete (or its first clause, see `SentenceSplitter`),
while the LLM goes on, so the first audio does not wait for the whole reply; the live call
queues each chunk on its track as it comes, the one-shot exchange joins them into one clip.
Failures come as an event, not an exception, so that a consumer that has already spoken part of
the reply decides what the caller hears next (the live call apologizes; the one-shot raises).
The prompt is built elsewhere (`ConversationService.messages_for`), once for both paths.

Its providers are the `parley.ai.base` Protocols, so it is unit-tested with small in-test fakes
(`tests/calls/test_responder.py`). Speech comes at `rate` (48 kHz for a WebRTC track) or, with
`rate=None`, at the voice's own rate.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import av
import numpy as np

from parley.ai.audio import trim_leading_silence
from parley.ai.base import (
    AudioChunk,
    ChatMessage,
    Language,
    LanguageModel,
    Pcm16,
    Samples,
    SpeechToText,
    TextToSpeech,
    Transcript,
)
from parley.ai.text import PhoneReply, SentenceSplitter, speakable
from parley.calls.domain import Stage
from parley.calls.phrases import PhraseCache
from parley.errors import ParleyError


@dataclass(frozen=True, slots=True)
class Timed:
    """A stage of this reply took `ms` milliseconds."""

    stage: Stage
    ms: float


@dataclass(frozen=True, slots=True)
class TextDelta:
    """The next piece of the reply as the caller hears it (a clause or a sentence, cleaned and
    held to the phone's shape by `PhoneReply`); the pieces join with a space."""

    text: str


@dataclass(frozen=True, slots=True)
class SentenceAudio:
    """A chunk of the speech of sentence `index` (counting the sentences that have speech)."""

    index: int
    sentence: str
    audio: AudioChunk


@dataclass(frozen=True, slots=True)
class Replied:
    """The reply is complete: `text` is all the LLM said."""

    text: str


@dataclass(frozen=True, slots=True)
class Failed:
    error: ParleyError


T = TypeVar("T")
ReplyEvent = Timed | TextDelta | SentenceAudio | Replied | Failed


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


class _Run:
    """The running figures of one reply."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.started = clock()
        self.clauses = 0
        self.voiced = 0  # sentences that have speech
        self.tts_s = 0.0

    def since_start(self) -> float:
        return ms(self.clock() - self.started)


class Responder:
    def __init__(
        self,
        stt: SpeechToText,
        llm: LanguageModel,
        tts: TextToSpeech,
        *,
        max_tokens: int,
        voice: str | None = None,
        rate: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        shape: Callable[[Language], PhoneReply] | None = None,
        phrases: PhraseCache | None = None,
    ) -> None:
        self._stt, self._llm, self._tts = stt, llm, tts
        self._shape = shape or (lambda _: PhoneReply())
        self._phrases = phrases if phrases is not None else PhraseCache()
        self._max_tokens = max_tokens
        self._voice = voice
        self._rate = rate
        self._clock = clock

    async def transcribe(self, audio: Samples, *, language: Language | None) -> Transcript:
        return await self._stt.transcribe(audio, language=language)

    async def reply(
        self, messages: Sequence[ChatMessage], *, language: Language
    ) -> AsyncGenerator[ReplyEvent, None]:
        """The reply to `messages`, spoken in `language`, as it is generated and voiced."""
        try:
            async with aclosing(self._reply(messages, language)) as events:
                async for event in events:
                    yield event
        except ParleyError as exc:
            yield Failed(exc)

    async def _reply(
        self, messages: Sequence[ChatMessage], language: Language
    ) -> AsyncGenerator[ReplyEvent, None]:
        run = _Run(self._clock)
        shaper = self._shape(language)
        text, first = "", True
        async with _closing(
            self._llm.stream_reply(messages, max_tokens=self._max_tokens)
        ) as pieces:
            async for piece in pieces:
                if first:
                    yield Timed(Stage.LLM_FIRST_TOKEN, run.since_start())
                    first = False
                for sentence in shaper.feed(piece):
                    text = f"{text} {sentence}" if text else sentence
                    yield TextDelta(sentence)
                    async with aclosing(self._sentence(run, sentence, language)) as events:
                        async for event in events:
                            yield event
                if shaper.done:  # the sentence limit: the model stops here (closing the stream)
                    break
        yield Timed(Stage.LLM, run.since_start())
        for sentence in shaper.flush():
            text = f"{text} {sentence}" if text else sentence
            yield TextDelta(sentence)
            async with aclosing(self._sentence(run, sentence, language)) as events:
                async for event in events:
                    yield event
        yield Timed(Stage.TTS, ms(run.tts_s))
        yield Replied(text)

    async def _sentence(
        self, run: _Run, sentence: str, language: Language
    ) -> AsyncGenerator[Timed | SentenceAudio, None]:
        if run.clauses == 0:
            yield Timed(Stage.LLM_FIRST_CLAUSE, run.since_start())
        run.clauses += 1
        text = speakable(sentence)
        if not text:
            return
        index: int | None = None  # once the sentence has audio
        started = self._clock()
        async with aclosing(_timed(self.speak(text, language=language), run)) as chunks:
            async for audio in chunks:
                if index is None:
                    if run.voiced == 0:
                        yield Timed(Stage.TTS_FIRST_CHUNK, ms(self._clock() - started))
                    index, run.voiced = run.voiced, run.voiced + 1
                yield SentenceAudio(index, text, audio)

    async def phrase(self, text: str, *, language: Language) -> tuple[AudioChunk, ...]:
        """The speech of a fixed line (an acknowledgement, a request to repeat), from the cache
        when this voice has said it before."""
        key = (self._tts.name, self._voice or "", language.value, text, self._rate or 0)
        if (cached := self._phrases.get(key)) is not None:
            return cached
        async with aclosing(self.speak(text, language=language)) as chunks:
            audio = tuple([chunk async for chunk in chunks])
        self._phrases.put(key, audio)
        return audio

    async def recite(self, text: str, *, language: Language) -> AsyncGenerator[ReplyEvent, None]:
        """A fixed line as the reply, without the LLM (the request to repeat): at once, from
        the phrase cache."""
        try:
            audio = await self.phrase(text, language=language)
        except ParleyError as exc:
            yield Failed(exc)
            return
        yield TextDelta(text)
        for chunk in audio:
            yield SentenceAudio(0, text, chunk)
        yield Replied(text)

    async def say(self, text: str, *, language: Language) -> AsyncGenerator[SentenceAudio, None]:
        """A text of our own (the greeting), sentence by sentence, so that a barge-in keeps the
        sentences heard in full."""
        splitter = SentenceSplitter()
        run = _Run(self._clock)
        run.clauses = 1  # not the LLM's: no clause to time
        for sentence in filter(None, [*splitter.feed(text + " "), splitter.flush()]):
            async with aclosing(self._sentence(run, sentence, language)) as events:
                async for event in events:
                    if isinstance(event, SentenceAudio):
                        yield event

    async def speak(self, text: str, *, language: Language) -> AsyncGenerator[AudioChunk, None]:
        """The speech for `text` at the responder's rate, without the voice's leading quiet."""
        rate, resampler = self._rate, None
        if rate is not None:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        first = True
        async with _closing(
            self._tts.synthesize(text, language=language, voice=self._voice)
        ) as chunks:
            async for chunk in chunks:
                if resampler is not None and rate is not None:
                    chunk = AudioChunk(_resample(resampler, chunk), rate)
                if first:
                    pcm = trim_leading_silence(chunk.pcm, chunk.sample_rate)
                    chunk, first = AudioChunk(pcm, chunk.sample_rate), False
                yield chunk
        if resampler is not None and rate is not None:
            yield AudioChunk(_join(resampler.resample(None)), rate)


async def _timed(
    chunks: AsyncGenerator[AudioChunk, None], run: _Run
) -> AsyncGenerator[AudioChunk, None]:
    """`chunks`, adding the time spent waiting for each (the voice's, not the consumer's) to
    the run's synthesis time."""
    async with aclosing(chunks):
        while True:
            asked = run.clock()
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            finally:
                run.tts_s += run.clock() - asked
            yield chunk


@asynccontextmanager
async def _closing(items: AsyncIterator[T]) -> AsyncGenerator[AsyncIterator[T], None]:
    """`items`, closed on the way out when it is a generator (providers' streams are): closing
    stops the model's work at once, e.g. the LLM's after a barge-in, instead of at collection."""
    try:
        yield items
    finally:
        if isinstance(items, AsyncGenerator):
            await items.aclose()


def _resample(resampler: av.AudioResampler, chunk: AudioChunk) -> Pcm16:
    frame = av.AudioFrame.from_ndarray(chunk.pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = chunk.sample_rate
    return _join(resampler.resample(frame))


def _join(frames: list[av.AudioFrame]) -> Pcm16:
    if not frames:
        return np.zeros(0, np.int16)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)
