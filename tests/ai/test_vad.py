"""Silero VAD: speech found where there is speech, and the same answer fed whole or in pieces."""

import numpy as np

from parley.ai.base import AudioChunk
from parley.ai.engine import AIEngine
from parley.ai.vad import SileroVAD, VadState, has_speech, speech_seconds
from tests.speech import resample


async def test_speech_and_silence(local_engine: AIEngine, english_question: AudioChunk) -> None:
    speech = resample(english_question.pcm, english_question.sample_rate)
    probabilities = await local_engine.vad.speech_probabilities(speech)
    assert has_speech(probabilities)
    assert 2.0 < speech_seconds(probabilities) <= len(speech) / 16000
    assert not has_speech(await local_engine.vad.speech_probabilities(np.zeros(32000, np.float32)))
    hiss = np.random.default_rng(1).normal(0, 0.003, 32000).astype(np.float32)
    assert not has_speech(await local_engine.vad.speech_probabilities(hiss))


def test_streaming_in_pieces_matches_the_whole(
    local_engine: AIEngine, english_question: AudioChunk
) -> None:
    vad = local_engine.vad
    assert isinstance(vad, SileroVAD)
    audio = resample(english_question.pcm, english_question.sample_rate)
    whole = vad.feed(VadState(), audio)
    state, pieces, start = VadState(), [], 0
    for size in [320] * 20 + [1000, 7, 4096] * 20:  # 20 ms frames, then odd sizes
        pieces.append(vad.feed(state, audio[start : start + size]))
        start += size
    pieces.append(vad.feed(state, audio[start:]))
    assert np.allclose(np.concatenate(pieces), whole, atol=1e-4)
