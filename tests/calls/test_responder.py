"""The responder alone: small fake providers (the `parley.ai.base` Protocols) that take time on
a fake clock, so the stage timings are exact, in ms."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from parley.ai.base import AudioChunk, ChatMessage, Confidence, Language, Samples, Transcript
from parley.calls.domain import Stage
from parley.calls.responder import (
    Failed,
    Replied,
    ReplyEvent,
    Responder,
    SentenceAudio,
    TextDelta,
    Timed,
)
from parley.errors import AIProviderError

ASKED = [ChatMessage("system", "Be brief."), ChatMessage("user", "Where is my parcel?")]


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeLLM:
    """Says `pieces`, one every `token_s`; fails after `fail_after` of them."""

    clock: Clock
    pieces: list[str]
    token_s: float = 0.05
    fail_after: int | None = None
    closed: bool = False
    given: int = 0  # pieces generated
    name: str = "fake-llm"

    async def stream_reply(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, all_cores: bool = False
    ) -> AsyncIterator[str]:
        try:
            for n, piece in enumerate(self.pieces):
                if n == self.fail_after:
                    raise AIProviderError("The llm:fake provider failed", provider="llm:fake")
                self.clock.now += self.token_s
                self.given += 1
                yield piece
        finally:
            self.closed = True

    async def aclose(self) -> None:
        pass


@dataclass
class FakeTTS:
    """Two chunks per text, 0.1 s of sound each after 20 ms of quiet, `chunk_s` apart."""

    clock: Clock
    chunk_s: float = 0.03
    rate: int = 16_000
    fail_on: str | None = None
    spoken: list[str] = field(default_factory=list)
    name: str = "fake-tts"

    async def synthesize(
        self, text: str, *, language: Language, voice: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        if text == self.fail_on:
            raise AIProviderError("The tts:fake provider failed", provider="tts:fake")
        self.spoken.append(text)
        for _ in range(2):
            self.clock.now += self.chunk_s
            quiet = np.zeros(int(0.02 * self.rate), np.int16)
            loud = np.full(int(0.1 * self.rate), 3000, np.int16)
            yield AudioChunk(np.concatenate([quiet, loud]), self.rate)

    def voices(self) -> dict[Language, list[str]]:
        return {}

    async def aclose(self) -> None:
        pass


@dataclass
class FakeSTT:
    text: str
    name: str = "fake-stt"
    confidence: Confidence | None = None

    async def transcribe(self, audio: Samples, *, language: Language | None) -> Transcript:
        duration = len(audio) / 16_000
        return Transcript(self.text, language or Language.ENGLISH, duration, self.confidence)

    async def aclose(self) -> None:
        pass


def responder(llm: FakeLLM, tts: FakeTTS, rate: int | None = None) -> Responder:
    return Responder(
        FakeSTT("Where is my parcel?"), llm, tts, max_tokens=64, rate=rate, clock=llm.clock
    )


async def reply(responder: Responder) -> list[ReplyEvent]:
    return [event async for event in responder.reply(ASKED, language=Language.ENGLISH)]


def shape(events: list[ReplyEvent]) -> list[str]:
    names = []
    for event in events:
        if isinstance(event, Timed):
            names.append(f"{event.stage.value}={event.ms:g}")
        elif isinstance(event, TextDelta):
            names.append(f"text {event.text!r}")
        elif isinstance(event, SentenceAudio):
            names.append(f"audio {event.index} {event.sentence!r}")
        else:
            names.append(type(event).__name__)
    return names


async def test_a_reply_streams_text_then_each_sentence_s_speech_with_its_timings() -> None:
    clock = Clock()
    llm = FakeLLM(clock, ["Sure,", " it ships", " **today**.", " Anything else?"])
    tts = FakeTTS(clock)
    events = await reply(responder(llm, tts))
    assert shape(events) == [
        "llm_first_token=50",
        "text 'Sure,'",
        "llm_first_clause=50",  # "Sure," goes at once: the caller waits for the first words
        "tts_first_chunk=30",
        "audio 0 'Sure,'",
        "audio 0 'Sure,'",
        "text 'it ships today.'",  # what the caller hears, as it is ready: no markdown
        "audio 1 'it ships today.'",
        "audio 1 'it ships today.'",
        "llm=320",
        "text 'Anything else?'",
        "audio 2 'Anything else?'",
        "audio 2 'Anything else?'",
        "tts=180",  # six chunks of 30 ms: the voice's time, not the LLM's
        "Replied",
    ]
    assert isinstance(events[-1], Replied)
    assert events[-1].text == "Sure, it ships today. Anything else?"
    assert tts.spoken == ["Sure,", "it ships today.", "Anything else?"]


async def test_each_sentence_s_leading_quiet_is_trimmed_and_speech_comes_at_the_track_rate() -> (
    None
):
    clock = Clock()
    events = await reply(responder(FakeLLM(clock, ["Fine."]), FakeTTS(clock), rate=48_000))
    audio = [event.audio for event in events if isinstance(event, SentenceAudio)]
    assert {chunk.sample_rate for chunk in audio} == {48_000}

    def onset(chunk: AudioChunk) -> float:
        return float(np.flatnonzero(np.abs(chunk.pcm) > 1000)[0] / chunk.sample_rate)

    assert 0.005 < onset(audio[0]) < 0.015  # 10 ms of its 20 ms of quiet are kept
    total = sum(len(chunk.pcm) for chunk in audio) / 48_000  # the resampler's tail flushed too
    assert abs(total - (2 * 0.12 - 0.01)) < 0.002  # only the first chunk's quiet, to 10 ms


async def test_a_failing_llm_ends_the_reply_with_failed_and_stops_its_stream() -> None:
    clock = Clock()
    llm = FakeLLM(clock, ["I can help.", " One moment", " please."], fail_after=2)
    tts = FakeTTS(clock)
    events = await reply(responder(llm, tts))
    assert isinstance(events[-1], Failed)
    assert events[-1].error.code == "AI_PROVIDER_FAILED"
    assert not [e for e in events if isinstance(e, Replied)]
    assert tts.spoken == ["I can help."]  # what was complete before the failure was spoken
    assert llm.closed


async def test_a_failing_voice_ends_the_reply_with_failed() -> None:
    clock = Clock()
    llm = FakeLLM(clock, ["Hello there.", " How are you?"])
    events = await reply(responder(llm, FakeTTS(clock, fail_on="Hello there.")))
    assert [type(e) for e in events][-1] is Failed
    assert not [e for e in events if isinstance(e, SentenceAudio)]
    assert llm.closed  # the LLM is stopped with the reply


async def test_a_reply_closed_early_stops_the_llm() -> None:
    """A barge-in closes the reply: the LLM's stream is closed at once, not at collection."""
    clock = Clock()
    llm = FakeLLM(clock, ["One.", " Two.", " Three.", " Four."])
    events = responder(llm, FakeTTS(clock)).reply(ASKED, language=Language.ENGLISH)
    async for event in events:
        if isinstance(event, SentenceAudio):
            break
    await events.aclose()
    assert llm.closed


