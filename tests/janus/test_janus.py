"""A real Janus (Debian's `janus`), started through Parley's supervisor on 127.0.0.1.

One Janus serves the module; tests that stop or break Janus start their own. Every Janus started
here is stopped, and the tests check it by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from parley.ai.engine import build_engine
from parley.config import JanusSettings, load_settings
from parley.errors import (
    JanusError,
    JanusPluginError,
    JanusTimeoutError,
    JanusUnavailableError,
)
from parley.janus import Janus
from parley.janus.client import (
    ConnectionEvent,
    ConnectionState,
    EventKind,
    JanusClient,
    JanusEndpoint,
)
from parley.janus.process import JanusSupervisor
from parley.janus.videoroom import NO_SUCH_ROOM, PLUGIN, ROOM_EXISTS, RoomSpec, VideoRoomAdmin
from parley.web.app import create_app
from tests.conftest import make_settings

pytestmark = [
    pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed"),
    pytest.mark.timeout(60),
]


def janus_settings(**values: Any) -> JanusSettings:
    return load_settings(None, janus={"enabled": True, **values}).janus


def supervisor_of(janus: Janus) -> JanusSupervisor:
    assert isinstance(janus.server, JanusSupervisor)
    return janus.server


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def command_of(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _state(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return "gone"


def listening_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


@pytest.fixture(scope="module")
async def janus() -> AsyncIterator[Janus]:
    janus = await Janus.open(janus_settings())
    yield janus
    await janus.aclose()


@pytest.fixture
async def rooms(janus: Janus) -> AsyncIterator[VideoRoomAdmin]:
    session = await janus.client.create_session()
    admin = await VideoRoomAdmin.attach(janus.client, session)
    yield admin
    await session.destroy()


async def test_janus_runs_only_videoroom_over_websockets_on_loopback(janus: Janus) -> None:
    info = await janus.client.info()
    assert info["version_string"].startswith("1.")
    assert list(info["plugins"]) == ["janus.plugin.videoroom"]
    assert list(info["transports"]) == ["janus.transport.websockets"]
    assert info["events"] == {}
    assert info["loggers"] == {}
    assert info["api_secret"] is True
    pid = supervisor_of(janus).pid
    assert pid is not None
    assert command_of(pid) == "janus"
    port = int(janus.client.endpoint.url.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}


async def test_requests_need_the_generated_api_secret(janus: Janus) -> None:
    stranger = JanusClient(JanusEndpoint(janus.client.endpoint.url, api_secret="wrong"))
    await stranger.connect()
    try:
        with pytest.raises(JanusError) as refused:
            await stranger.create_session()
        assert refused.value.janus_code == 403  # JANUS_ERROR_UNAUTHORIZED
    finally:
        await stranger.aclose()


async def test_rooms_are_created_listed_and_destroyed(rooms: VideoRoomAdmin) -> None:
    room = await rooms.create(RoomSpec(description="Weekly sync", secret="room-secret"))
    assert await rooms.exists(room)
    listed = {info.room: info for info in await rooms.list_rooms()}
    assert listed[room].description == "Weekly sync"  # private rooms show with the admin key
    assert await rooms.list_participants(room) == []
    with pytest.raises(JanusPluginError) as unauthorized:
        await rooms.destroy(room, secret="wrong")
    assert unauthorized.value.janus_code == 433
    await rooms.destroy(room, secret="room-secret")
    assert not await rooms.exists(room)


async def test_videoroom_errors_keep_their_codes(rooms: VideoRoomAdmin) -> None:
    with pytest.raises(JanusPluginError) as missing:
        await rooms.destroy(987654321)
    assert missing.value.janus_code == NO_SUCH_ROOM
    assert missing.value.plugin == PLUGIN
    assert "No such room" in missing.value.reason
    room = await rooms.create(RoomSpec(), room=424242)
    try:
        with pytest.raises(JanusPluginError) as taken:
            await rooms.create(RoomSpec(), room=424242)
        assert taken.value.janus_code == ROOM_EXISTS
    finally:
        await rooms.destroy(room)


async def test_janus_errors_keep_their_codes(janus: Janus) -> None:
    with pytest.raises(JanusError) as unknown:
        await janus.client.request({"janus": "attach", "session_id": 1, "plugin": PLUGIN})
    assert unknown.value.janus_code == 458  # JANUS_ERROR_SESSION_NOT_FOUND
    assert type(unknown.value) is JanusError


async def test_participants_are_listed_kicked_and_told_of_the_room_s_end(
    janus: Janus, rooms: VideoRoomAdmin
) -> None:
    room = await rooms.create(RoomSpec(description="events"))
    session = await janus.client.create_session()
    alice = await session.attach(PLUGIN)
    bob = await session.attach(PLUGIN)
    for handle, name in ((alice, "alice"), (bob, "bob")):
        joined = await handle.message(
            {"request": "join", "ptype": "publisher", "room": room, "display": name}
        )
        assert joined.data["videoroom"] == "joined"
    participants = {p.display: p for p in await rooms.list_participants(room)}
    assert set(participants) == {"alice", "bob"}
    await rooms.kick(room, participants["bob"].id)
    assert [p.display for p in await rooms.list_participants(room)] == ["alice"]
    await rooms.destroy(room)
    seen = [await asyncio.wait_for(alice.events.get(), 5) for _ in range(2)]
    assert {event.kind for event in seen} == {EventKind.EVENT}
    assert [event.data for event in seen] == [
        {"videoroom": "event", "room": room, "kicked": participants["bob"].id},
        {"videoroom": "destroyed", "room": room},
    ]
    await session.destroy()


async def test_keepalives_keep_a_session(janus: Janus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="parley.janus.client")
    client = JanusClient(janus.server.endpoint, keepalive_interval=0.05)
    await client.connect()
    try:
        session = await client.create_session()
        await asyncio.sleep(0.3)
        assert not session.lost
        assert caplog.text.count("'keepalive'") >= 3
        await session.attach(PLUGIN)  # Janus still knows it
    finally:
        await client.aclose()
    assert session.lost


def stopped(pid: int, within: float = 5) -> None:
    """Wait until the kernel shows `pid` stopped (state T in /proc/PID/stat)."""
    deadline = time.monotonic() + within
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)


async def test_a_transaction_without_an_answer_times_out(janus: Janus) -> None:
    pid = supervisor_of(janus).pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # Janus still holds the socket, but answers nothing
    try:
        stopped(pid)  # the signal is delivered when Janus next runs, not at kill()
        with pytest.raises(JanusTimeoutError) as late:
            await janus.client.request({"janus": "info"}, timeout_s=0.3)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert late.value.code == "JANUS_TIMEOUT"
    assert "info" in late.value.reason
    assert (await janus.client.info())["version_string"]  # and it goes on afterwards


async def test_a_killed_janus_is_restarted_and_the_client_reconnects(janus: Janus) -> None:
    supervisor = supervisor_of(janus)
    events: asyncio.Queue[ConnectionEvent] = asyncio.Queue()
    unsubscribe = janus.client.add_listener(events.put_nowait)
    session = await janus.client.create_session()
    handle = await session.attach(PLUGIN)
    old_pid, restarts = supervisor.pid, supervisor.restarts
    assert old_pid is not None
    try:
        os.kill(old_pid, signal.SIGKILL)
        lost = await asyncio.wait_for(events.get(), 5)
        assert lost.state is ConnectionState.DISCONNECTED
        assert session.id in lost.lost_sessions
        assert (await asyncio.wait_for(handle.events.get(), 1)).kind is EventKind.SESSION_LOST
        back = await asyncio.wait_for(events.get(), 15)
        assert back.state is ConnectionState.RECONNECTED
    finally:
        unsubscribe()
    assert supervisor.restarts == restarts + 1
    assert supervisor.pid not in (None, old_pid)
    assert not is_running(old_pid)
    with pytest.raises(JanusUnavailableError):
        await handle.message({"request": "list"})
    fresh = await janus.client.create_session()  # the new Janus, its new secrets
    admin = await VideoRoomAdmin.attach(janus.client, fresh)
    room = await admin.create(RoomSpec())
    await admin.destroy(room)
    await fresh.destroy()


async def test_nat_settings_reach_janus() -> None:
    settings = janus_settings(
        public_ips="203.0.113.7",
        ice_enforce_list="veth",
        rtp_port_range="30000-30100",
        turn_server="127.0.0.1:3478",  # not contacted at start (a STUN server is, for 5 s)
        turn_user="user",
        turn_password="turn-password",
    )
    janus = await Janus.open(settings)
    try:
        info = await janus.client.info()
        assert info["public-ip"] == "203.0.113.7"
    finally:
        await janus.aclose()


async def test_shutdown_stops_janus_and_removes_its_config() -> None:
    janus = await Janus.open(janus_settings())
    supervisor = supervisor_of(janus)
    pid, folder = supervisor.pid, supervisor.folder
    assert pid is not None
    assert folder is not None
    assert folder.is_dir()
    await janus.aclose()
    await janus.aclose()  # idempotent
    assert not is_running(pid)
    assert not folder.exists()
    assert supervisor.pid is None


async def test_a_janus_that_cannot_start_is_reported() -> None:
    with pytest.raises(JanusUnavailableError, match="not installed"):
        await Janus.open(janus_settings(binary="no-such-janus"))
    with pytest.raises(JanusUnavailableError, match="exited with status 1"):
        await Janus.open(janus_settings(binary="false"))


async def test_an_external_janus_is_used_without_starting_one(janus: Janus) -> None:
    endpoint = janus.client.endpoint
    settings = janus_settings(
        url=endpoint.url, api_secret=endpoint.api_secret, admin_key=endpoint.admin_key
    )
    external = await Janus.open(settings)
    try:
        assert not isinstance(external.server, JanusSupervisor)
        session = await external.client.create_session()
        admin = await VideoRoomAdmin.attach(external.client, session)
        await admin.destroy(await admin.create(RoomSpec()))
        await session.destroy()
    finally:
        await external.aclose()
    assert (await janus.client.info())["version_string"]  # still running: it was not ours


async def test_the_app_starts_and_stops_janus_when_enabled(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        ai={
            "preload": False,
            "llm": "openai-compatible",
            "llm_base_url": "http://127.0.0.1:9/v1",
            "llm_model": "none",
        },
        janus={"enabled": True},
    )
    engine = build_engine(settings)
    app = create_app(settings, engine=engine)
    try:
        async with app.router.lifespan_context(app):
            janus: Janus = app.state.services.janus
            pid = supervisor_of(janus).pid
            assert pid is not None
            assert is_running(pid)
            assert (await janus.client.info())["plugins"]
    finally:
        await engine.aclose()
    assert not is_running(pid)


async def test_no_secret_reaches_the_logs(janus: Janus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="parley.janus")
    session = await janus.client.create_session()
    admin = await VideoRoomAdmin.attach(janus.client, session)
    room = await admin.create(RoomSpec(secret="room-secret-42", pin="pin-4242"))
    await admin.destroy(room, secret="room-secret-42")
    await session.destroy()
    endpoint = janus.client.endpoint
    assert endpoint.api_secret
    assert endpoint.admin_key
    assert "room" in caplog.text  # the messages were logged...
    for secret in (endpoint.api_secret, endpoint.admin_key, "room-secret-42", "pin-4242"):
        assert secret not in caplog.text  # ...without their secrets
