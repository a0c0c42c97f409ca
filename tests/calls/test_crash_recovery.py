"""A crash leaves no call unfinished (issue 12, item 6): a real `parley serve` carrying a live
call (media flowing, IN_PROGRESS) and calls in every other unfinished state is killed with
SIGKILL; started again on the same database, it marks them FAILED with the reason, and leaves a
finished call as it was."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx

from parley.rtc.ice import use_host_addresses
from tests.calls.test_live_call import dial
from tests.live import LiveServer, start_server

ENV = {
    "STUN_SERVER_URL": "",
    "ICE_HOST_ADDRESSES": "127.0.0.1",
    "DEFAULT_LANGUAGE": "en",
    "AI_PRELOAD": "false",  # the call needs only the VAD (and the greeting's voice) to go live
}


def kill(server: LiveServer) -> None:
    """SIGKILL: no lifespan, no shutdown, nothing the process could tidy up."""
    server.stopped = True
    server.process.kill()
    server.process.wait(15)


async def new_call(http: httpx.AsyncClient, then: str | None = None) -> str:
    call = (await http.post("/api/v1/calls", json={"callerNumber": "01012345678"})).json()
    call_id: str = call["data"]["call"]["id"]
    if then is not None:
        assert (await http.post(f"/api/v1/calls/{call_id}/{then}")).status_code == 200
    return call_id


async def test_a_killed_servers_unfinished_calls_fail_at_its_next_start(tmp_path: Path) -> None:
    server = await asyncio.to_thread(start_server, tmp_path, ENV, 120)
    use_host_addresses(["127.0.0.1"])  # the caller's peer, in this process
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            ringing = await new_call(http)
            connecting = await new_call(http, "connect")
            ended = await new_call(http, "end")
            caller = await dial(server.url)
            await caller.wait_for("call-state", lambda p: p["status"] == "IN_PROGRESS", 60)
            live = caller.call["id"]
            caller.sio.reconnection = False  # to a server that is gone
            kill(server)
            await caller.pc.close()
            await caller.sio.disconnect()
            if caller.sio.eio.http is not None:  # its server died under it: close it ourselves
                await caller.sio.eio.http.close()
            await caller.http.aclose()
    finally:
        use_host_addresses(None)
        server.stop()

    again = await asyncio.to_thread(start_server, tmp_path, ENV, 120)
    try:
        async with httpx.AsyncClient(base_url=again.url, timeout=30) as http:
            calls = {
                name: (await http.get(f"/api/v1/calls/{call_id}")).json()["data"]["call"]
                for name, call_id in [
                    ("live", live),
                    ("ringing", ringing),
                    ("connecting", connecting),
                    ("ended", ended),
                ]
            }
    finally:
        again.stop()

    for name in ("live", "ringing", "connecting"):
        call = calls[name]
        assert call["status"] == "FAILED", (name, call)
        assert call["failureReason"].startswith("server restarted"), call
        assert call["endedAt"] is not None
    live_call = calls["live"]
    assert live_call["startedAt"] is not None  # it was talking when the process died
    assert _time(live_call["endedAt"]) >= _time(live_call["startedAt"])
    assert calls["ended"]["status"] == "ENDED"
    assert calls["ended"]["failureReason"] is None
    assert again.log().count("unfinished call(s) of node") == 1


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
