"""Decoding what callers upload and encoding what the AI says, with FFmpeg (PyAV)."""

import numpy as np
import pytest

from parley.ai.audio import (
    AudioTooLongError,
    InvalidAudioError,
    UnsupportedAudioError,
    decode,
    encode_mp3,
    encode_wav,
    trim_leading_silence,
)
from parley.ai.base import AudioChunk
from tests.speech import FORMATS, encode


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_accepted_format_decodes_to_16k_mono(english_question: AudioChunk, fmt: str) -> None:
    samples = decode(encode(english_question, fmt), max_seconds=60)
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert abs(len(samples) / 16000 - english_question.duration_s) < 0.15
    assert 0.05 < float(np.abs(samples).max()) <= 1.0


def test_mp3_out_round_trips(english_question: AudioChunk) -> None:
    mp3 = encode_mp3(english_question.pcm, english_question.sample_rate)
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    assert len(mp3) < len(english_question.pcm)  # compressed: < 1 byte per sample
    assert abs(len(decode(mp3, max_seconds=60)) / 16000 - english_question.duration_s) < 0.15


def test_empty_file() -> None:
    with pytest.raises(InvalidAudioError, match="empty"):
        decode(b"", max_seconds=60)


@pytest.mark.parametrize(
    "data",
    [b"hello, this is plain text and not audio at all" * 10, bytes(range(256)) * 40],
)
def test_what_is_not_audio_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedAudioError):
        decode(data, max_seconds=60)


def test_a_picture_is_unsupported() -> None:
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f0005000201e2ea8a640000000049454e44ae426082"
    )
    with pytest.raises(UnsupportedAudioError):
        decode(png, max_seconds=60)


def test_corrupt_audio_is_refused(english_question: AudioChunk) -> None:
    wav = bytearray(encode_wav(english_question.pcm, english_question.sample_rate))
    wav[40:44] = b"\xff\xff\xff\x7f"  # data chunk claims 2 GB
    header_only = bytes(wav[:44])
    with pytest.raises((InvalidAudioError, UnsupportedAudioError)):
        decode(header_only, max_seconds=60)
    mp3 = encode_mp3(english_question.pcm, english_question.sample_rate)
    garbage = mp3[:200] + bytes(np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8))
    with pytest.raises((InvalidAudioError, UnsupportedAudioError)):
        decode(garbage, max_seconds=60)


def test_too_long_stops_decoding_early(english_question: AudioChunk) -> None:
    with pytest.raises(AudioTooLongError, match="2 s"):
        decode(encode(english_question, "webm"), max_seconds=2)


def test_leading_quiet_is_trimmed_to_a_few_milliseconds() -> None:
    rate = 48_000
    quiet = np.zeros(rate // 20, np.int16)  # 50 ms
    quiet[::7] = 40  # a noise floor well under the level
    voice = (np.cos(np.arange(rate // 10) / 5) * 5000).astype(np.int16)
    trimmed = trim_leading_silence(np.concatenate([quiet, voice]), rate)
    assert len(trimmed) == len(voice) + rate // 100  # 10 ms kept before the first loud sample
    assert np.array_equal(trimmed[rate // 100 :], voice)
    silent = np.zeros(rate, np.int16)
    assert trim_leading_silence(silent, rate) is silent
