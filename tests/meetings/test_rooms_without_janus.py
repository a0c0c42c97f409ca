"""The rooms when Janus cannot be reached: meetings go on, their rooms pending."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.janus.client import JanusClient, JanusEndpoint
from parley.meetings.domain import Meeting
from parley.meetings.janus_rooms import JanusRooms, PendingRooms
from tests.conftest import IDLE_AI, make_settings, running_client


async def no_meetings() -> list[Meeting]:
    return []


async def test_an_unreachable_janus_leaves_rooms_pending_and_actions_harmless() -> None:
    client = JanusClient(JanusEndpoint("ws://127.0.0.1:9"), reconnect=False)  # never connected
    rooms = JanusRooms(client, no_meetings, "k" * 32)
    meeting = Meeting(title="offline")
    assert await rooms.open(meeting) is False
    assert not rooms.is_ready(meeting)
    await rooms.kick(meeting, 42)  # its media went with Janus: nothing to do
    await rooms.mute(meeting, 42, "0", mute=True)
    await rooms.close(meeting)
    assert await rooms.reconcile() == 0
    assert rooms.reconciliations == 0
    await rooms.aclose()
    await rooms.aclose()
    await client.aclose()


async def test_pending_rooms_stand_in_when_janus_is_off() -> None:
    rooms, meeting = PendingRooms(), Meeting(title="no media")
    await rooms.start()
    assert await rooms.open(meeting) is False
    assert not rooms.is_ready(meeting)
    await rooms.kick(meeting, 1)
    await rooms.mute(meeting, 1, "0", mute=True)
    await rooms.close(meeting)
    await rooms.aclose()


async def test_the_app_serves_when_janus_cannot_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Janus is on by default; a machine without it still serves calls and meetings (no media)."""
    settings = make_settings(
        tmp_path, janus={"enabled": True, "binary": str(tmp_path / "no-janus")}, **IDLE_AI
    )
    async with running_client(settings) as client:
        created = await client.post("/api/v1/meetings", json={"title": "No SFU"})
        assert created.status_code == 201
        assert created.json()["data"]["meeting"]["mediaReady"] is False
        assert (await client.get("/readyz")).status_code == 200
    assert "Janus did not start, meetings will have no media" in caplog.text
