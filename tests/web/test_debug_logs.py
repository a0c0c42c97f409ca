"""No PIN, host token, call session id or API key in the log, even at `LOG_LEVEL=DEBUG`: a real
`parley serve` at DEBUG, a PIN meeting joined by its host and a guest over a websocket and over
long-polling, a call's session joined, an API key configured; then the whole captured log is
searched for each secret.

Before: uvicorn's websocket frame dumps (`< TEXT '42/meetings,1["join",{..."pin":"..."}]'`)
and aiosqlite's operation dumps (with the SQL parameters: session ids, what people wrote) were
written at DEBUG.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio

from tests.live import LiveServer, start_server

pytestmark = pytest.mark.timeout(120)

PIN = "739164205831"
API_KEY = "sk-parley-test-key-0123456789abcdef"
ENV = {
    "LOG_LEVEL": "DEBUG",
    "AI_PRELOAD": "false",
    "AI_LLM": "openai-compatible",
    "LLM_BASE_URL": "http://127.0.0.1:9/v1",
    "LLM_MODEL": "none",
    "LLM_API_KEY": API_KEY,
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    running = start_server(tmp_path, env=ENV)
    yield running
    running.stop()


async def join_meeting(base: str, transport: str, meeting_id: str, token: str) -> None:
    """The host and a guest join with the PIN (first in the payload, so that no dump's
    truncation could hide it), chat, and leave."""
    for name, extra in (("Host", {"hostToken": token}), ("Guest", {})):
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(base, namespaces=["/meetings"], transports=[transport])
        try:
            joined = await client.call(
                "join",
                {"pin": PIN, **extra, "meetingId": meeting_id, "displayName": name},
                namespace="/meetings",
                timeout=15,
            )
            assert joined["ok"] is True, joined
            await client.call("chat", {"text": f"my pin is {PIN}"}, namespace="/meetings")
        finally:
            await close(client)


async def join_call(base: str, transport: str, call: dict[str, str]) -> None:
    client = socketio.AsyncClient(reconnection=False)
    joined = asyncio.Event()
    client.on("joined-session", lambda _: joined.set(), namespace="/signaling")
    await client.connect(base, namespaces=["/signaling"], transports=[transport])
    try:
        payload = {"sessionId": call["sessionId"], "peerId": "caller", "callId": call["id"]}
        await client.emit("join-session", payload, namespace="/signaling")
        await asyncio.wait_for(joined.wait(), 15)
    finally:
        await close(client)


async def close(client: socketio.AsyncClient) -> None:
    """At once: a polite disconnect over polling waits for the long poll to end (~25 s)."""
    await client.eio.disconnect(abort=True)
    if client.eio.http is not None:
        await client.eio.http.close()


async def test_no_secret_reaches_the_log_at_debug(server: LiveServer) -> None:
    base = server.url
    secrets: dict[str, str] = {"PIN": PIN, "API key": API_KEY}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for transport in ("websocket", "polling"):
            created = await http.post("/api/v1/meetings", json={"title": "Board", "pin": PIN})
            data = created.json()["data"]
            secrets[f"host token ({transport})"] = data["hostToken"]
            await join_meeting(base, transport, data["meeting"]["id"], data["hostToken"])
            made = await http.post("/api/v1/calls", json={"callerNumber": "01012345678"})
            call = made.json()["data"]["call"]
            secrets[f"session id ({transport})"] = call["sessionId"]
            await join_call(base, transport, call)
    server.stop()
    log = server.log()
    assert '"level": "debug"' in log  # DEBUG is on: something was written at it
    leaked = {name for name, value in secrets.items() if value in log}
    for name, value in secrets.items():  # a token's signature alone is as bad
        if "token" in name and value.rsplit(".", 1)[-1] in log:
            leaked.add(name + ", its signature")
    assert leaked == set()