async def test_a_reply_is_held_to_two_sentences_and_the_llm_stopped_there() -> None:
    """A small model that writes a list or a paragraph is cut at the sentence limit: the third
    sentence is neither spoken nor generated, and no list marker or AI talk is read out."""
    clock = Clock()
    pieces = ["As an AI language model,", " I can help.", " Steps:\n", "1. Open", " settings\n"]
    pieces += ["2. Click", " reset\n", "3. Check", " your email."]
    llm = FakeLLM(clock, pieces)
    tts = FakeTTS(clock)
    events = await reply(responder(llm, tts))
    assert isinstance(events[-1], Replied)
    assert events[-1].text == "I can help. Steps: Open settings."
    assert tts.spoken == ["I can help.", "Steps: Open settings."]
    assert llm.closed
    assert llm.given < len(pieces)


async def test_our_own_text_is_said_sentence_by_sentence() -> None:
    clock = Clock()
    tts = FakeTTS(clock)
    voice = responder(FakeLLM(clock, []), tts)
    said = [
        (event.index, event.sentence)
        async for event in voice.say("Hello! How can I help?", language=Language.ENGLISH)
    ]
    assert said == [(0, "Hello!"), (0, "Hello!"), (1, "How can I help?"), (1, "How can I help?")]


def test_stage_names_are_the_stored_vocabulary() -> None:
    assert {stage.value for stage in Stage} >= {
        "stt",
        "end_of_turn",
        "llm_first_token",
        "llm_first_clause",
        "tts_first_chunk",
        "voice_to_voice",
        "llm",
        "tts",
        "total",
        "vad",
    }
