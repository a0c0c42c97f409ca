"""Spoken test clips, made with Parley's own local voices (Piper for English, espeak-ng for
Korean) and written in every container format callers upload."""

from __future__ import annotations

import io
from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream

from parley.ai.base import SAMPLE_RATE, AudioChunk, Language, Pcm16, Samples, TextToSpeech

FORMATS = {  # name: (container, codec, file suffix)
    "wav": ("wav", "pcm_s16le", "wav"),
    "mp3": ("mp3", "libmp3lame", "mp3"),
    "ogg": ("ogg", "libopus", "ogg"),
    "webm": ("webm", "libopus", "webm"),
    "m4a": ("ipod", "aac", "m4a"),
    "flac": ("flac", "flac", "flac"),
}


async def speak(tts: TextToSpeech, text: str, language: Language) -> AudioChunk:
    chunks = [chunk async for chunk in tts.synthesize(text, language=language)]
    return AudioChunk(np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate)


def resample(pcm: Pcm16, rate: int, target: int = SAMPLE_RATE) -> Samples:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.float32)


def with_silence(clip: AudioChunk, before_s: float = 0.3, after_s: float = 0.5) -> AudioChunk:
    def pad(seconds: float) -> Pcm16:
        return np.zeros(int(seconds * clip.sample_rate), np.int16)

    return AudioChunk(np.concatenate([pad(before_s), clip.pcm, pad(after_s)]), clip.sample_rate)


def encode(clip: AudioChunk, fmt: str) -> bytes:
    """The clip as a file of `fmt` (see FORMATS), encoded by FFmpeg."""
    container_name, codec, _ = FORMATS[fmt]
    rate = 48_000 if codec == "libopus" else clip.sample_rate
    pcm = (
        clip.pcm
        if rate == clip.sample_rate
        else (resample(clip.pcm, clip.sample_rate, rate) * 32767).astype(np.int16)
    )
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_name) as container:
        stream = cast(AudioStream, container.add_stream(codec, rate=rate, layout="mono"))
        for start in range(0, len(pcm), 960):
            frame = av.AudioFrame.from_ndarray(
                pcm[start : start + 960].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
