"""Whisper base on this machine, with the real model, on speech made by the local voices."""

import asyncio
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from parley.ai.base import AudioChunk, Language
from parley.ai.engine import AIEngine
from parley.ai.local.whisper_stt import WhisperSTT, collapse_repeats, drop_hallucinations
from tests.conftest import make_settings
from tests.speech import resample


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    distance = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, distance[0] = distance[0], i
        for j, h in enumerate(hyp, 1):
            previous, distance[j] = (
                distance[j],
                min(distance[j] + 1, distance[j - 1] + 1, previous + (r != h)),
            )
    return distance[-1] / max(len(ref), 1)


def character_error_rate(reference: str, hypothesis: str) -> float:
    return word_error_rate(" ".join(reference), " ".join(hypothesis))


@pytest.mark.parametrize("language", [Language.ENGLISH, None])
async def test_english_is_transcribed(
    stt: WhisperSTT, english_question: AudioChunk, language: Language | None
) -> None:
    audio = resample(english_question.pcm, english_question.sample_rate)
    heard = await stt.transcribe(audio, language=language)
    reference = "Hi, I ordered a pair of shoes last week. When will they arrive?"
    assert word_error_rate(reference, heard.text) <= 0.2, heard.text
    assert heard.language is Language.ENGLISH
    assert heard.duration_s == pytest.approx(len(audio) / 16000)


async def test_korean_is_transcribed(stt: WhisperSTT, korean_question: AudioChunk) -> None:
    """With the language the call sets. (Detection is not tested on this clip: espeak-ng's
    robotic Korean sits between Korean and English for Whisper and flips from run to run.)"""
    audio = resample(korean_question.pcm, korean_question.sample_rate)
    heard = await stt.transcribe(audio, language=Language.KOREAN)
    assert heard.language is Language.KOREAN
    hangul = re.sub(r"[^가-힣]", "", heard.text)
    assert len(hangul) >= 0.8 * len(re.sub(r"\W", "", heard.text)), heard.text
    # espeak-ng's Korean is robotic: Whisper base gets about half the syllables right here, and on
    # another CPU (CI's int8 kernels differ) it stopped after the first sentence ("한용하세요.").
    # The bound still fails on English, empty or unrelated output.
    reference = "안녕하세요지난주에주문한신발이언제도착하나요"
    assert len(hangul) >= 4, heard.text
    assert character_error_rate(reference, hangul) < 0.9, heard.text


async def test_silence_gives_no_text(stt: WhisperSTT) -> None:
    heard = await stt.transcribe(np.zeros(32000, np.float32), language=Language.KOREAN)
    assert heard.text == ""


async def test_a_clip_longer_than_the_window_is_still_whole(
    stt: WhisperSTT, english_question: AudioChunk
) -> None:
    audio = resample(english_question.pcm, english_question.sample_rate)
    gap = np.zeros(16000 * 4, np.float32)
    heard = await stt.transcribe(np.concatenate([audio, gap, audio]), language=Language.ENGLISH)
    assert heard.text.lower().count("shoes") == 2, heard.text


async def test_the_event_loop_keeps_running_during_transcription(
    local_engine: AIEngine, english_question: AudioChunk
) -> None:
    audio = resample(english_question.pcm, english_question.sample_rate)
    gaps: list[float] = []

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - last)
            last = loop.time()

    task = asyncio.create_task(ticker())
    await local_engine.stt.transcribe(audio, language=Language.ENGLISH)
    task.cancel()
    assert len(gaps) > 10
    assert max(gaps) < 0.1


@pytest.mark.parametrize(
    ("looping", "clean"),
    [
        ("네 네 네 네 네 네", "네"),
        ("감사합니다. 감사합니다. 감사합니다. 감사합니다.", "감사합니다."),
        ("I see, I see, I see, I see what you mean", "I see what you mean"),
        ("hello there", "hello there"),
    ],
)
def test_repetition_loops_are_collapsed(looping: str, clean: str) -> None:
    assert collapse_repeats(looping) == clean


def test_subtitle_credits_over_silence_are_dropped() -> None:
    assert drop_hallucinations("시청해 주셔서 감사합니다.") == ""
    assert drop_hallucinations("Thank you for watching!") == ""
    assert drop_hallucinations("I want to return these shoes") == "I want to return these shoes"


async def test_a_transcription_nobody_waits_for_stops_after_the_encoder(
    english_question: AudioChunk,
) -> None:
    """A speculative transcription cancelled while it runs gives up before decoding (the next
    one, of the whole turn, waits less); cancelling the awaiting task is what tells it."""
    models = make_settings(Path("/nonexistent")).ai.models_path
    stt = WhisperSTT(models / "whisper-base", window_s=10)
    await stt.load()
    try:
        audio = resample(english_question.pcm, english_question.sample_rate)
        abandoned = threading.Event()
        abandoned.set()
        given_up = await asyncio.to_thread(stt._transcribe, audio, Language.ENGLISH, abandoned)
        assert given_up.text == ""
        heard = await stt.transcribe(audio, language=Language.ENGLISH)
        assert heard.text  # the same clip, awaited: words

        queued, single = [], []  # the best of three of each: one busy moment is not the answer
        for _ in range(3):
            task = asyncio.create_task(stt.transcribe(audio, language=Language.ENGLISH))
            await asyncio.sleep(0.02)  # running on the worker thread
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            started = time.monotonic()
            await stt.transcribe(audio, language=Language.ENGLISH)
            queued.append(time.monotonic() - started)
            started = time.monotonic()
            await stt.transcribe(audio, language=Language.ENGLISH)
            single.append(time.monotonic() - started)
        queued_and_done, alone = min(queued), min(single)
        # behind a full transcription this would take ~2 × alone; behind an abandoned one, the
        # encoder's share at most
        assert queued_and_done < 1.8 * alone, (queued, single)
    finally:
        await stt.aclose()


async def test_a_long_transcription_nobody_waits_for_stops_too(
    english_question: AudioChunk,
) -> None:
    """Past the short window (faster-whisper's path, window by window) a transcription that was
    given up on stops at the end of its current window instead of decoding the rest."""
    models = make_settings(Path("/nonexistent")).ai.models_path
    stt = WhisperSTT(models / "whisper-base", window_s=10)
    await stt.load()
    try:
        audio = resample(english_question.pcm, english_question.sample_rate)
        long = np.concatenate([audio, audio, audio])
        assert len(long) > 10 * 16_000
        abandoned = threading.Event()
        abandoned.set()
        given_up = await asyncio.to_thread(stt._transcribe, long, Language.ENGLISH, abandoned)
        assert given_up.text == ""
    finally:
        await stt.aclose()
