"""Malformed Engine.IO and Socket.IO packets, sent by a raw client to the real app (uvicorn on
loopback), are dropped quietly: no traceback and no ERROR in the log, at most one WARNING per
connection, every one counted in `/metrics`, and a connection that keeps sending them is closed.
A client emitting `disconnect` as an ordinary event stays in its meeting.

Before: 2,000 such packets wrote ~1,470 tracebacks, from python-engineio, python-socketio,
uvicorn and asyncio alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parley.web.packets import MAX_PER_CONNECTION
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.meetings.client import connected, create_meeting

pytestmark = pytest.mark.timeout(180)

# Each is malformed once, and counted once: at the Engine.IO layer (the first four) or at the
# Socket.IO layer (the rest).
GARBAGE = [
    "",  # an empty frame
    "x",  # not an Engine.IO packet type
    "9",  # an Engine.IO packet type that does not exist
    "b4AAAA",  # base64 "binary" over a websocket
    "4",  # an empty Socket.IO packet
    "42/meetings,[1,{}]",  # a non-string event name
    "42/meetings,[null]",
    "42/meetings,{}",  # not an array
    "42/meetings,[",  # bad JSON
    '42/meetings,["chat",{"text":"hi"}',
    '451-/meetings,["chat",{"_placeholder":true,"num":0}]',  # a binary event (attachments)
    '4999999-/meetings,["chat"]',  # an absurd attachment count
    '42/meetings,["disconnect"]',  # the server's own event
    '42/meetings,["connect",{}]',
    "44/meetings,{}",  # CONNECT_ERROR, which only servers send
    "48/meetings,[]",  # no such Socket.IO packet type
    "41234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "01234567890123456789012345678/meetings,[]",  # an id too long
]
BAD_BODIES = ["x", "9", "4\x1e", "b4A", "\x1e\x1e", "4" + "\x1e4" * 20]  # polling payloads


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    async with serve_app(make_settings(tmp_path, **IDLE_AI)) as running:
        yield running


def websocket_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def open_meetings(base: str) -> ClientConnection:
    """A raw websocket connected to `/meetings`."""
    ws = await connect(websocket_url(base))
    assert str(await ws.recv()).startswith('0{"sid":')
    await ws.send("40/meetings,")
    assert str(await ws.recv()).startswith('40/meetings,{"sid":')
    return ws


async def answer(ws: ClientConnection, within: float = 5) -> str:
    """The next frame that is not an Engine.IO ping (answered, as a client must)."""
    while True:
        frame = str(await asyncio.wait_for(ws.recv(), within))
        if frame != "2":
            return frame
        await ws.send("3")


async def still_answers(ws: ClientConnection, ack: int) -> None:
    """The connection still works: a request gets its acknowledgement."""
    await ws.send(f'42/meetings,{ack}["leave",{{}}]')
    reply = await answer(ws)
    while not reply.startswith(f"43/meetings,{ack}["):  # its `error` event comes first
        assert reply.startswith('42/meetings,["error"'), reply
        reply = await answer(ws)
    assert '"NOT_JOINED"' in reply


async def closed(ws: ClientConnection) -> bool:
    """Whether the server closes the connection (within 5 s), whatever it sends before."""
    try:
        while True:  # Engine.IO's CLOSE packet ("1") may come first
            await answer(ws)
    except ConnectionClosed:
        return True
    except TimeoutError:
        return False


async def metrics(base: str) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=base) as http:
        figures: dict[str, int] = (await http.get("/metrics?format=json")).json()["sockets"]
        return figures


def problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()[:200]}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info is not None
    ]


def warnings_of_packets(caplog: pytest.LogCaptureFixture) -> int:
    return sum(
        r.name == "parley.web.packets" and r.levelno == logging.WARNING for r in caplog.records
    )


async def websocket_garbage(base: str, frames: list[str]) -> None:
    ws = await open_meetings(base)
    try:
        for frame in frames:
            await ws.send(frame)
        await still_answers(ws, 7)
    finally:
        await ws.close()


async def polling_garbage(base: str, bodies: list[str]) -> None:
    query = {"EIO": "4", "transport": "polling"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        opened = await http.get("/socket.io/", params=query)
        query["sid"] = json.loads(opened.text[1:])["sid"]
        for body in bodies:
            refused = await http.post("/socket.io/", params=query, content=body.encode())
            assert refused.status_code == 400, body
        assert (await http.post("/socket.io/", params=query, content=b"40/meetings,")).is_success
        assert (await http.get("/socket.io/", params=query)).text.startswith("40/meetings,")
        await http.post("/socket.io/", params=query, content=b"1")  # close


async def test_two_thousand_malformed_packets_leave_no_traceback(
    app: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    base, http_app = app
    caplog.set_level(logging.INFO)
    per_connection = MAX_PER_CONNECTION - 1  # one short of being closed
    frames = [GARBAGE[i % len(GARBAGE)] for i in range(150 * per_connection)]
    bodies = [BAD_BODIES[i % len(BAD_BODIES)] for i in range(75 * per_connection)]
    chunks = [frames[i : i + per_connection] for i in range(0, len(frames), per_connection)]
    for start in range(0, len(chunks), 25):  # 25 connections at a time
        await asyncio.gather(*(websocket_garbage(base, c) for c in chunks[start : start + 25]))
    posts = [bodies[i : i + per_connection] for i in range(0, len(bodies), per_connection)]
    for start in range(0, len(posts), 25):
        await asyncio.gather(*(polling_garbage(base, p) for p in posts[start : start + 25]))
    await asyncio.sleep(0.5)  # the last packets' tasks

    assert len(frames) + len(bodies) == 2025
    assert problems(caplog) == []
    assert warnings_of_packets(caplog) == len(chunks) + len(posts)  # one per connection
    figures = await metrics(base)
    assert figures == {"malformedPackets": 2025, "closedForMalformed": 0}
    server = http_app.state.shell.sockets.server
    assert server.garbage.connections == 0  # nothing kept of closed connections


@pytest.mark.parametrize("frame", ["", "42/meetings,["], ids=["engineio", "socketio"])
async def test_a_connection_that_keeps_sending_garbage_is_closed(
    app: tuple[str, Any], caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    base, _ = app
    caplog.set_level(logging.INFO)
    ws = await open_meetings(base)
    for _ in range(MAX_PER_CONNECTION):
        await ws.send(frame)
    assert await closed(ws)
    assert problems(caplog) == []
    assert warnings_of_packets(caplog) == 1
    assert await metrics(base) == {
        "malformedPackets": MAX_PER_CONNECTION,
        "closedForMalformed": 1,
    }


async def test_a_polling_session_that_keeps_sending_garbage_is_closed(
    app: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    base, http_app = app
    caplog.set_level(logging.INFO)
    query = {"EIO": "4", "transport": "polling"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        opened = await http.get("/socket.io/", params=query)
        query["sid"] = json.loads(opened.text[1:])["sid"]
        for _ in range(MAX_PER_CONNECTION):
            await http.post("/socket.io/", params=query, content=b"x")
    server = http_app.state.shell.sockets.server
    assert query["sid"] not in server.eio.sockets  # the session is no more
    assert problems(caplog) == []
    assert (await metrics(base))["closedForMalformed"] == 1


async def test_disconnect_sent_as_an_event_does_not_remove_the_member(
    app: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    base, _ = app
    meeting, token = await create_meeting(base, hostName="Mina")
    async with connected(base) as host:
        await host.join(meeting["id"], "Mina", hostToken=token)
        ws = await open_meetings(base)
        join = {"meetingId": meeting["id"], "displayName": "Eve"}
        await ws.send(f"42/meetings,1{json.dumps(['join', join])}")
        assert '"ok":true' in await answer(ws)
        await host.wait_for("participant-joined")

        await ws.send('42/meetings,["disconnect"]')
        await ws.send('42/meetings,["disconnect","client namespace disconnect"]')
        await ws.send('42/meetings,2["chat",{"text":"still here"}]')
        reply = await answer(ws)
        while not reply.startswith("43/meetings,2"):  # the chat message is relayed first
            reply = await answer(ws)
        assert '"ok":true' in reply, reply
        assert not host.received("participant-left")
        async with httpx.AsyncClient(base_url=base) as http:
            now = (await http.get(f"/api/v1/meetings/{meeting['id']}")).json()
        assert now["data"]["meeting"]["participantCount"] == 2
        await ws.close()
        left = await host.wait_for("participant-left")  # a real disconnect still removes her
        assert left["reason"] == "disconnected"
    assert problems(caplog) == []
