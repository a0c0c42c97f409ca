"""The app's lifecycle: a second `aclose()` waits for the first (and for the writes in flight),
and shutdown closes the parts in reverse order, so a call live at shutdown is ended and stored
before the database closes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import text

from parley.ai.engine import AIEngine
from parley.storage.db import Database
from parley.storage.transactions import transaction
from tests.calls.test_live_call import dial, serving
from tests.conftest import IDLE_AI, make_settings, running_client


async def test_a_second_aclose_waits_for_the_first_and_the_write_in_flight(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}"
    database = Database(url)
    happened: list[str] = []
    writing = asyncio.Event()

    async def last_turn() -> None:
        async with transaction(database) as session:
            await session.execute(text("CREATE TABLE turns (body TEXT)"))
            await session.execute(text("INSERT INTO turns VALUES ('goodbye')"))
            writing.set()
            await asyncio.sleep(0.3)  # a slow write, still going when shutdown begins
        happened.append("written")

    async def close(who: str) -> None:
        await database.aclose()
        happened.append(who)

    async with asyncio.TaskGroup() as group:
        group.create_task(last_turn())
        await writing.wait()
        group.create_task(close("first close"))
        await asyncio.sleep(0)  # the first close has begun
        group.create_task(close("second close"))
    assert happened == ["written", "first close", "second close"]

    reopened = Database(url)
    async with transaction(reopened) as session:
        assert (await session.execute(text("SELECT body FROM turns"))).scalar() == "goodbye"
    await reopened.aclose()


async def test_shutdown_ends_a_live_call_before_the_database_closes(
    tmp_path: Path, local_engine: AIEngine, idle_engine: AIEngine
) -> None:
    """The server stops while a caller is still talking: the call is ended and stored (ENDED,
    its greeting kept), not left for the next start-up to mark FAILED as a crash's leftover."""
    async with serving(tmp_path, local_engine) as (base, app):
        caller = await dial(base)
        await caller.wait_for("call-state", lambda p: p["status"] == "IN_PROGRESS")
        await caller.wait_for("transcript", lambda p: p["turn"] == 0 and p["final"])
        assert len(app.state.services.live) == 1
    await caller.sio.disconnect()
    await caller.pc.close()
    await caller.http.aclose()

    call_id = caller.call["id"]
    async with running_client(make_settings(tmp_path, **IDLE_AI), idle_engine) as client:
        call = (await client.get(f"/api/v1/calls/{call_id}")).json()["data"]["call"]
        turns = await conversation(client, call_id, caller.call["sessionId"])
    assert call["status"] == "ENDED"
    assert [turn["role"] for turn in turns] == ["assistant"]  # the greeting


async def conversation(
    client: httpx.AsyncClient, call_id: str, session: str
) -> list[dict[str, str]]:
    response = await client.get(
        f"/api/v1/calls/{call_id}/conversation", headers={"X-Session-Id": session}
    )
    assert response.status_code == 200, response.text
    turns: list[dict[str, str]] = response.json()["data"]["turns"]
    return turns
