"""A meeting participant with real WebRTC: aiortc peer connections to Janus, negotiated through
`/meetings` exactly as a browser does (publish with an offer; answer every `subscriber-offer`).

It publishes a test pattern and a tone, and counts the frames it decodes from every other
participant, by participant id (through the `streams` of the subscriber offers).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from av import AudioFrame, VideoFrame

from tests.meetings.client import NAMESPACE, Participant, connected

RATE = 48_000
SAMPLES = 960


class Tone(MediaStreamTrack):
    """A 440 Hz tone, paced at 20 ms."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._pts / RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = (np.arange(SAMPLES) + self._pts) / RATE
        pcm = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._pts, fractions.Fraction(1, RATE)
        self._pts += SAMPLES
        return frame


class Pattern(VideoStreamTrack):
    """A moving 320x240 test pattern."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = np.zeros((240, 320, 3), np.uint8)
        image[:, (pts // 3000) % 320] = 255
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclass
class RtcParticipant:
    """`client` plus its two peer connections; `frames[participant_id][kind]` counts what it
    decoded from each other participant, `first_frame_at` when the first video frame came."""

    client: Participant
    publisher: RTCPeerConnection | None = None
    subscriber: RTCPeerConnection | None = None
    mids: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # mid -> (who, kind)
    frames: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {"audio": 0, "video": 0})
    )
    first_frame_at: float | None = None
    negotiations: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def id(self) -> str:
        return self.client.id

    async def publish(self) -> dict[str, Any]:
        """Send the tone and the pattern; the `publish` acknowledgement."""
        if self.publisher is not None:
            await self.publisher.close()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(Tone(), direction="sendonly")
        pc.addTransceiver(Pattern(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        self.publisher = pc
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        reply = await self.client.request(
            "publish", {"jsep": offer, "micOn": True, "cameraOn": True}
        )
        if reply["ok"]:
            await pc.setRemoteDescription(RTCSessionDescription(**reply["jsep"]))
        return dict(reply)

    async def restart(self) -> None:
        """Media again from scratch (after `media-restored`): a new subscriber connection comes
        with the next offer, and the participant publishes again."""
        if self.subscriber is not None:
            await self.subscriber.close()
            self.subscriber = None
        self.mids.clear()
        self.frames.clear()
        reply = await self.publish()
        assert reply["ok"], reply

    async def on_offer(self, payload: dict[str, Any]) -> None:
        async with self._lock:  # offers are answered one at a time, in order
            if self.subscriber is None:
                self.subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                self.subscriber.on("track", self._on_track)
            for stream in payload["streams"]:
                self.mids[stream["mid"]] = (stream["participantId"], stream["type"])
            await self.subscriber.setRemoteDescription(RTCSessionDescription(**payload["jsep"]))
            await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
            answer = {"type": "answer", "sdp": self.subscriber.localDescription.sdp}
            reply = await self.client.request("subscriber-answer", {"jsep": answer})
            assert reply["ok"], reply
            self.negotiations += 1

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self.subscriber is not None
        mid = next(
            (t.mid for t in self.subscriber.getTransceivers() if t.receiver.track is track), None
        )
        self._tasks.append(asyncio.ensure_future(self._count(track, mid)))

    async def _count(self, track: MediaStreamTrack, mid: str | None) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                who, kind = self.mids.get(mid or "", (None, track.kind))
                if who is None:
                    continue
                self.frames[who][kind] += 1
                if kind == "video" and self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()

    def decoded(self, who: str, kind: str) -> int:
        return self.frames[who][kind]

    async def wait_decoding(
        self, who: list[str], *, video: int = 10, audio: int = 20, within: float = 20
    ) -> None:
        """Until at least `video` and `audio` frames have come from each of `who`."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if all(
                self.decoded(w, "video") >= video and self.decoded(w, "audio") >= audio for w in who
            ):
                return
            await asyncio.sleep(0.05)
        counts = {w: dict(self.frames[w]) for w in who}
        raise AssertionError(
            f"{self.id} decoded too little within {within}s: {counts}; mids {self.mids}"
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                await pc.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@asynccontextmanager
async def rtc_participant(base: str) -> AsyncIterator[RtcParticipant]:
    async with connected(base) as client:
        person = RtcParticipant(client)

        @client.sio.on("subscriber-offer", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
        async def offered(payload: dict[str, Any]) -> None:
            client.events.append((time.monotonic(), "subscriber-offer", payload))
            await person.on_offer(payload)

        try:
            yield person
        finally:
            await person.close()
