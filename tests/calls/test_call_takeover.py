"""Nobody takes over a call (issue 12, item 3): a stranger who has a live call's session id (the
listing no longer hands it out, but say it leaked) can neither join its signaling session, nor
hear its events, nor end it; the caller's own client may join again once its old connection is
gone. A real aiortc caller and real Socket.IO clients against the real app on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from parley.ai.engine import AIEngine
from tests.calls.test_live_call import dial, hang_up, serving

NS = "/signaling"


@pytest.fixture
async def server(tmp_path: Path, local_engine: AIEngine) -> AsyncIterator[tuple[str, Any]]:
    async with serving(tmp_path, local_engine) as running:
        yield running


class Client:
    """A bare Socket.IO client of `/signaling` that records what it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient()
        self.events: list[tuple[str, Any]] = []

        @self.sio.on("*", namespace=NS)  # type: ignore[untyped-decorator]
        async def record(event: str, payload: Any) -> None:
            self.events.append((event, payload))

    async def connect(self, base: str) -> Client:
        await self.sio.connect(base, namespaces=[NS], transports=["websocket"])
        return self

    async def send(self, event: str, payload: dict[str, Any]) -> Any:
        """Emit, and wait for the server's answer (an event it sends back)."""
        count = len(self.events)
        await self.sio.emit(event, payload, namespace=NS)
        for _ in range(250):
            if len(self.events) > count:
                return self.events[count]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no answer to {event}")


async def test_a_stranger_with_the_session_id_cannot_join_hear_or_end_the_call(
    server: tuple[str, Any],
) -> None:
    base, app = server
    caller = await dial(base)  # joined, offered, media flowing
    await caller.wait_for("call-state", lambda p: p["status"] == "IN_PROGRESS")
    call_id, session_id = caller.call["id"], caller.call["sessionId"]
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/api/v1/calls")).status_code == 401  # no listing to take it from

    stranger = await Client().connect(base)
    leaked = {"sessionId": session_id, "peerId": "stranger"}
    for join in (leaked, {**leaked, "callId": call_id}):
        event, payload = await stranger.send("join-session", join)
        assert (event, payload.get("code")) == ("error", "SESSION_TAKEN"), payload
    for event_name in ("leave-session", "offer", "ice-candidate"):
        extra = {"offer": {"type": "offer", "sdp": "v=0 " * 10}} if event_name == "offer" else {}
        event, payload = await stranger.send(event_name, {**leaked, **extra})
        assert (event, payload.get("code")) == ("error", "NOT_JOINED")

    # The caller's call goes on, and only the caller hears it.
    greeting = await caller.wait_for("transcript", lambda p: p["turn"] == 0 and p["final"])
    assert greeting["text"]
    heard = {event for event, _ in stranger.events}
    assert heard == {"error"}, stranger.events
    assert app.state.services.live.get(call_id) is not None
    status = (await caller.http.get(f"/api/v1/calls/{call_id}")).json()["data"]["call"]["status"]
    assert status == "IN_PROGRESS"

    await stranger.sio.disconnect()  # the stranger's going changes nothing either
    await asyncio.sleep(0.3)
    assert app.state.services.live.get(call_id) is not None
    await hang_up(caller)


async def test_the_caller_rejoins_once_its_old_connection_is_gone(
    server: tuple[str, Any],
) -> None:
    """A network drop: the session is held while the old connection lives, and is free as soon
    as the server sees it go; the call (not yet live) then goes on from the new connection."""
    base, app = server
    first = await dial(base, offer=False)
    session = {"sessionId": first.call["sessionId"], "peerId": "caller-1"}
    second = await Client().connect(base)
    event, payload = await second.send("join-session", session)
    assert (event, payload.get("code")) == ("error", "SESSION_TAKEN")

    await first.sio.disconnect()
    for _ in range(100):
        holders = app.state.shell.sockets.server.namespace_handlers[NS].holders
        if not len(app.state.services.live) and not holders:
            break
        await asyncio.sleep(0.02)
    event, payload = await second.send("join-session", session)
    assert (event, payload) == ("joined-session", session)
    status = (await first.http.get(f"/api/v1/calls/{first.call['id']}")).json()["data"]["call"]
    assert status["status"] == "RINGING"
    await second.sio.emit("leave-session", session, namespace=NS)
    await asyncio.sleep(0.3)
    await second.sio.disconnect()
    await first.http.aclose()


async def test_joining_another_session_lets_the_first_one_go(server: tuple[str, Any]) -> None:
    """One connection carries one call at a time: it cannot keep sessions it moved away from."""
    base, _ = server
    async with httpx.AsyncClient(base_url=base) as http:
        sessions = []
        for _ in range(2):
            call = (await http.post("/api/v1/calls", json={"callerNumber": "01012345678"})).json()
            sessions.append({"sessionId": call["data"]["call"]["sessionId"], "peerId": "p"})
    mover, other = await Client().connect(base), await Client().connect(base)
    for session in sessions:
        assert (await mover.send("join-session", session))[0] == "joined-session"
    assert (await other.send("join-session", sessions[0]))[0] == "joined-session"
    event, payload = await other.send("join-session", sessions[1])
    assert (event, payload.get("code")) == ("error", "SESSION_TAKEN")
    for client in (mover, other):
        await client.sio.disconnect()
