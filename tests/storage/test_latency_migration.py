"""Migration 0004: live calls' stored `sttMs`-style latency keys become the one vocabulary."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection

from parley.storage.db import Database, _alembic_config
from parley.storage.models import UTCDateTime

LIVE = {
    "sttMs": 240.5,
    "endOfTurnMs": 310.0,
    "llmFirstTokenMs": 420.0,
    "llmFirstClauseMs": 600.0,
    "ttsFirstChunkMs": 90.0,
    "voiceToVoiceMs": 1010.0,
}
ONE_SHOT = {"vad": 12.0, "stt": 250.0, "llm_first_token": 400.0, "tts_first_chunk": 80.0}


def migrate(database: Database, revision: str, *, down: bool = False) -> Any:
    def run(sync: Connection) -> None:
        config = _alembic_config()
        config.attributes["connection"] = sync
        (command.downgrade if down else command.upgrade)(config, revision)

    return run


async def latencies(database: Database) -> dict[int, Any]:
    async with database.engine.connect() as conn:
        rows = await conn.execute(sa.select(TURNS.c.turn_index, TURNS.c.latency_ms))
        return {row.turn_index: row.latency_ms for row in rows}


CALLS = sa.table(
    "calls",
    *(sa.column(name, sa.String()) for name in ("session_id", "caller_number", "status")),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
TURNS = sa.table(
    "conversation_turns",
    sa.column("call_id", sa.Uuid()),
    sa.column("turn_index", sa.Integer()),
    sa.column("role", sa.String()),
    sa.column("text", sa.Text()),
    sa.column("started_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()),
    sa.column("latency_ms", sa.JSON()),
)
AT = datetime(2026, 12, 3, 10, tzinfo=UTC)


async def test_live_keys_are_renamed_and_renamed_back(database: Database) -> None:
    call_id = uuid.uuid4()
    async with database.engine.begin() as conn:
        await conn.run_sync(migrate(database, "0003", down=True))
        call = {"id": call_id, "session_id": uuid.uuid4().hex, "caller_number": "+8210"}
        await conn.execute(CALLS.insert(), [call | {"status": "ENDED"} | _at("updated_at")])
        turns = [
            {"call_id": call_id, "turn_index": index, "role": "assistant", "text": "x"}
            | {"latency_ms": latency, **_at("started_at")}
            for index, latency in enumerate([LIVE, ONE_SHOT, None])
        ]
        await conn.execute(TURNS.insert(), turns)
    async with database.engine.begin() as conn:
        await conn.run_sync(migrate(database, "0004"))
    upgraded = await latencies(database)
    assert upgraded[0] == {
        "stt": 240.5,
        "end_of_turn": 310.0,
        "llm_first_token": 420.0,
        "llm_first_clause": 600.0,
        "tts_first_chunk": 90.0,
        "voice_to_voice": 1010.0,
    }
    assert upgraded[1] == ONE_SHOT
    assert upgraded[2] is None
    async with database.engine.begin() as conn:
        await conn.run_sync(migrate(database, "0003", down=True))
    assert await latencies(database) == {0: LIVE, 1: ONE_SHOT, 2: None}


def _at(column: str) -> dict[str, datetime]:
    return {column: AT, "created_at": AT}
