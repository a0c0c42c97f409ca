"""SQL implementations of the meetings ports (`MeetingStore`, `ChatStore`, `AssistantStore`).

Each method is one short transaction that runs to its end (`transactions.py`). Rows become
domain objects here; driver and SQL errors become `StorageError`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.errors import StorageError
from parley.meetings.domain import (
    AssistantExchange,
    ChatMessage,
    ExchangeStatus,
    Meeting,
    VideoCodec,
)
from parley.meetings.ports import Page
from parley.storage.db import Database
from parley.storage.models import AssistantExchangeRow, ChatMessageRow, MeetingRow
from parley.storage.transactions import to_the_end, transaction


class SqlMeetingStore:
    """Meetings, their chat and their assistant exchanges in the relational database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        try:
            async with transaction(self._db) as session:
                yield session
        except IntegrityError as exc:  # a missing meeting, a room id taken: never retried here
            raise StorageError("The database refused that change.") from exc

    # -- meetings ----------------------------------------------------------------------------

    @to_the_end
    async def add_meeting(self, meeting: Meeting) -> None:
        async with self._transaction() as session:
            session.add(_meeting_row(meeting))

    @to_the_end
    async def get_meeting(self, meeting_id: uuid.UUID) -> Meeting | None:
        async with self._transaction() as session:
            row = await session.get(MeetingRow, meeting_id)
            return _meeting(row) if row is not None else None

    @to_the_end
    async def list_meetings(self, page: Page) -> tuple[list[Meeting], int]:
        kept = MeetingRow.deleted_at.is_(None)
        rows_query = (
            select(MeetingRow)
            .where(kept)
            .order_by(MeetingRow.created_at.desc(), MeetingRow.id)
            .offset(page.offset)
            .limit(page.limit)
        )
        count_query = select(func.count()).select_from(MeetingRow).where(kept)
        async with self._transaction() as session:
            total = (await session.execute(count_query)).scalar_one()
            rows = (await session.execute(rows_query)).scalars().all()
        return [_meeting(row) for row in rows], int(total)

    @to_the_end
    async def live_meetings(self) -> list[Meeting]:
        query = (
            select(MeetingRow)
            .where(MeetingRow.deleted_at.is_(None), MeetingRow.ended_at.is_(None))
            .order_by(MeetingRow.created_at)
        )
        async with self._transaction() as session:
            rows = (await session.execute(query)).scalars().all()
        return [_meeting(row) for row in rows]

    async def mark_ended(self, meeting_id: uuid.UUID, at: datetime) -> bool:
        live = [MeetingRow.deleted_at.is_(None), MeetingRow.ended_at.is_(None)]
        return await self._stamp(meeting_id, live, {"ended_at": at})

    async def mark_deleted(self, meeting_id: uuid.UUID, at: datetime) -> bool:
        return await self._stamp(meeting_id, [MeetingRow.deleted_at.is_(None)], {"deleted_at": at})

    @to_the_end
    async def _stamp(
        self,
        meeting_id: uuid.UUID,
        where: Sequence[ColumnElement[bool]],
        values: dict[str, datetime],
    ) -> bool:
        """Compare-and-set: write `values` only while `where` holds."""
        statement = (
            update(MeetingRow)
            .where(MeetingRow.id == meeting_id, *where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            result = await session.execute(statement)
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # -- chat --------------------------------------------------------------------------------

    @to_the_end
    async def add_message(self, message: ChatMessage) -> ChatMessage:
        row = ChatMessageRow(
            meeting_id=message.meeting_id,
            sender_id=message.sender_id,
            sender_name=message.sender_name,
            text=message.text,
            created_at=message.created_at,
        )
        async with self._transaction() as session:
            session.add(row)
            await session.flush()
            message.id = row.id
        return message

    @to_the_end
    async def recent_messages(
        self, meeting_id: uuid.UUID, limit: int, *, before_id: int | None = None
    ) -> list[ChatMessage]:
        query = select(ChatMessageRow).where(ChatMessageRow.meeting_id == meeting_id)
        if before_id is not None:
            query = query.where(ChatMessageRow.id < before_id)
        query = query.order_by(ChatMessageRow.id.desc()).limit(limit)
        async with self._transaction() as session:
            rows = (await session.execute(query)).scalars().all()
        return [_message(row) for row in reversed(rows)]

    # -- assistant ---------------------------------------------------------------------------

    @to_the_end
    async def add_exchange(self, exchange: AssistantExchange) -> None:
        async with self._transaction() as session:
            session.add(_exchange_row(exchange))

    @to_the_end
    async def save_exchange(self, exchange: AssistantExchange) -> None:
        statement = (
            update(AssistantExchangeRow)
            .where(AssistantExchangeRow.id == exchange.id)
            .values(
                answer=exchange.answer,
                status=exchange.status.value,
                error=exchange.error,
                answered_at=exchange.answered_at,
                first_chunk_ms=exchange.first_chunk_ms,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            await session.execute(statement)

    @to_the_end
    async def recent_exchanges(self, meeting_id: uuid.UUID, limit: int) -> list[AssistantExchange]:
        query = (
            select(AssistantExchangeRow)
            .where(AssistantExchangeRow.meeting_id == meeting_id)
            .order_by(AssistantExchangeRow.asked_at.desc(), AssistantExchangeRow.id)
            .limit(limit)
        )
        async with self._transaction() as session:
            rows = (await session.execute(query)).scalars().all()
        return [_exchange(row) for row in reversed(rows)]


def _meeting_row(meeting: Meeting) -> MeetingRow:
    return MeetingRow(
        id=meeting.id,
        title=meeting.title,
        pin_hash=meeting.pin_hash,
        max_publishers=meeting.max_publishers,
        video_codec=meeting.video_codec.value,
        bitrate=meeting.bitrate,
        host_name=meeting.host_name,
        janus_room=meeting.janus_room,
        created_at=meeting.created_at,
        ended_at=meeting.ended_at,
        deleted_at=meeting.deleted_at,
    )


def _meeting(row: MeetingRow) -> Meeting:
    return Meeting(
        id=row.id,
        title=row.title,
        pin_hash=row.pin_hash,
        max_publishers=row.max_publishers,
        video_codec=VideoCodec(row.video_codec),
        bitrate=row.bitrate,
        host_name=row.host_name,
        janus_room=row.janus_room,
        created_at=row.created_at,
        ended_at=row.ended_at,
        deleted_at=row.deleted_at,
    )


def _message(row: ChatMessageRow) -> ChatMessage:
    return ChatMessage(
        id=row.id,
        meeting_id=row.meeting_id,
        sender_id=row.sender_id,
        sender_name=row.sender_name,
        text=row.text,
        created_at=row.created_at,
    )


def _exchange_row(exchange: AssistantExchange) -> AssistantExchangeRow:
    return AssistantExchangeRow(
        id=exchange.id,
        meeting_id=exchange.meeting_id,
        asker_id=exchange.asker_id,
        asker_name=exchange.asker_name,
        question=exchange.question,
        answer=exchange.answer,
        status=exchange.status.value,
        error=exchange.error,
        asked_at=exchange.asked_at,
        answered_at=exchange.answered_at,
        first_chunk_ms=exchange.first_chunk_ms,
    )


def _exchange(row: AssistantExchangeRow) -> AssistantExchange:
    return AssistantExchange(
        id=row.id,
        meeting_id=row.meeting_id,
        asker_id=row.asker_id,
        asker_name=row.asker_name,
        question=row.question,
        answer=row.answer,
        status=ExchangeStatus(row.status),
        error=row.error,
        asked_at=row.asked_at,
        answered_at=row.answered_at,
        first_chunk_ms=row.first_chunk_ms,
    )
