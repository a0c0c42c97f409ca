"""Clients written for the original system, as fast as they really are: `join-session` and
`offer` back to back (the original's client has only `createOffer` between them; a Python
client has nothing), with and without `callId` (its published example leaves it out), and a
whole burst — join, offer, three candidates, leave — sent in one go. A real aiortc peer and a
real Socket.IO client against the real app on loopback, with the local models."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from parley.ai.base import AudioChunk
from parley.ai.engine import AIEngine
from tests.calls.test_live_call import Caller, Ear, ScriptedMic, hang_up, serving

NS = "/signaling"


@pytest.fixture
async def server(tmp_path: Path, local_engine: AIEngine) -> AsyncIterator[tuple[str, Any]]:
    async with serving(tmp_path, local_engine) as running:
        yield running


async def caller_with_offer(base: str) -> tuple[Caller, dict[str, str]]:
    """A new call, a connected Socket.IO client that records every event, and an offer made;
    nothing sent yet."""
    http = httpx.AsyncClient(base_url=base, timeout=30)
    created = await http.post("/api/v1/calls", json={"callerNumber": "01012345678"})
    call = created.json()["data"]["call"]
    sio = socketio.AsyncClient()
    caller = Caller(
        http, sio, RTCPeerConnection(RTCConfiguration(iceServers=[])), ScriptedMic(), Ear(), call
    )

    @sio.on("*", namespace=NS)  # type: ignore[untyped-decorator]
    async def record(event: str, payload: Any) -> None:
        caller.events.append((time.monotonic(), event, payload))

    await sio.connect(base, namespaces=[NS], transports=["websocket"])
    caller.pc.addTrack(caller.mic)
    caller.pc.on("track", lambda track: asyncio.ensure_future(caller.ear.listen(track)))
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    offer = {"type": "offer", "sdp": caller.pc.localDescription.sdp}
    return caller, offer


def names(caller: Caller) -> list[str]:
    return [event for _, event, _ in caller.events]


@pytest.mark.parametrize("with_call_id", [True, False], ids=["with-callId", "without-callId"])
async def test_join_and_offer_back_to_back_get_a_greeting_and_an_answer(
    server: tuple[str, Any], english_question: AudioChunk, with_call_id: bool
) -> None:
    base, app = server
    caller, offer = await caller_with_offer(base)
    session = {"sessionId": caller.call["sessionId"], "peerId": "client-peer"}
    join = {**session, "callId": caller.call["id"]} if with_call_id else session
    await caller.sio.emit("join-session", join, namespace=NS)  # no wait in between
    await caller.sio.emit("offer", {**session, "offer": offer}, namespace=NS)

    answer = await caller.wait_for("answer")
    assert not [p for _, e, p in caller.events if e == "error"], caller.events
    assert names(caller).index("joined-session") < names(caller).index("answer")
    await caller.pc.setRemoteDescription(RTCSessionDescription(**answer["answer"]))
    await caller.http.post(f"/api/v1/calls/{caller.call['id']}/connect")  # as the original does

    greeting = await caller.wait_for("transcript", lambda p: p["speaker"] == "ai" and p["final"])
    assert greeting["text"]
    await caller.wait_for("call-state", lambda p: p["status"] == "IN_PROGRESS")
    started = time.monotonic()
    for _ in range(100):
        if caller.ear.loud_since(started - 5) is not None:
            break
        await asyncio.sleep(0.05)
    assert caller.ear.loud_since(started - 5) is not None, "the greeting was not heard"
    await asyncio.sleep(3.5)  # the greeting plays to its end

    spoken = caller.mic.say(english_question)
    heard = await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "caller" and p["final"] and p["text"]
    )
    assert "shoes" in heard["text"].lower()
    reply = await caller.wait_for(
        "transcript", lambda p: p["speaker"] == "ai" and p["turn"] == 1 and p["final"], 60
    )
    assert reply["text"]
    for _ in range(100):
        if caller.ear.loud_since(spoken + 0.2) is not None:
            break
        await asyncio.sleep(0.05)
    assert caller.ear.loud_since(spoken + 0.2) is not None, "the answer was not heard"
    await hang_up(caller)
    assert len(app.state.services.live) == 0


async def test_a_burst_sent_in_one_go_is_handled_in_order(server: tuple[str, Any]) -> None:
    """join, offer, three candidates and leave, with no wait at all: the call is answered, the
    candidates are taken, and the leave comes last — the call ends and nothing is left live."""
    base, app = server
    caller, offer = await caller_with_offer(base)
    session = {"sessionId": caller.call["sessionId"], "peerId": "client-peer"}
    candidates = [
        {
            "candidate": f"candidate:{n} 1 udp {2130706431 - n} 127.0.0.1 {40000 + n} typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        }
        for n in range(3)
    ]
    burst: list[tuple[str, dict[str, Any]]] = [
        ("join-session", session),
        ("offer", {**session, "offer": offer}),
        *[("ice-candidate", {**session, "candidate": c}) for c in candidates],
        ("leave-session", session),
    ]
    await asyncio.gather(*(caller.sio.emit(e, p, namespace=NS) for e, p in burst))

    http = caller.http
    for _ in range(150):
        status = (await http.get(f"/api/v1/calls/{caller.call['id']}")).json()["data"]["call"]
        if status["status"] == "ENDED" and len(app.state.services.live) == 0:
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "ENDED", status
    assert len(app.state.services.live) == 0
    got = names(caller)
    assert not [p for _, e, p in caller.events if e == "error"], caller.events
    assert got.index("joined-session") < got.index("answer"), got
    await caller.sio.disconnect()
    await caller.pc.close()
    await http.aclose()


async def test_a_flood_from_one_client_is_bounded_and_told(server: tuple[str, Any]) -> None:
    """Hundreds of joins at once (each reads the database): the server refuses what is past the
    connection's bound with TOO_MANY_EVENTS, answers every other one, in order, and another
    client is served meanwhile."""
    base, _ = server
    flooder, _ = await caller_with_offer(base)
    session = {
        "sessionId": flooder.call["sessionId"],
        "peerId": "flood",
        "systemPrompt": "x" * 3000,
    }
    count = 600
    await asyncio.gather(
        *(flooder.sio.emit("join-session", session, namespace=NS) for _ in range(count))
    )

    other, _ = await caller_with_offer(base)
    other_session = {"sessionId": other.call["sessionId"], "peerId": "calm"}
    await other.sio.emit("join-session", other_session, namespace=NS)
    await other.wait_for("joined-session", within=10)

    def answered() -> list[str]:
        return [
            e if e != "error" else p["code"]
            for _, e, p in flooder.events
            if e in ("joined-session", "error")
        ]

    for _ in range(300):
        if len(answered()) == count:
            break
        await asyncio.sleep(0.05)
    assert len(answered()) == count, f"{len(answered())} answers to {count} events"
    assert set(answered()) == {"joined-session", "TOO_MANY_EVENTS"}, set(answered())
    for caller in (flooder, other):
        await caller.sio.disconnect()
        await caller.pc.close()
        await caller.http.aclose()
