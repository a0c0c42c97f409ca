"""The echo guard on real speech: the AI's voice coming back through an Opus round trip, delayed
and quieter, against other people talking over it."""

import io

import av
import numpy as np
import pytest

from parley.ai.base import AudioChunk, Language
from parley.ai.echo import EchoGuard
from parley.ai.engine import AIEngine
from parley.calls.live import GREETINGS
from tests.speech import encode, resample, speak

RATE = 48_000


def through_opus(samples: np.ndarray) -> np.ndarray:
    """16 kHz float audio after an Opus encode/decode, as the caller's mic path would send it."""
    clip = AudioChunk((np.clip(samples, -1, 1) * 32767).astype(np.int16), 16_000)
    with av.open(io.BytesIO(encode(clip, "ogg")), "r") as container:
        decoded = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    return resample((np.concatenate(decoded) * 32767).astype(np.int16), RATE)


def flagged(ai: np.ndarray, mic: np.ndarray) -> tuple[float, EchoGuard]:
    """Play `ai` (48 kHz int16) while hearing `mic` (16 kHz float) frame by frame; the share of
    the loud mic windows the guard calls echo, checked every 32 ms like the VAD windows."""
    guard = EchoGuard()
    frames = max(len(ai) // 960, len(mic) // 320) + 50
    ai = np.concatenate([ai, np.zeros(frames * 960 - len(ai), np.int16)])
    mic = np.concatenate([mic, np.zeros(frames * 320 - len(mic), np.float32)])
    calls: list[bool] = []
    for i in range(frames):
        now = i * 0.02
        guard.played(ai[i * 960 : (i + 1) * 960], now)
        chunk = mic[i * 320 : (i + 1) * 320]
        guard.heard(chunk, now)
        if i % 8 in (0, 2, 3, 5) and float(np.sqrt(np.mean(chunk**2))) > 0.01:
            calls.append(guard.is_echo(now))
    return (float(np.mean(calls)) if calls else 0.0), guard


def delayed(audio: np.ndarray, seconds: float, gain: float = 1.0) -> np.ndarray:
    return np.concatenate([np.zeros(int(seconds * 16_000), np.float32), gain * audio])


def mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(max(len(a), len(b)), np.float32)
    out[: len(a)] += a
    out[: len(b)] += b
    return out


@pytest.fixture(scope="module")
async def voices(local_engine: AIEngine) -> dict[str, np.ndarray]:
    ai = await speak(local_engine.tts, GREETINGS[Language.ENGLISH], Language.ENGLISH)
    same = await speak(
        local_engine.tts, "Actually I need to change my delivery address.", Language.ENGLISH
    )
    other = await speak(local_engine.tts, "잠깐만요, 배송 주소를 바꾸고 싶어요.", Language.KOREAN)
    return {
        "ai48": (resample(ai.pcm, ai.sample_rate, RATE) * 32767).astype(np.int16),
        "ai16": resample(ai.pcm, ai.sample_rate),
        "same16": resample(same.pcm, same.sample_rate),
        "other16": resample(other.pcm, other.sample_rate),
    }


@pytest.mark.parametrize("delay", [0.1, 0.3, 0.6])
def test_the_ais_voice_coming_back_is_echo(voices: dict[str, np.ndarray], delay: float) -> None:
    share, _ = flagged(voices["ai48"], through_opus(delayed(voices["ai16"], delay, 0.4)))
    assert share >= 0.9


def test_another_voice_over_the_ai_is_not_echo(voices: dict[str, np.ndarray]) -> None:
    share, _ = flagged(voices["ai48"], through_opus(delayed(voices["other16"], 0.5)))
    assert share <= 0.15


def test_the_same_voice_saying_other_words_is_mostly_not_echo(
    voices: dict[str, np.ndarray],
) -> None:
    """The hardest case (the test callers speak with the AI's own Piper voice): some windows
    look like echo, but enough do not for speech to start (five in a row)."""
    share, _ = flagged(voices["ai48"], through_opus(delayed(voices["same16"], 0.5)))
    assert share <= 0.15


def test_a_caller_talking_over_the_echo_is_mostly_not_echo(
    voices: dict[str, np.ndarray],
) -> None:
    echo = delayed(voices["ai16"], 0.25, 0.4)
    share, _ = flagged(voices["ai48"], through_opus(mix(echo, delayed(voices["other16"], 0.5))))
    assert share <= 0.35


def test_no_echo_is_possible_when_the_ai_has_been_quiet(voices: dict[str, np.ndarray]) -> None:
    share, guard = flagged(np.zeros(0, np.int16), voices["ai16"])
    assert share == 0.0
    assert guard.checks == 0  # and it cost nothing
