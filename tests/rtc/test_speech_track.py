"""The AI's speech track: real-time pacing, and how it counts frames handed over late."""

from __future__ import annotations

import asyncio
import time

import av
import numpy as np
import pytest

from parley import memory
from parley.rtc import speech_track
from parley.rtc.speech_track import (
    FRAME,
    PACING,
    PERIOD,
    RATE,
    TIME_BASE,
    SpeechTrack,
    live_tracks,
)


async def test_a_track_on_time_counts_no_underrun_and_no_gap() -> None:
    track = SpeechTrack()
    started = time.monotonic()
    for _ in range(10):
        await track.recv()
    assert time.monotonic() - started >= 9 * FRAME / RATE * 0.9  # paced, not as fast as possible
    assert (track.underruns, track.gaps) == (0, 0)
    track.stop()


async def test_a_stall_is_one_gap_and_several_late_frames_while_speaking() -> None:
    track = SpeechTrack()
    track.play(np.full(50 * FRAME, 1000, np.int16))
    before = (PACING.gaps, PACING.speech_gaps, PACING.underruns)
    await track.recv()
    await track.recv()
    await asyncio.sleep(0.1)  # the event loop was busy elsewhere for 100 ms
    for _ in range(8):  # the track catches up at once, then is paced again
        await track.recv()
    assert (track.gaps, track.speech_gaps) == (1, 1)
    assert 2 <= track.underruns <= 5
    assert track.speech_underruns == track.underruns
    assert (PACING.gaps, PACING.speech_gaps) == (before[0] + 1, before[1] + 1)
    assert PACING.underruns - before[2] == track.underruns
    track.stop()


async def test_silence_late_is_counted_but_not_as_speech() -> None:
    track = SpeechTrack()
    await track.recv()
    await asyncio.sleep(0.1)
    await track.recv()
    assert (track.gaps, track.speech_gaps, track.speech_underruns) == (1, 0, 0)
    assert track.underruns >= 1
    track.stop()


def test_tracks_in_memory_are_counted() -> None:
    before = live_tracks()
    track = SpeechTrack()
    assert live_tracks() == before + 1
    del track
    assert live_tracks() == before


async def test_speech_goes_out_as_opus_that_decodes_to_it_silence_as_a_cached_packet() -> None:
    track = SpeechTrack()
    tone = (np.sin(2 * np.pi * 440 * np.arange(25 * FRAME) / RATE) * 8000).astype(np.int16)
    decoder = av.CodecContext.create("libopus", "r")
    decoder.format, decoder.layout, decoder.sample_rate = "s16", "stereo", RATE
    silent = {bytes(await track.recv()) for _ in range(3)}
    assert len(silent) == 1  # the one cached silence packet, not encoded again
    quiet = [f.to_ndarray() for f in decoder.decode(av.Packet(silent.pop()))]
    assert np.abs(np.concatenate(quiet, axis=1)).max() < 50
    track.play(tone[: 25 * FRAME - 100])  # not whole frames: padded with silence
    await asyncio.sleep(0.05)  # the encoder thread has the packets ready
    decoded = []
    for _ in range(25):
        packet = await track.recv()
        assert packet.pts is not None
        assert packet.time_base == TIME_BASE
        for frame in decoder.decode(av.Packet(bytes(packet))):
            decoded.append(frame.to_ndarray().reshape(-1, 2)[:, 0])
    pcm = np.concatenate(decoded).astype(np.float32)
    assert not track.speaking
    assert len(pcm) == 25 * FRAME
    spectrum = np.abs(np.fft.rfft(pcm[5 * FRAME :]))
    assert abs(float(np.fft.rfftfreq(len(pcm) - 5 * FRAME, 1 / RATE)[spectrum.argmax()]) - 440) < 5
    assert 4000 < np.sqrt(np.mean(pcm[5 * FRAME : 20 * FRAME] ** 2)) < 7000  # 8000 / √2 ≈ 5657
    track.stop()


async def test_a_segment_played_in_full_keeps_its_length_not_its_audio() -> None:
    """A long call once kept its last 256 sentences' PCM and packets (`finished`)."""
    track = SpeechTrack()
    for index in range(3):
        track.play(np.full(5 * FRAME, 1000, np.int16), tag=(1, index))
    assert track.figures().bytes >= 3 * 5 * FRAME * 2
    while track.speaking:
        await track.recv()
    assert [(s.tag, s.samples, s.played) for s in track.finished] == [
        ((1, index), 5 * FRAME, 5 * FRAME) for index in range(3)
    ]
    assert track.figures().bytes == 0
    assert "speechAudio" in memory.figures()
    track.stop()


def test_speech_past_the_queue_limit_is_not_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech_track, "MAX_QUEUED_S", 1.0)
    track = SpeechTrack()
    track.play(np.ones(RATE * 6 // 10, np.int16))
    track.play(np.ones(RATE * 6 // 10, np.int16))  # 1.2 s in all: refused
    assert track.queued_seconds() == pytest.approx(0.6, abs=PERIOD)
    assert track.dropped_s == pytest.approx(0.6)
    assert track.figures().bytes <= track.figures().limit
    track.stop()
