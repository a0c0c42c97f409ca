"""A live call's media, in aiortc's one-object-per-concept way: its peer connection, the caller's
audio in, the AI's voice out.

    caller's track ─▶ 48→16 kHz ─▶ VAD ─▶ EchoGuard ─▶ listener.heard(samples, probabilities)
    SpeechTrack ◀── the call queues the AI's speech; each frame sent is told to the EchoGuard

The caller's audio is read on the event loop with no playout delay (`listen_directly`), and
every other track the caller sends (video) is read into a sink, as every accepted track must be.
Speech that is the AI's own voice coming back (a phone on speaker) has its probabilities zeroed
before the turn taker sees it, so it cannot start a turn or a barge-in; to compare the two, each
received frame is placed on our clock by its RTP time plus the smallest offset seen (`_sent_at`).

It knows nothing of turns: what it hears goes to a `MediaListener` (the call). Its tasks run in
the call's `TaskSet`, so the call's `aclose()` stops them with the rest.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from parley.ai.base import Samples, VoiceActivity
from parley.ai.echo import EchoGuard
from parley.rtc.ice import rtc_configuration
from parley.rtc.receive import listen_directly
from parley.rtc.speech_track import SpeechTrack
from parley.tasks import TaskSet

log = logging.getLogger("parley.live")

Probabilities = npt.NDArray[np.float32]


class MediaListener(Protocol):
    """The call, as its media sees it."""

    @property
    def caller_speaking(self) -> bool:
        """The caller is in a turn (echo cannot start one then)."""
        ...

    async def media_started(self) -> None:
        """The caller's first audio arrived."""

    async def heard(self, samples: Samples, probabilities: Probabilities) -> None:
        """16 kHz audio and the VAD windows it completed, echo removed."""

    def media_failed(self) -> None:
        """The peer connection failed."""


class CallMedia:
    def __init__(
        self,
        vad: VoiceActivity,
        listener: MediaListener,
        tasks: TaskSet,
        *,
        stun_urls: tuple[str, ...] = (),
        echo_guard: bool = True,
        start_threshold: float = 0.6,
    ) -> None:
        self._listener = listener
        self._tasks = tasks
        self._vad = vad.stream()
        self._start_threshold = start_threshold
        self.track = SpeechTrack()
        self.pc = RTCPeerConnection(rtc_configuration(list(stun_urls)))
        self.echo = EchoGuard()
        self._echo_guard = echo_guard
        if echo_guard:
            self.track.on_frame = self.echo.played
        self._clock_offset: float | None = None  # our clock minus the caller's RTP clock
        self._started = False
        self._sinks: list[MediaBlackhole] = []
        self.pc.addTrack(self.track)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    async def answer(self, offer_sdp: str) -> RTCSessionDescription:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription

    async def add_candidate(
        self, candidate: str | None, sdp_mid: str | None, index: int | None
    ) -> None:
        if candidate is None or not candidate.strip():
            return  # end of candidates: aiortc needs no signal for it
        parsed = candidate_from_sdp(
            candidate.split(":", 1)[1] if candidate.startswith("candidate:") else candidate
        )
        parsed.sdpMid, parsed.sdpMLineIndex = sdp_mid, index
        await self.pc.addIceCandidate(parsed)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            for transceiver in self.pc.getTransceivers():
                if transceiver.receiver.track is track:
                    listen_directly(transceiver.receiver)  # no playout delay, no thread: see there
            self._tasks.start(self._listen(track), "listen")
        else:  # every accepted track is read, or it piles up in memory
            sink = MediaBlackhole()
            sink.addTrack(track)
            self._sinks.append(sink)
            self._tasks.start(sink.start(), "sink")

    async def _on_connection_state(self) -> None:
        if self.pc.connectionState == "failed":
            self._listener.media_failed()

    async def _listen(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16_000)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            if not self._started:
                self._started = True
                await self._listener.media_started()
            sent_at = self._sent_at(frame)
            for out in resampler.resample(frame):
                samples: Samples = out.to_ndarray().reshape(-1).astype(np.float32)
                probabilities = await self._vad.feed(samples)
                if self._echo_guard:
                    probabilities = self._without_echo(samples, sent_at, probabilities)
                await self._listener.heard(samples, probabilities)

    def _sent_at(self, frame: av.AudioFrame) -> float:
        """When the caller sent `frame`, on our clock: its RTP time plus the smallest offset seen
        (the least delayed frame), so the loop's own delays do not blur the echo comparison."""
        now = time.monotonic()
        if frame.pts is None or frame.time_base is None:
            return now
        sent = float(frame.pts * frame.time_base)
        if self._clock_offset is None or now - sent < self._clock_offset:
            self._clock_offset = now - sent
        return sent + self._clock_offset

    def _without_echo(
        self, samples: Samples, at: float, probabilities: Probabilities
    ) -> Probabilities:
        """Speech that is the AI's own voice coming back cannot start a turn (or a barge-in)."""
        now = time.monotonic()
        self.echo.heard(samples, at)
        if (
            len(probabilities)
            and not self._listener.caller_speaking
            and probabilities.max() >= self._start_threshold
            and self.echo.is_echo(now)
        ):
            return np.zeros_like(probabilities)
        return probabilities

    async def aclose(self) -> None:
        """Release the sinks, the track and the peer (the call has stopped the tasks)."""
        for sink in self._sinks:
            await sink.stop()
        self.track.stop()
        await self.pc.close()
