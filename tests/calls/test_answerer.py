"""A live call's answering side without WebRTC or models: the turn taker's decisions applied by
the `Answerer` with fake providers, a real `SpeechTrack` played out in real time, and storage in
SQLite. Proves the wiring the end-to-end tests prove with real models, in about a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from parley.ai.base import ChatMessage, Confidence, Language, Sentiment, SentimentScore
from parley.ai.turns import TurnConfig
from parley.calls.answerer import Answerer
from parley.calls.conversation import ConversationService
from parley.calls.domain import Call, Role, Stage
from parley.calls.events import CallEvent, MoodFound, Speaker, Transcribed, Trouble, TurnTimed
from parley.calls.phrases import REPEAT_REQUESTS
from parley.calls.recorder import Recorder
from parley.calls.responder import Responder
from parley.calls.service import CallService
from parley.calls.speech import Speaking, Speech
from parley.calls.turn_taker import Answer, Attempt, BargeIn, Commit, Piece, TurnTaker
from parley.rtc.speech_track import SpeechTrack
from parley.storage.db import Database
from parley.storage.stores import SqlCallStore
from parley.tasks import TaskSet
from tests.calls.test_responder import Clock, FakeLLM, FakeSTT, FakeTTS


@dataclass
class Events:
    seen: list[CallEvent] = field(default_factory=list)

    async def report(self, event: CallEvent) -> None:
        self.seen.append(event)

    def lines(self) -> list[tuple[str, int, str, bool]]:
        return [
            (e.speaker.value, e.turn, e.text, e.final)
            for e in self.seen
            if isinstance(e, Transcribed)
        ]


class Mood:
    name = "fake-sentiment"

    async def analyze(self, text: str, *, language: Language) -> SentimentScore:
        return SentimentScore(Sentiment.NEUTRAL, 0.5)

    async def aclose(self) -> None:
        pass


@dataclass
class Rig:
    call: Call
    calls: CallService
    answerer: Answerer
    speech: Speech
    events: Events
    llm: FakeLLM
    tasks: TaskSet
    tts: FakeTTS

    def attempt(self, turn: int = 1, earlier: tuple[Piece, ...] = ()) -> Attempt:
        audio = np.zeros(16_000, np.float32)
        return Attempt(turn, time.monotonic(), Piece(audio, f"stt-{turn}"), earlier)

    async def until(self, test: type, within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while not any(isinstance(e, test) for e in self.events.seen):
            assert time.monotonic() < deadline, self.events.seen
            await asyncio.sleep(0.01)


def quiet(speech: Speech) -> bool:
    return not speech.busy


@pytest.fixture
async def calls(tmp_path: Path) -> AsyncIterator[CallService]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'answers.db'}")
    await database.upgrade()
    store = SqlCallStore(database)
    yield CallService(store, store)
    await database.aclose()


@dataclass
class SlowLLM(FakeLLM):
    """Thinks for `think_s` of real time before its first piece."""

    think_s: float = 0.3

    async def stream_reply(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, all_cores: bool = False
    ) -> AsyncIterator[str]:
        await asyncio.sleep(self.think_s)
        async for piece in super().stream_reply(messages, max_tokens=max_tokens):
            yield piece


async def rig(
    calls: CallService,
    llm_pieces: list[str],
    fail_after: int | None = None,
    *,
    think_s: float = 0.0,
    heard: FakeSTT | None = None,
) -> Rig:
    call = await calls.initiate("01012345678")
    clock = Clock()  # the fakes' time; the answer's own stages are on the real clock
    llm = SlowLLM(clock, llm_pieces, token_s=0.0, fail_after=fail_after, think_s=think_s)
    tts = FakeTTS(clock)
    events, tasks, track = Events(), TaskSet("test-call"), SpeechTrack()
    taker = TurnTaker(TurnConfig())
    speaking = Speaking(call, Language.ENGLISH, None, legacy_audio_event=False)
    stt = heard or FakeSTT("Where is my parcel?")
    responder = Responder(stt, llm, tts, max_tokens=32, rate=48_000)
    recorder = Recorder(calls, Mood(), call.id, Language.ENGLISH)
    speech = Speech(
        speaking, voice=responder, recorder=recorder, events=events, track=track, taker=taker
    )
    conversation = ConversationService(
        calls,
        None,  # type: ignore[arg-type]  # building prompts needs no engine
        history_turns=6,
        max_tokens=32,
        default_language=Language.ENGLISH,
    )
    answerer = Answerer(
        speaking,
        speech=speech,
        responder=responder,
        llm=llm,
        recorder=recorder,
        conversation=conversation,
        taker=taker,
        tasks=tasks,
    )

    async def listen() -> None:  # the caller's side of the track, in real time
        while True:
            await track.recv()

    tasks.start(listen(), "ear")
    return Rig(call, calls, answerer, speech, events, llm, tasks, tts)


async def test_a_committed_turn_is_shown_spoken_stored_and_timed(calls: CallService) -> None:
    rig_ = await rig(calls, ["Sure,", " it ships", " today."])
    attempt = rig_.attempt()
    rig_.answerer.apply(Answer(attempt))  # speculative: nothing may show yet
    await asyncio.sleep(0.3)
    assert rig_.events.lines() == [("caller", 1, "Where is my parcel?", False)]
    attempt.committed_at = time.monotonic()
    rig_.answerer.apply(Commit(attempt))
    await rig_.until(TurnTimed)
    lines = rig_.events.lines()
    assert lines[1] == ("caller", 1, "Where is my parcel?", True)
    assert lines[-1] == ("ai", 1, "Sure, it ships today.", True)
    [timed] = [e for e in rig_.events.seen if isinstance(e, TurnTimed)]
    assert {"stt", "end_of_turn", "llm_first_token", "tts_first_chunk", "voice_to_voice"} <= {
        stage.value for stage in timed.stages
    }
    assert any(isinstance(e, MoodFound) for e in rig_.events.seen)
    turns = await calls.recent_turns(rig_.call.id, 10)
    assert [(t.role, t.text) for t in turns] == [
        (Role.USER, "Where is my parcel?"),
        (Role.ASSISTANT, "Sure, it ships today."),
    ]
    assert turns[1].latency_ms is not None
    assert "voice_to_voice" in turns[1].latency_ms
    assert quiet(rig_.speech)
    await rig_.tasks.aclose()


async def test_a_failing_llm_is_told_and_apologized_for_and_stores_nothing(
    calls: CallService,
) -> None:
    rig_ = await rig(calls, ["Sure,", " one", " moment."], fail_after=0)
    attempt = rig_.attempt()
    attempt.committed_at = time.monotonic()
    rig_.answerer.apply(Answer(attempt))
    rig_.answerer.apply(Commit(attempt))
    await rig_.until(Trouble)
    [trouble] = [e for e in rig_.events.seen if isinstance(e, Trouble)]
    assert trouble.error.code == "AI_PROVIDER_FAILED"
    assert not quiet(rig_.speech)  # the apology is playing
    assert await calls.recent_turns(rig_.call.id, 10) == []
    assert rig_.events.lines()[-1] == ("caller", 1, "Where is my parcel?", True)
    await rig_.tasks.aclose()


async def test_a_barge_in_before_a_word_was_heard_takes_the_turn_back(calls: CallService) -> None:
    rig_ = await rig(calls, ["Well,", " let", " me", " see."])
    attempt = rig_.attempt()
    attempt.committed_at = time.monotonic()
    rig_.answerer.apply(Answer(attempt))
    rig_.answerer.apply(Commit(attempt))
    assert not quiet(rig_.speech)  # answering the committed turn
    await rig_.speech.barge_in(BargeIn(stopped=attempt))  # at once: nothing played yet
    carried = [e for e in rig_.events.seen if isinstance(e, Transcribed) and e.carried]
    assert [(e.speaker, e.turn, e.text) for e in carried] == [(Speaker.CALLER, 1, "")]
    assert quiet(rig_.speech)
    await asyncio.sleep(0.3)
    assert await calls.recent_turns(rig_.call.id, 10) == []  # no exchange was heard
    await rig_.tasks.aclose()


async def test_a_slow_answer_is_preceded_by_an_acknowledgement_said_once(
    calls: CallService,
) -> None:
    """The turn is over and the LLM still thinks: "Okay." plays at once (not stored or shown),
    and the answer's own "Okay," opening is left out rather than said twice."""
    rig_ = await rig(calls, ["Okay,", " it ships", " today."], think_s=0.4)
    attempt = rig_.attempt()
    attempt.committed_at = time.monotonic()
    rig_.answerer.apply(Answer(attempt))
    rig_.answerer.apply(Commit(attempt))
    await rig_.until(TurnTimed)
    assert rig_.tts.spoken[0] == "Okay."  # the acknowledgement, before the LLM's first piece
    assert rig_.events.lines()[-1] == ("ai", 1, "it ships today.", True)
    [timed] = [e for e in rig_.events.seen if isinstance(e, TurnTimed)]
    heard_first, answered = timed.stages[Stage.VOICE_TO_VOICE], timed.stages[Stage.ANSWER_AUDIO]
    assert answered >= 400  # the LLM's thinking
    assert heard_first < answered - 200  # the acknowledgement did not wait for it
    turns = await calls.recent_turns(rig_.call.id, 10)
    assert [t.text for t in turns] == ["Where is my parcel?", "it ships today."]
    await rig_.tasks.aclose()


