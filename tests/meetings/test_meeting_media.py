"""Meetings with real media: the real app starts a real Janus, and aiortc participants publish and
subscribe through `/meetings` as browsers do. Everything runs in a network namespace the test
creates (Janus never uses loopback for ICE; see tests/netns.py): the app listens on its
127.0.0.1, media flows over its veth address.

Checked: two participants decode each other's video and audio; a camera turned off is told to
the other; the host's mute stops that participant's sound in Janus; someone leaving drops out
of the others' subscriptions; Janus killed mid-meeting is restarted, the participants are told
and get back in. (Three and more, with renegotiated subscriptions, are tested with Chromium in
tests/web/test_meeting_page.py: aiortc routes the RTP of a second video m-line added by a
renegotiation to the wrong receiver.)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from parley.janus.process import JanusSupervisor
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.meetings.client import create_meeting, eventually
from tests.meetings.rtc_participant import Pattern, RtcParticipant, Tone, rtc_participant
from tests.netns import Netns, network_namespace

pytestmark = [
    pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed"),
    pytest.mark.timeout(180),
]


def settings_in(ns: Netns, data_dir: Path) -> Any:
    return make_settings(
        data_dir,
        janus={"enabled": True, "ice_enforce_list": ns.interface},
        webrtc={"stun_server_urls": []},
        **IDLE_AI,
    )


async def enter(
    stack: AsyncExitStack, base: str, meeting_id: str, name: str, **extra: Any
) -> RtcParticipant:
    """A participant (closed with `stack`) that joined and published."""
    person = await stack.enter_async_context(rtc_participant(base))
    await person.client.join(meeting_id, name, **extra)
    reply = await person.publish()
    assert reply["ok"], reply
    return person


def test_two_participants_see_and_hear_each_other_and_the_host_mutes(tmp_path: Path) -> None:
    with network_namespace() as ns:
        ns.run(_two_participants(ns, tmp_path), timeout_s=150)


async def _two_participants(ns: Netns, tmp_path: Path) -> None:
    async with serve_app(settings_in(ns, tmp_path)) as (base, app):
        meeting, token = await create_meeting(base)
        started = time.monotonic()
        async with AsyncExitStack() as stack, AsyncExitStack() as ben_stack:
            ann = await enter(stack, base, meeting["id"], "Ann", hostToken=token)
            ben = await enter(ben_stack, base, meeting["id"], "Ben")
            await ann.wait_decoding([ben.id])
            await ben.wait_decoding([ann.id])
            firsts = [p.first_frame_at - started for p in (ann, ben) if p.first_frame_at]
            print(f"join -> first remote video frame: {max(firsts):.2f} s at most")

            # Camera off is told to the others.
            await ben.client.ok("media", {"cameraOn": False})
            seen = await ann.client.wait_for(
                "participant-updated",
                lambda p: p["participant"]["id"] == ben.id and not p["participant"]["cameraOn"],
            )
            assert seen["participant"]["publishing"] is True

            # The host mutes Ben: Janus stops relaying his sound, not his video.
            await ann.client.ok("mute", {"participantId": ben.id})
            await ben.client.wait_for("muted-by-host")
            await asyncio.sleep(0.5)
            audio, video = ann.decoded(ben.id, "audio"), ann.decoded(ben.id, "video")
            await asyncio.sleep(1.5)
            assert ann.decoded(ben.id, "audio") - audio < 5
            assert ann.decoded(ben.id, "video") - video > 10
            await ann.client.ok("mute", {"participantId": ben.id, "mute": False})
            audio = ann.decoded(ben.id, "audio")
            await asyncio.sleep(1.5)
            assert ann.decoded(ben.id, "audio") - audio > 30

            # Ben leaves: Ann is told, and her subscription drops his streams.
            offers = ann.negotiations
            await ben.client.ok("leave")
            await ben_stack.aclose()
            left = await ann.client.wait_for("participant-left")
            assert left["participantId"] == ben.id
            media = app.state.services.media.get(ann.id)
            await eventually(
                lambda: not [s for s in media.streams if s.active],
                what="Ben's streams dropped from Ann's subscription",
            )
            await eventually(lambda: ann.negotiations > offers, what="Ann renegotiated")
        await eventually(lambda: len(app.state.services.media) == 0, what="all media closed")


def test_join_publish_and_chat_sent_at_once_are_handled_in_order(tmp_path: Path) -> None:
    with network_namespace() as ns:
        ns.run(_join_publish_chat(ns, tmp_path), timeout_s=120)


async def _join_publish_chat(ns: Netns, tmp_path: Path) -> None:
    """A participant sends `join`, `publish` and `chat` back to back (its offer made before it
    joined): the join is answered first, Janus answers the offer, the chat is posted after both,
    and the other participant then receives the newcomer's media."""
    async with serve_app(settings_in(ns, tmp_path)) as (base, _):
        meeting, _ = await create_meeting(base)
        async with AsyncExitStack() as stack:
            ann = await enter(stack, base, meeting["id"], "Ann")
            quick = await stack.enter_async_context(rtc_participant(base))
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            quick.publisher = pc
            pc.addTransceiver(Tone(), direction="sendonly")
            pc.addTransceiver(Pattern(), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            offer = {"type": "offer", "sdp": pc.localDescription.sdp}
            joined, published, chatted = await quick.client.burst(
                ("join", {"meetingId": meeting["id"], "displayName": "Quick"}),
                ("publish", {"jsep": offer}),
                ("chat", {"text": "hello, all"}),
            )
            assert joined["ok"], joined
            quick.client.joined = joined
            assert published["ok"], published
            assert chatted["ok"], chatted
            await pc.setRemoteDescription(RTCSessionDescription(**published["jsep"]))
            message = await ann.client.wait_for("chat-message")
            assert message["message"]["text"] == "hello, all"
            await ann.wait_decoding([quick.id])


def test_janus_killed_mid_meeting_is_restarted_and_everyone_gets_back_in(
    tmp_path: Path,
) -> None:
    with network_namespace() as ns:
        ns.run(_janus_restart(ns, tmp_path), timeout_s=150)


async def _janus_restart(ns: Netns, tmp_path: Path) -> None:
    async with serve_app(settings_in(ns, tmp_path)) as (base, app):
        meeting, _ = await create_meeting(base)
        async with AsyncExitStack() as stack:
            ann = await enter(stack, base, meeting["id"], "Ann")
            ben = await enter(stack, base, meeting["id"], "Ben")
            await ann.wait_decoding([ben.id])
            supervisor = app.state.services.janus.server
            assert isinstance(supervisor, JanusSupervisor)
            old_pid = supervisor.pid
            assert old_pid is not None
            os.kill(old_pid, signal.SIGKILL)
            for person in (ann, ben):
                await person.client.wait_for("media-interrupted")
            for person in (ann, ben):
                await person.client.wait_for("media-restored", within=30)
            assert supervisor.pid not in (None, old_pid)
            for person in (ann, ben):  # as a browser does on media-restored
                await person.restart()
            await ann.wait_decoding([ben.id])
            await ben.wait_decoding([ann.id])
