"""Media really flows through a Janus that Parley runs: a peer publishes audio and video in a
VideoRoom room, an aiortc peer subscribes, and the subscriber decodes what was sent. The
publisher is aiortc, then headless Chromium (Debian's, driven by Playwright) with its fake
camera and microphone.

Janus never gathers ICE candidates on loopback, and tests may use no other address of this
machine, so each test runs in a network namespace that it makes (`tests/netns.py`), on a thread
inside it: Janus (a child of that thread, so in the namespace too) with its WebSocket on the
namespace's 127.0.0.1, the peers, and Chromium. ICE uses the namespace's veth address only
(`ice_enforce_list` for Janus, `use_host_addresses` for aioice). No ICE servers anywhere, and the
namespace has no route out: nothing leaves it.

Every peer puts all its candidates in its SDP and Janus does the same (half-trickle: its host
candidates are gathered at once), so the jseps say `trickle: false` and no trickle is exchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame
from playwright.async_api import Route, async_playwright

from parley.config import JanusSettings, load_settings
from parley.janus import Janus
from parley.janus.client import EventKind, JanusEvent, JanusHandle, JanusSession
from parley.janus.process import JanusSupervisor
from parley.janus.videoroom import PLUGIN, RoomSpec, VideoRoomAdmin
from parley.rtc.ice import use_host_addresses
from tests.netns import Netns, network_namespace, thread_namespace

pytestmark = [
    pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed"),
    pytest.mark.timeout(60),
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# 127.0.0.1 is a secure context (getUserMedia needs one); Playwright answers for it, no server.
PAGE_URL = "http://127.0.0.1/publisher.html"
PUBLISHER_PAGE = """<!doctype html><title>publisher</title><script>
async function publish() {
  const stream = await navigator.mediaDevices.getUserMedia(
    {audio: true, video: {width: 320, height: 240}});
  const pc = window.pc = new RTCPeerConnection({iceServers: []});
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  const gathered = new Promise(done => pc.addEventListener("icegatheringstatechange",
    () => pc.iceGatheringState === "complete" && done()));
  await pc.setLocalDescription(await pc.createOffer());
  await gathered;
  return pc.localDescription.sdp;
}
</script>"""

WANTED_VIDEO_FRAMES = 20  # ~0.7 s at 30 fps
WANTED_AUDIO_FRAMES = 50  # 1 s of 20 ms frames
WITHIN_S = 10  # for those frames to arrive once the subscriber started


def janus_settings(**values: Any) -> JanusSettings:
    return load_settings(None, janus={"enabled": True, **values}).janus


class MovingPicture(VideoStreamTrack):
    """Small (160x120) frames whose brightness changes, at 30 fps: cheap to encode."""

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._count += 1
        image = np.full((120, 160, 3), self._count * 7 % 256, np.uint8)
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclass
class Received:
    """What the subscriber decoded, and when (monotonic)."""

    video: int = 0
    audio: int = 0
    first_video_at: float | None = None
    sizes: set[tuple[int, int]] = field(default_factory=set)

    def enough(self) -> bool:
        return self.video >= WANTED_VIDEO_FRAMES and self.audio >= WANTED_AUDIO_FRAMES


@dataclass
class Outcome:
    """What a test learned inside its namespace, checked outside it."""

    received: Received
    start_to_first_video_s: float  # from the subscriber's `start` to its first decoded frame
    janus_candidates: set[str]  # the addresses in Janus's offer to the subscriber
    janus_pid: int
    janus_in_namespace: bool


@dataclass
class Meeting:
    """Janus running in the namespace, one room in it, one session for the test's handles."""

    ns: Netns
    janus: Janus
    admin: VideoRoomAdmin
    session: JanusSession
    room: int
    publisher: JanusHandle | None = None
    pcs: list[RTCPeerConnection] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def peer(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # None: Google's STUN
        self.pcs.append(pc)
        return pc

    def janus_in_namespace(self) -> tuple[int, bool]:
        supervisor = self.janus.server
        assert isinstance(supervisor, JanusSupervisor)
        assert supervisor.pid is not None
        inode = os.stat(f"/proc/{supervisor.pid}/ns/net").st_ino
        return supervisor.pid, inode == self.ns.inode

    async def publish(self, offer_sdp: str) -> tuple[int, str]:
        """Join the room as a publisher with this offer: the feed's id and Janus's answer."""
        handle = await self.session.attach(PLUGIN)
        joined = await handle.message(
            {
                "request": "joinandconfigure",
                "ptype": "publisher",
                "room": self.room,
                "display": "publisher",
                "audio": True,
                "video": True,
            },
            {"type": "offer", "sdp": offer_sdp, "trickle": False},
        )
        assert joined.data["videoroom"] == "joined", joined.data
        assert joined.jsep is not None
        assert joined.jsep["type"] == "answer"
        self.publisher = handle
        return int(joined.data["id"]), str(joined.jsep["sdp"])

    async def wait_published(self, feed: int) -> None:
        """Until the feed's PeerConnection is up: only then can anyone subscribe to it."""
        assert self.publisher is not None
        async with asyncio.timeout(WITHIN_S):
            await next_event(self.publisher, EventKind.WEBRTCUP)
        listed = await self.admin.list_participants(self.room)
        assert [(p.id, p.publisher) for p in listed] == [(feed, True)]

    async def subscribe(self, feed: int) -> Outcome:
        """An aiortc subscriber to the feed, until it decoded enough audio and video."""
        received = Received()
        pc = self.peer()

        def on_track(track: MediaStreamTrack) -> None:
            self.tasks.append(asyncio.create_task(consume(track, received)))

        pc.on("track", on_track)
        handle = await self.session.attach(PLUGIN)
        attached = await handle.message(
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": [{"feed": feed}],
            }
        )
        assert attached.data["videoroom"] == "attached", attached.data
        assert attached.jsep is not None
        assert attached.jsep["type"] == "offer"
        offer_sdp = str(attached.jsep["sdp"])
        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        assert candidate_addresses(pc.localDescription.sdp) == {self.ns.address}
        started_at = time.monotonic()
        started = await handle.message({"request": "start"}, jsep_of(pc))
        assert started.data.get("started") == "ok", started.data
        await until(received.enough, within_s=WITHIN_S, what=lambda: str(received))
        assert received.first_video_at is not None
        pid, in_namespace = self.janus_in_namespace()
        return Outcome(
            received=received,
            start_to_first_video_s=received.first_video_at - started_at,
            janus_candidates=candidate_addresses(offer_sdp),
            janus_pid=pid,
            janus_in_namespace=in_namespace,
        )

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        for pc in self.pcs:
            await pc.close()
        await self.admin.destroy(self.room)
        await self.session.destroy()


