"""Audio files in and out: decode what callers upload, encode what the AI says.

Decoding goes through FFmpeg (PyAV) into mono float32 at 16 kHz, stopping as soon as the clip is
longer than allowed, so an oversized upload costs no more than the allowed length to reject.
These functions are CPU work: call them from a worker thread, never on the event loop.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator

import av
import av.error
import numpy as np

from parley.ai.base import SAMPLE_RATE, Pcm16, Samples
from parley.errors import InvalidInputError, ParleyError

# FFmpeg demuxer names of the formats we accept: WebM/Opus, Ogg, MP3, WAV, M4A (and FLAC).
ACCEPTED_FORMATS = {"matroska,webm", "ogg", "mp3", "wav", "mov,mp4,m4a,3gp,3g2,mj2", "flac"}
FORMAT_NAMES = "WebM/Opus, Ogg, MP3, WAV, M4A or FLAC"


class InvalidAudioError(InvalidInputError):
    """Empty, corrupt, or without any audio track (HTTP 422)."""

    code = "INVALID_AUDIO"


class UnsupportedAudioError(ParleyError):
    """Not an audio format we accept (HTTP 415)."""

    code = "UNSUPPORTED_AUDIO_FORMAT"


class AudioTooLongError(ParleyError):
    """Longer than the configured limit (HTTP 413)."""

    code = "AUDIO_TOO_LONG"


def decode(data: bytes, *, max_seconds: float) -> Samples:
    """Decode a whole file to mono float32 samples at 16 kHz."""
    if not data:
        raise InvalidAudioError("The audio file is empty.")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise UnsupportedAudioError(
            f"The file is not audio in a format we accept ({FORMAT_NAMES})."
        ) from exc
    with container:
        if container.format.name not in ACCEPTED_FORMATS:
            raise UnsupportedAudioError(
                f"'{container.format.long_name}' is not accepted; send {FORMAT_NAMES}."
            )
        if not container.streams.audio:
            raise InvalidAudioError("The file has no audio track.")
        samples = _decode_stream(container, int(max_seconds * SAMPLE_RATE))
    if samples.size == 0:
        raise InvalidAudioError("The audio file holds no samples.")
    return np.clip(samples, -1.0, 1.0, out=samples)  # resampling can overshoot full scale


def _decode_stream(container: av.container.InputContainer, limit: int) -> Samples:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    pieces: list[Samples] = []
    total = 0
    try:
        for frame in _frames(container):
            for out in resampler.resample(frame):
                piece = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                total += piece.size
                if total > limit:
                    raise AudioTooLongError(
                        f"The audio is longer than the {limit // SAMPLE_RATE} s allowed."
                    )
                pieces.append(piece)
        pieces.extend(
            o.to_ndarray().reshape(-1).astype(np.float32) for o in resampler.resample(None)
        )
    except av.error.FFmpegError as exc:
        raise InvalidAudioError(f"The audio is corrupt and cannot be decoded ({exc}).") from exc
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)


def _frames(container: av.container.InputContainer) -> Iterator[av.AudioFrame]:
    stream = container.streams.audio[0]
    for packet in container.demux(stream):
        yield from packet.decode()


def encode_mp3(pcm: Pcm16, sample_rate: int, bitrate: int = 64_000) -> bytes:
    """Mono MP3 of int16 samples (what `audioUrl` carries, as the original system sent)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=sample_rate, layout="mono")
        stream.bit_rate = bitrate
        frame_size = 1152
        for start in range(0, len(pcm), frame_size):
            chunk = np.ascontiguousarray(pcm[start : start + frame_size]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = sample_rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def encode_wav(pcm: Pcm16, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(np.ascontiguousarray(pcm, dtype=np.int16).tobytes())
    return buffer.getvalue()


def to_pcm16(samples: Samples) -> Pcm16:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


def trim_leading_silence(
    pcm: Pcm16, sample_rate: int, *, level: int = 300, keep_s: float = 0.01
) -> Pcm16:
    """`pcm` from `keep_s` before its first sample above `level` (about −40 dBFS): a TTS voice
    starts each sentence with 10–60 ms of near silence that the caller would only wait through.
    All quiet: returned whole."""
    loud = np.flatnonzero(np.abs(pcm) > level)
    if not len(loud):
        return pcm
    return pcm[max(0, int(loud[0]) - int(keep_s * sample_rate)) :]
