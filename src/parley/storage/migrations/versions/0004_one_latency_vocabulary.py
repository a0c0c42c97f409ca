"""One latency vocabulary for stored turns: live calls' `sttMs`-style keys become the snake_case
stage names the one-shot exchange already used (`stt`, `end_of_turn`, ...; see
`parley.calls.domain.Stage`), in `conversation_turns.latency_ms`.

Done in Python over the rows (select, map, update) rather than with JSON functions, which
SQLite, PostgreSQL and MariaDB spell differently. The key maps are written out here, not
imported: a migration must keep meaning what it meant when it was written.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_TO_STAGE = {
    "sttMs": "stt",
    "endOfTurnMs": "end_of_turn",
    "llmFirstTokenMs": "llm_first_token",
    "llmFirstClauseMs": "llm_first_clause",
    "ttsFirstChunkMs": "tts_first_chunk",
    "voiceToVoiceMs": "voice_to_voice",
}
STAGE_TO_LIVE = {stage: live for live, stage in LIVE_TO_STAGE.items()}

_turns = sa.table(
    "conversation_turns",
    sa.column("id", sa.Integer()),
    sa.column("latency_ms", sa.JSON()),
)


def upgrade() -> None:
    _rename_keys(LIVE_TO_STAGE, when=LIVE_TO_STAGE)


def downgrade() -> None:
    """Back to the live calls' names, for the rows a live call stored (the ones that have a
    live-only stage); the one-shot exchange's rows always had these names."""
    _rename_keys(STAGE_TO_LIVE, when=("end_of_turn", "voice_to_voice"))


def _rename_keys(names: Mapping[str, str], *, when: Sequence[str] | Mapping[str, str]) -> None:
    """Rename the keys of every `latency_ms` that has one of the keys `when`."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_turns.c.id, _turns.c.latency_ms).where(_turns.c.latency_ms.is_not(None))
    )
    changed = [
        {"row_id": row.id, "latency": _renamed(row.latency_ms, names)}
        for row in rows
        if isinstance(row.latency_ms, dict) and any(key in row.latency_ms for key in when)
    ]
    if changed:
        connection.execute(
            _turns.update()
            .where(_turns.c.id == sa.bindparam("row_id"))
            .values(latency_ms=sa.bindparam("latency")),
            changed,
        )


def _renamed(latency: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    return {names.get(key, key): value for key, value in latency.items()}
