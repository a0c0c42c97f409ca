"""Meetings and their rooms in a real Janus (Debian's `janus`, started by the app's supervisor on
127.0.0.1): created with the meeting, destroyed with it, recreated after Janus restarts, and
created at the first start with Janus for meetings made while it was off."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from parley.ai.engine import AIEngine
from parley.errors import JanusPluginError
from parley.janus import Janus
from parley.janus.process import JanusSupervisor
from parley.janus.videoroom import PLUGIN, UNAUTHORIZED, VideoRoomAdmin
from parley.meetings.domain import Participant
from parley.meetings.service import MeetingService
from parley.web.app import create_app
from tests.conftest import IDLE_AI, make_settings

pytestmark = [
    pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed"),
    pytest.mark.timeout(60),
]
SECRET = "meeting-token-secret-for-janus-tests-0123"


@asynccontextmanager
async def running(
    data_dir: Path, engine: AIEngine, *, janus: bool = True
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_settings(
        data_dir, **IDLE_AI, janus={"enabled": janus}, meetings={"token_secret": SECRET}
    )
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
            yield app, client


@asynccontextmanager
async def room_admin(app: FastAPI) -> AsyncIterator[VideoRoomAdmin]:
    """Our own look into Janus, beside the app's."""
    janus: Janus = app.state.services.janus
    session = await janus.client.create_session()
    try:
        yield await VideoRoomAdmin.attach(janus.client, session)
    finally:
        await session.destroy()


async def create(client: httpx.AsyncClient, **fields: Any) -> tuple[dict[str, Any], str]:
    body = {"title": "Design review", "maxPublishers": 3, "bitrate": 256_000, **fields}
    response = await client.post("/api/v1/meetings", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]["meeting"], response.json()["data"]["hostToken"]


async def room_of(app: FastAPI, meeting_id: str) -> int:
    service: MeetingService = app.state.services.meetings
    return (await service.get(meeting_id)).janus_room


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rooms_follow_meetings(tmp_path: Path, idle_engine: AIEngine) -> None:
    async with running(tmp_path, idle_engine) as (app, client), room_admin(app) as admin:
        meeting, token = await create(client, videoCodec="vp9")
        assert meeting["mediaReady"] is True
        room = await room_of(app, meeting["id"])
        info = {r.room: r for r in await admin.list_rooms()}[room]
        assert (info.max_publishers, info.bitrate, info.pin_required) == (3, 256_000, False)
        assert info.description == f"parley meeting {meeting['id']}"
        with pytest.raises(JanusPluginError) as refused:
            await admin.destroy(room, secret="guess")  # the room has a secret; Parley's own
        assert refused.value.janus_code == UNAUTHORIZED

        deleted = await client.delete(f"/api/v1/meetings/{meeting['id']}", headers=bearer(token))
        assert deleted.status_code == 200
        assert not await admin.exists(room)

        second, token = await create(client)
        room = await room_of(app, second["id"])
        assert await admin.exists(room)
        ended = await client.post(f"/api/v1/meetings/{second['id']}/end", headers=bearer(token))
        assert ended.json()["data"]["meeting"]["mediaReady"] is False
        assert not await admin.exists(room)


async def test_the_host_kicks_a_publisher_out_of_the_janus_room(
    tmp_path: Path, idle_engine: AIEngine
) -> None:
    async with running(tmp_path, idle_engine) as (app, client), room_admin(app) as admin:
        meeting, token = await create(client)
        room = await room_of(app, meeting["id"])
        janus: Janus = app.state.services.janus
        session = await janus.client.create_session()
        handle = await session.attach(PLUGIN)
        joined = await handle.message(
            {"request": "join", "ptype": "publisher", "room": room, "display": "Dana"}
        )
        dana = Participant(uuid.UUID(meeting["id"]), "Dana", feed_id=int(joined.data["id"]))
        service: MeetingService = app.state.services.meetings
        await service.participants.add(dana)
        assert [p.display for p in await admin.list_participants(room)] == ["Dana"]

        path = f"/api/v1/meetings/{meeting['id']}/participants/{dana.id}/kick"
        assert (await client.post(path)).status_code == 401
        assert (await client.post(path, headers=bearer(token))).status_code == 200
        assert await admin.list_participants(room) == []
        kicked = await asyncio.wait_for(handle.events.get(), 5)
        assert kicked.data.get("leaving") == "ok"
        assert kicked.data.get("reason") == "kicked"
        await session.destroy()


async def test_rooms_are_recreated_after_janus_restarts(
    tmp_path: Path, idle_engine: AIEngine
) -> None:
    async with running(tmp_path, idle_engine) as (app, client):
        live, _ = await create(client, title="live")
        ended, token = await create(client, title="ended")
        await client.post(f"/api/v1/meetings/{ended['id']}/end", headers=bearer(token))
        rooms = {m["title"]: await room_of(app, m["id"]) for m in (live, ended)}
        supervisor = app.state.services.janus.server
        assert isinstance(supervisor, JanusSupervisor)
        old_pid = supervisor.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)

        async def ready_again() -> bool:
            response = await client.get(f"/api/v1/meetings/{live['id']}")
            return supervisor.pid not in (None, old_pid) and bool(
                response.json()["data"]["meeting"]["mediaReady"]
            )

        await eventually(ready_again)
        async with room_admin(app) as admin:
            assert await admin.exists(rooms["live"])  # the same room id, in the new Janus
            assert not await admin.exists(rooms["ended"])


async def test_meetings_made_while_janus_was_off_get_rooms_when_it_is_on(
    tmp_path: Path, idle_engine: AIEngine
) -> None:
    async with running(tmp_path, idle_engine, janus=False) as (_, client):
        pending, _ = await create(client)
        assert pending["mediaReady"] is False
    async with running(tmp_path, idle_engine) as (app, client):

        async def ready() -> bool:
            response = await client.get(f"/api/v1/meetings/{pending['id']}")
            return bool(response.json()["data"]["meeting"]["mediaReady"])

        await eventually(ready, within_s=5)
        async with room_admin(app) as admin:
            assert await admin.exists(await room_of(app, pending["id"]))
