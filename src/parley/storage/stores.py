"""SQL implementations of the calls ports (`CallStore`, `TurnStore`).

Each method is one short transaction (`transactions.py`: run to its end even if the caller is
cancelled). Rows are converted to domain objects here, so nothing above this module sees
SQLAlchemy. Driver and SQL errors become `StorageError`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.calls.domain import (
    MAX_FAILURE_REASON,
    UNFINISHED,
    Call,
    CallStatus,
    Role,
    Sentiment,
    Turn,
)
from parley.calls.phone import PhoneNumber
from parley.calls.ports import CallFilter, Page
from parley.errors import StorageError
from parley.storage.db import Database
from parley.storage.models import CallRow, TurnRow
from parley.storage.transactions import to_the_end, transaction

_APPEND_ATTEMPTS = 3


class SqlCallStore:
    """Calls and their turns in the relational database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with transaction(self._db) as session:
            yield session

    @to_the_end
    async def add_call(self, call: Call) -> None:
        async with self._transaction() as session:
            session.add(_call_row(call))

    @to_the_end
    async def get_call(self, call_id: uuid.UUID) -> Call | None:
        async with self._transaction() as session:
            row = await session.get(CallRow, call_id)
            return _call(row) if row is not None else None

    @to_the_end
    async def get_call_by_session(self, session_id: str) -> Call | None:
        async with self._transaction() as session:
            found = await session.scalars(select(CallRow).where(CallRow.session_id == session_id))
            row = found.first()
            return _call(row) if row is not None else None

    @to_the_end
    async def save_transition(self, call: Call, expected: CallStatus) -> bool:
        statement = (
            update(CallRow)
            .where(CallRow.id == call.id, CallRow.status == expected.value)
            .values(
                status=call.status.value,
                updated_at=call.updated_at,
                connected_at=call.connected_at,
                started_at=call.started_at,
                ended_at=call.ended_at,
                failure_reason=call.failure_reason,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            result = await session.execute(statement)
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    @to_the_end
    async def list_calls(self, where: CallFilter, page: Page) -> tuple[list[Call], int]:
        conditions = []
        if where.status is not None:
            conditions.append(CallRow.status == where.status.value)
        if where.caller_e164 is not None:
            conditions.append(CallRow.caller_number == where.caller_e164)
        rows_query = (
            select(CallRow)
            .where(*conditions)
            .order_by(CallRow.created_at.desc(), CallRow.id)
            .offset(page.offset)
            .limit(page.limit)
        )
        count_query = select(func.count()).select_from(CallRow).where(*conditions)
        async with self._transaction() as session:
            total = (await session.execute(count_query)).scalar_one()
            rows = (await session.execute(rows_query)).scalars().all()
        return [_call(row) for row in rows], int(total)

    @to_the_end
    async def save_node(self, call_id: uuid.UUID, node_id: str) -> None:
        statement = (
            update(CallRow)
            .where(CallRow.id == call_id)
            .values(node_id=node_id)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            await session.execute(statement)

    @to_the_end
    async def fail_abandoned(self, node_id: str, *, reason: str, at: datetime) -> int:
        """One UPDATE, so it is all or nothing; a status filter in it, so a call that another
        writer finished meanwhile keeps its end."""
        statement = (
            update(CallRow)
            .where(
                CallRow.status.in_([status.value for status in UNFINISHED]),
                or_(CallRow.node_id == node_id, CallRow.node_id.is_(None)),
            )
            .values(
                status=CallStatus.FAILED.value,
                failure_reason=reason[:MAX_FAILURE_REASON],
                ended_at=at,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            result = await session.execute(statement)
            return int(result.rowcount)  # type: ignore[attr-defined]

    @to_the_end
    async def append_turns(self, turns: list[Turn]) -> list[Turn]:
        """Give the turns the next indices of their call, in one transaction; retry if a
        concurrent writer took an index first."""
        if not turns:
            return turns
        call_id = turns[0].call_id
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                async with self._transaction() as session:
                    last = await session.scalar(
                        select(func.max(TurnRow.turn_index)).where(TurnRow.call_id == call_id)
                    )
                    for offset, turn in enumerate(turns):
                        turn.index = (-1 if last is None else last) + 1 + offset
                    session.add_all([_turn_row(turn) for turn in turns])
                return turns
            except IntegrityError as exc:
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise StorageError(f"Could not store the turns of call {call_id}") from exc
        raise AssertionError("unreachable")

    @to_the_end
    async def list_turns(self, call_id: uuid.UUID, *, limit: int | None = None) -> list[Turn]:
        query = select(TurnRow).where(TurnRow.call_id == call_id)
        query = query.order_by(TurnRow.turn_index.desc())
        if limit is not None:
            query = query.limit(limit)
        async with self._transaction() as session:
            rows = (await session.execute(query)).scalars().all()
        return [_turn(row) for row in reversed(rows)]


def _call_row(call: Call) -> CallRow:
    return CallRow(
        id=call.id,
        session_id=call.session_id,
        caller_number=call.caller.e164,
        receiver_number=call.receiver.e164 if call.receiver else None,
        status=call.status.value,
        failure_reason=call.failure_reason,
        created_at=call.created_at,
        updated_at=call.updated_at,
        connected_at=call.connected_at,
        started_at=call.started_at,
        ended_at=call.ended_at,
        node_id=call.node_id,
    )


def _call(row: CallRow) -> Call:
    return Call(
        id=row.id,
        session_id=row.session_id,
        caller=PhoneNumber.parse(row.caller_number),
        receiver=PhoneNumber.parse(row.receiver_number) if row.receiver_number else None,
        status=CallStatus(row.status),
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        connected_at=row.connected_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        node_id=row.node_id,
    )


def _turn_row(turn: Turn) -> TurnRow:
    return TurnRow(
        call_id=turn.call_id,
        turn_index=turn.index,
        role=turn.role.value,
        text=turn.text,
        language=turn.language,
        sentiment=turn.sentiment.value if turn.sentiment else None,
        sentiment_score=turn.sentiment_score,
        started_at=turn.started_at,
        ended_at=turn.ended_at,
        latency_ms=turn.latency_ms,
        created_at=turn.created_at,
    )


def _turn(row: TurnRow) -> Turn:
    return Turn(
        call_id=row.call_id,
        index=row.turn_index,
        role=Role(row.role),
        text=row.text,
        language=row.language,
        sentiment=Sentiment(row.sentiment) if row.sentiment else None,
        sentiment_score=row.sentiment_score,
        started_at=row.started_at,
        ended_at=row.ended_at,
        latency_ms=row.latency_ms,
        created_at=row.created_at,
    )
