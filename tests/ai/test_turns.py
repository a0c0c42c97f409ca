"""End-of-turn detection, fed Silero-like probabilities window by window (32 ms each)."""

import numpy as np
import pytest

from parley.ai.base import SAMPLE_RATE, AudioChunk
from parley.ai.engine import AIEngine
from parley.ai.turns import (
    SpeechCut,
    SpeechPaused,
    TurnConfig,
    TurnDetector,
    TurnEnded,
    TurnEvent,
    sounds_finished,
)
from parley.ai.vad import WINDOW
from tests.speech import resample


class FakeClock:
    """The detector's clock, moved on by hand: `ms` since the call began."""

    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> float:
        return self.ms / 1000


def feed(detector: TurnDetector, pattern: str, clock: FakeClock | None = None) -> list[TurnEvent]:
    """`pattern`: one character per 32 ms window, "s" speech (0.9) and "." silence (0.05); the
    clock, if given, moves 32 ms before each window."""
    events: list[TurnEvent] = []
    for mark in pattern:
        if clock is not None:
            clock.ms += 32
        audio = np.full(WINDOW, 0.1 if mark == "s" else 0.0, np.float32)
        events += detector.feed(audio, np.array([0.9 if mark == "s" else 0.05], np.float32))
    return events


def kinds(events: list[TurnEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_turn_starts_pauses_and_ends() -> None:
    detector = TurnDetector(TurnConfig())
    events = feed(detector, "..." + "s" * 20 + "." * 25)
    assert kinds(events) == ["SpeechStarted", "SpeechPaused", "TurnEnded"]
    paused, ended = events[1], events[2]
    assert isinstance(paused, SpeechPaused)
    assert isinstance(ended, TurnEnded)
    assert paused.speech_ended_at == ended.speech_ended_at
    assert np.count_nonzero(paused.audio) == np.count_nonzero(ended.audio) == 20 * WINDOW
    assert len(ended.audio) > len(paused.audio) > 20 * WINDOW  # pre-roll + speech (+ silence)


def test_speech_after_a_pause_resumes_the_same_turn() -> None:
    detector = TurnDetector(TurnConfig())
    events = feed(detector, "s" * 10 + "." * 10 + "s" * 10 + "." * 25)
    assert kinds(events) == [
        "SpeechStarted", "SpeechPaused", "SpeechResumed", "SpeechPaused", "TurnEnded",
    ]  # fmt: skip
    ended = events[-1]
    assert isinstance(ended, TurnEnded)
    assert np.count_nonzero(ended.audio) == 20 * WINDOW  # one turn, both parts


def test_a_pause_shorter_than_the_end_silence_does_not_end_the_turn() -> None:
    detector = TurnDetector(TurnConfig(end_silence_s=0.7))
    events = feed(detector, "s" * 10 + "." * 20 + "s" * 10)  # 640 ms of silence
    assert "TurnEnded" not in kinds(events)
    assert detector.speaking


def test_end_now_ends_the_turn_at_once_and_only_once() -> None:
    detector = TurnDetector(TurnConfig())
    feed(detector, "s" * 10 + "." * 8)
    ended = detector.end_now()
    assert isinstance(ended, TurnEnded)
    assert np.count_nonzero(ended.audio) == 10 * WINDOW
    assert detector.end_now() is None
    assert feed(detector, "." * 30) == []  # the rest of the silence ends nothing more


def test_a_turn_longer_than_the_limit_goes_on_in_pieces_of_at_most_the_limit() -> None:
    """A caller who talks on past `max_turn_s` is still in the same turn (a new turn would be a
    barge-in on the answer to their own first half): each `max_turn_s` of audio is handed over
    as a piece, and the turn ends on silence as any other, with the audio since the last cut."""
    detector = TurnDetector(TurnConfig(max_turn_s=1.0))  # 1 s: 32 windows of 32 ms
    events = feed(detector, "..." + "s" * 70 + "." * 25)
    assert kinds(events) == [
        "SpeechStarted", "SpeechCut", "SpeechCut", "SpeechPaused", "TurnEnded",
    ]  # fmt: skip
    pieces = [e.audio for e in events if isinstance(e, SpeechCut | TurnEnded)]
    assert all(len(piece) <= 1.0 * SAMPLE_RATE + WINDOW for piece in pieces)
    assert sum(np.count_nonzero(piece) for piece in pieces) == 70 * WINDOW  # nothing lost or twice


def test_a_pause_that_spans_a_cut_is_reported_again_and_the_turn_ends_on_time() -> None:
    clock = FakeClock()
    detector = TurnDetector(TurnConfig(max_turn_s=1.0), clock=clock)
    events = feed(detector, "s" * 26 + "." * 25, clock)  # the cut falls in the silence
    assert kinds(events) == [
        "SpeechStarted", "SpeechPaused", "SpeechCut", "SpeechPaused", "TurnEnded",
    ]  # fmt: skip
    again, ended = events[3], events[4]
    assert isinstance(again, SpeechPaused)
    assert isinstance(ended, TurnEnded)
    assert np.count_nonzero(again.audio) == 0  # only what came after the cut: silence
    assert again.speech_ended_at == ended.speech_ended_at == 26 * 32 / 1000  # the last "s"
    assert ended.detected_at == (26 + 22) * 32 / 1000  # 22 silent windows: 704 ms


def test_a_click_is_not_speech() -> None:
    detector = TurnDetector(TurnConfig(min_speech_s=0.16))
    assert feed(detector, ".ss..s.ss...") == []


def test_speech_started_comes_after_min_speech() -> None:
    detector = TurnDetector(TurnConfig(min_speech_s=0.09))
    events = feed(detector, "sss")
    assert kinds(events) == ["SpeechStarted"]


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        ("When will my shoes arrive?", True),
        ("I would like to return them.", True),
        ("Thank you so much!", True),
        ("Wait.", False),  # Whisper's full stop after a fragment
        ("Thank you.", False),  # too short to be sure: the full silence decides
        ("I ordered a pair of shoes and", False),
        ("I ordered a pair of shoes and.", False),
        ("I want to talk to the...", False),
        ("Well, um.", False),
        ("So I was wondering,", False),
        ("", False),
        ("배송은 언제 도착하나요?", True),
        ("신발을 주문했어요.", True),
        ("신발을 주문했는데.", False),
        ("그리고", False),
    ],
)
def test_sounds_finished(text: str, finished: bool) -> None:
    assert sounds_finished(text) is finished