@contextlib.asynccontextmanager
async def meeting(ns: Netns) -> AsyncIterator[Meeting]:
    """Janus (Parley's supervisor) in the namespace, ICE on its veth only, and a room."""
    assert thread_namespace() == ns.inode  # so Janus starts in it, and our sockets are in it
    use_host_addresses([ns.address])  # process-wide (aioice): reset below
    try:
        janus = await Janus.open(janus_settings(ice_enforce_list=ns.interface))
        try:
            session = await janus.client.create_session()
            admin = await VideoRoomAdmin.attach(janus.client, session)
            spec = RoomSpec(description="media", audiocodec="opus", videocodec="vp8")
            room = Meeting(ns, janus, admin, session, await admin.create(spec))
            try:
                yield room
            finally:
                await room.aclose()
        finally:
            await janus.aclose()
    finally:
        use_host_addresses(None)


async def consume(track: MediaStreamTrack, received: Received) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            if track.kind == "video":
                assert isinstance(frame, VideoFrame)
                if received.first_video_at is None:
                    received.first_video_at = time.monotonic()
                received.video += 1
                received.sizes.add((frame.width, frame.height))
            else:
                received.audio += 1


def jsep_of(pc: RTCPeerConnection) -> dict[str, Any]:
    """aiortc's local description: all its candidates are in it, so no trickle follows."""
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp, "trickle": False}


def candidate_addresses(sdp: str) -> set[str]:
    """The connection addresses of the SDP's ICE candidates (`a=candidate:... udp PRIO ADDR`)."""
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def next_event(handle: JanusHandle, kind: EventKind) -> JanusEvent:
    while True:
        event = await handle.events.get()
        if event.kind is kind:
            return event


async def until(condition: Callable[[], bool], *, within_s: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what()}")
        await asyncio.sleep(0.05)


# -- aiortc publishes -------------------------------------------------------------------------


async def aiortc_to_aiortc(ns: Netns) -> Outcome:
    async with meeting(ns) as room, asyncio.timeout(30):
        publisher = room.peer()
        publisher.addTrack(AudioStreamTrack())  # silence, still encoded and sent
        publisher.addTrack(MovingPicture())
        await publisher.setLocalDescription(await publisher.createOffer())  # gathers them all
        assert candidate_addresses(publisher.localDescription.sdp) == {ns.address}
        feed, answer = await room.publish(publisher.localDescription.sdp)
        assert candidate_addresses(answer) == {ns.address}
        await publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await room.wait_published(feed)
        return await room.subscribe(feed)


def test_aiortc_media_flows_through_janus_in_a_namespace() -> None:
    with network_namespace() as ns:
        outcome = ns.run(aiortc_to_aiortc(ns), timeout_s=45)
    assert outcome.janus_in_namespace
    assert outcome.janus_candidates == {ns.address}  # the veth only: no loopback, nothing else
    assert outcome.received.enough()
    assert outcome.received.sizes == {(160, 120)}
    assert outcome.start_to_first_video_s < 3
    assert not Path(f"/proc/{outcome.janus_pid}").exists()
    assert not ns.path.exists()


# -- Chromium publishes -----------------------------------------------------------------------


async def chromium_to_aiortc(ns: Netns) -> Outcome:
    async with meeting(ns) as room, asyncio.timeout(30), async_playwright() as playwright:
        # Started from this thread: Playwright's driver, and the browser it starts, are in ns.
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()

            async def serve(route: Route) -> None:
                await route.fulfill(body=PUBLISHER_PAGE, content_type="text/html")

            await page.route(PAGE_URL, serve)
            await page.goto(PAGE_URL)
            offer: str = await page.evaluate("publish()")
            assert ns.address in candidate_addresses(offer)  # and 127.0.0.1: Janus ignores it
            feed, answer = await room.publish(offer)
            assert candidate_addresses(answer) == {ns.address}
            await page.evaluate("sdp => pc.setRemoteDescription({type: 'answer', sdp})", answer)
            await room.wait_published(feed)
            return await room.subscribe(feed)
        finally:
            await browser.close()


@pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is not installed")
def test_chromium_media_flows_through_janus_in_a_namespace() -> None:
    with network_namespace() as ns:
        outcome = ns.run(chromium_to_aiortc(ns), timeout_s=45)
    assert outcome.janus_in_namespace
    assert outcome.janus_candidates == {ns.address}
    assert outcome.received.enough()
    assert outcome.start_to_first_video_s < 3
    assert not ns.path.exists()
