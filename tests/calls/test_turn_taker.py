"""The turn taker alone: synthetic VAD windows and a fake clock, decisions checked in ms."""

from __future__ import annotations

import numpy as np
import pytest

from parley.ai.turns import WINDOW_S, TurnConfig
from parley.ai.vad import WINDOW
from parley.calls.turn_taker import (
    Answer,
    Attempt,
    BargeIn,
    Commit,
    Decision,
    Drop,
    Listening,
    Transcribe,
    TurnTaker,
)


class Clock:
    """Seconds, moved by the test only."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Caller:
    """Speaks to a turn taker one 32 ms VAD window at a time."""

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.clock = Clock()
        self.taker = TurnTaker(config or TurnConfig(), self.clock)
        self.ai_busy = False

    def windows(self, probability: float, count: int) -> list[Decision]:
        decisions: list[Decision] = []
        for _ in range(count):
            self.clock.now += WINDOW_S
            audio = np.full(WINDOW, probability, np.float32)
            for event in self.taker.detector.feed(audio, np.array([probability], np.float32)):
                decisions += self.taker.on(event, ai_busy=self.ai_busy)
        return decisions

    def speak(self, ms: float) -> list[Decision]:
        return self.windows(0.9, round(ms / 1000 / WINDOW_S))

    def pause(self, ms: float) -> list[Decision]:
        return self.windows(0.05, round(ms / 1000 / WINDOW_S))


def only(decisions: list[Decision], kind: type[Answer | Commit]) -> Attempt:
    """The attempt of the one decision of `kind` among `decisions`."""
    [decision] = [d for d in decisions if isinstance(d, kind)]
    assert isinstance(decision, Answer | Commit)
    return decision.attempt


def test_a_pause_starts_a_speculative_answer_and_speech_resuming_drops_it() -> None:
    caller = Caller()
    assert caller.speak(320) == [Listening(1)]
    started = caller.pause(128)  # past pause_s (100 ms)
    first = only(started, Answer)
    assert (first.turn, first.committed, first.earlier) == (1, False, ())
    assert caller.speak(64) == [Drop(first)]  # the caller went on: it was a pause
    second = only(caller.pause(128), Answer)
    assert second is not first
    assert second.speech_ended_at > first.speech_ended_at
    assert caller.pause(800) == [Commit(second)]  # the same audio: its answer is kept
    assert second.committed
    assert caller.taker.turn == 1


def test_the_answer_waits_for_the_answer_pause_and_the_commit_opens_the_gate() -> None:
    caller = Caller()
    caller.speak(320)
    attempt = only(caller.pause(128), Answer)
    wait = caller.taker.answer_wait(attempt)
    assert wait == pytest.approx(attempt.speech_ended_at + 0.2 - caller.clock.now)
    assert 0 < wait < 0.2
    caller.pause(96)
    assert caller.taker.answer_wait(attempt) == 0  # the pause has lasted answer_pause_s
    assert not attempt.committed
    assert caller.pause(600) == [Commit(attempt)]
    assert attempt.committed_at is not None
    assert attempt.committed_at - attempt.speech_ended_at == pytest.approx(0.7, abs=WINDOW_S)


def test_a_turn_that_sounds_finished_ends_after_the_short_silence() -> None:
    caller = Caller()
    caller.speak(480)
    attempt = only(caller.pause(128), Answer)
    assert caller.taker.heard(attempt, "and then I was going to,") is None
    wait = caller.taker.heard(attempt, "Where is my parcel?")
    assert wait is not None
    assert wait == pytest.approx(attempt.speech_ended_at + 0.3 - caller.clock.now)
    caller.clock.now += wait  # no VAD window between: the call's timer fires
    assert caller.taker.end_early(attempt) == [Commit(attempt)]
    assert attempt.committed_at == pytest.approx(attempt.speech_ended_at + 0.3)
    assert not caller.taker.speaking
    assert caller.taker.turn == 1
    assert caller.taker.heard(attempt, "Where is my parcel?") is None  # over already


def test_an_early_end_is_void_once_the_caller_went_on() -> None:
    caller = Caller()
    caller.speak(480)
    attempt = only(caller.pause(128), Answer)
    wait = caller.taker.heard(attempt, "Where is my parcel?")
    assert wait is not None
    caller.speak(64)  # resumed before the timer fired
    caller.clock.now += wait
    assert caller.taker.end_early(attempt) == []
    assert caller.taker.speaking


def test_speech_while_the_ai_speaks_is_a_barge_in_on_the_turn_being_answered() -> None:
    caller = Caller()
    caller.speak(320)
    attempt = only(caller.pause(800), Commit)
    assert caller.taker.answering is attempt
    caller.ai_busy = True
    assert caller.speak(96) == [BargeIn(stopped=attempt), Listening(2)]
    assert caller.taker.answering is None


def test_speech_while_the_ai_is_quiet_is_no_barge_in() -> None:
    caller = Caller()
    caller.speak(320)
    attempt = only(caller.pause(800), Commit)
    caller.taker.settled(attempt)  # answered and heard: the AI is done
    assert caller.speak(96) == [Listening(2)]


def test_a_turn_stopped_before_the_ai_said_a_word_is_carried_into_the_next() -> None:
    caller = Caller()
    caller.speak(320)
    first = only(caller.pause(800), Commit)
    caller.ai_busy = True
    [barge_in, _] = caller.speak(96)
    assert isinstance(barge_in, BargeIn)
    assert barge_in.stopped is first
    caller.taker.carry(first)  # the call heard none of the answer played
    caller.ai_busy = False
    second = only(caller.pause(128), Answer)
    assert second.turn == 2
    assert second.earlier == (first.last,)  # the first words, transcribed once, come first
    caller.pause(700)
    third_turn = caller.speak(96)
    assert third_turn == [Listening(3)]
    assert only(caller.pause(128), Answer).earlier == ()  # carried once, not forever


def test_a_long_turn_is_cut_into_pieces_that_begin_its_answer() -> None:
    caller = Caller(TurnConfig(max_turn_s=0.5))
    decisions = caller.speak(640)
    cuts = [d for d in decisions if isinstance(d, Transcribe)]
    assert len(cuts) == 1
    assert cuts[0].piece.name == "stt-1-cut"
    assert len(cuts[0].piece.audio) >= 0.5 * 16_000
    attempt = only(caller.pause(128), Answer)
    assert attempt.earlier == (cuts[0].piece,)
    assert attempt.pieces == (cuts[0].piece, attempt.last)


def test_a_commit_after_different_audio_answers_afresh() -> None:
    """The turn ended on audio the speculation did not hear (a resume and a pause shorter than
    pause_s): the stale attempt is dropped and the turn answered from its end."""
    caller = Caller(TurnConfig(pause_s=0.1, end_silence_s=0.3))
    caller.speak(320)
    stale = only(caller.pause(128), Answer)
    caller.speak(64)
    caller.clock.now += 0.05
    decisions = caller.pause(320)
    kinds = [type(d) for d in decisions]
    assert Commit in kinds
    committed = only(decisions, Commit)
    assert committed is not stale
    assert committed.turn == 1