def noises() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    rate = 16_000
    t = np.arange(rate) / rate
    clicks = np.zeros(2 * rate, np.float32)
    for start in range(0, len(clicks), 2_400):  # typing: a sharp click every 150 ms
        clicks[start : start + 40] = rng.normal(0, 0.5, 40)
    bursts = np.zeros(2 * rate, np.float32)
    for start in (4_000, 16_000, 26_000):  # door knocks / bumps: 60 ms of loud noise
        bursts[start : start + 960] = rng.normal(0, 0.3, 960)
    return {
        "hiss": rng.normal(0, 0.02, 2 * rate).astype(np.float32),
        "hum": (0.2 * np.sin(2 * np.pi * 50 * np.concatenate([t, t]))).astype(np.float32),
        "tone": (0.2 * np.sin(2 * np.pi * 1_000 * np.concatenate([t, t]))).astype(np.float32),
        "clicks": clicks,
        "bursts": bursts,
    }


@pytest.mark.parametrize("name", ["hiss", "hum", "tone", "clicks", "bursts"])
async def test_noise_does_not_start_a_turn_or_a_barge_in(local_engine: AIEngine, name: str) -> None:
    """The default start (two sure 32 ms windows, for a fast barge-in) on Silero's real output."""
    audio = noises()[name]
    vad = local_engine.vad.stream()
    detector = TurnDetector(TurnConfig())
    events: list[TurnEvent] = []
    for start in range(0, len(audio), 320):
        chunk = audio[start : start + 320]
        events += detector.feed(chunk, await vad.feed(chunk))
    assert events == []


async def test_speech_does_start_a_turn(
    local_engine: AIEngine, english_question: AudioChunk
) -> None:
    """The same loop as for the noises, on a spoken question: a turn starts, pauses and ends."""
    audio = resample(english_question.pcm, english_question.sample_rate)
    audio = np.concatenate([audio, np.zeros(16_000, np.float32)])
    vad = local_engine.vad.stream()
    detector = TurnDetector(TurnConfig())
    events: list[TurnEvent] = []
    for start in range(0, len(audio), 320):
        chunk = audio[start : start + 320]
        events += detector.feed(chunk, await vad.feed(chunk))
    assert kinds(events)[0] == "SpeechStarted"
    assert kinds(events)[-1] == "TurnEnded"


def test_the_words_are_transcribed_after_a_short_pause_and_answered_after_a_longer_one() -> None:
    config = TurnConfig()
    assert config.pause_s < config.answer_pause_s < config.early_end_silence_s
    detector = TurnDetector(config)
    events = feed(detector, "s" * 10 + "." * 3)  # 96 ms: not yet
    assert kinds(events) == ["SpeechStarted"]
    assert kinds(feed(detector, ".")) == ["SpeechPaused"]  # 128 ms, the 4th silent window