async def test_an_answer_ready_at_the_end_of_the_turn_needs_no_acknowledgement(
    calls: CallService,
) -> None:
    rig_ = await rig(calls, ["Sure,", " it ships", " today."])
    attempt = rig_.attempt()
    rig_.answerer.apply(Answer(attempt))  # speculative: the answer is ready before the commit
    await asyncio.sleep(0.3)
    attempt.committed_at = time.monotonic()
    rig_.answerer.apply(Commit(attempt))
    await rig_.until(TurnTimed)
    assert "Okay." not in rig_.tts.spoken
    assert rig_.events.lines()[-1] == ("ai", 1, "Sure, it ships today.", True)
    await rig_.tasks.aclose()


async def test_words_whisper_was_unsure_of_are_not_answered_but_asked_again(
    calls: CallService,
) -> None:
    unsure = FakeSTT("I want a reef on my order.", confidence=Confidence(-1.4, 0.2, 1.1))
    rig_ = await rig(calls, ["Sure,", " a reef."], heard=unsure)
    attempt = rig_.attempt()
    attempt.committed_at = time.monotonic()
    rig_.answerer.apply(Answer(attempt))
    rig_.answerer.apply(Commit(attempt))
    await rig_.until(TurnTimed)
    repeat = REPEAT_REQUESTS[Language.ENGLISH]
    assert rig_.llm.given == 0  # the LLM was not asked
    assert rig_.events.lines()[-1] == ("ai", 1, repeat, True)
    turns = await calls.recent_turns(rig_.call.id, 10)
    assert [t.text for t in turns] == ["I want a reef on my order.", repeat]
    await rig_.tasks.aclose()
