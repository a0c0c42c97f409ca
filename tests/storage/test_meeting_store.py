"""The meetings' SQL store and migration 0002, on SQLite, PostgreSQL and MariaDB alike."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, inspect

from parley.errors import StorageError
from parley.meetings.domain import (
    MAX_CHAT,
    MAX_ROOM_ID,
    AssistantExchange,
    ChatMessage,
    ExchangeStatus,
    Meeting,
    Participant,
    VideoCodec,
)
from parley.meetings.pins import hash_pin
from parley.meetings.ports import Page
from parley.storage.db import Database, _alembic_config, head_revision
from parley.storage.meeting_stores import SqlMeetingStore

T0 = datetime(2026, 5, 4, 9, 15, 30, 654321, tzinfo=UTC)


@pytest.fixture
def store(database: Database) -> SqlMeetingStore:
    return SqlMeetingStore(database)


def a_meeting(title: str = "Weekly sync", at: datetime = T0) -> Meeting:
    return Meeting(title=title, created_at=at)


async def test_migration_0002_adds_the_tables_and_goes_back_to_0001(database: Database) -> None:
    def tables(sync: Connection) -> set[str]:
        return set(inspect(sync).get_table_names())

    def downgrade(sync: Connection) -> None:
        config = _alembic_config()
        config.attributes["connection"] = sync
        command.downgrade(config, "0001")

    meeting_tables = {"meetings", "chat_messages", "assistant_exchanges"}
    async with database.engine.connect() as conn:
        assert meeting_tables <= await conn.run_sync(tables)
    async with database.engine.begin() as conn:
        await conn.run_sync(downgrade)
    assert await database.current_revision() == "0001"
    async with database.engine.connect() as conn:
        assert not meeting_tables & await conn.run_sync(tables)
    assert await database.upgrade() == head_revision()


async def test_meeting_round_trip_keeps_every_field(store: SqlMeetingStore) -> None:
    meeting = Meeting(
        title=("설계 리뷰 🎥 " + "x" * 120)[:120],
        pin_hash=hash_pin("0042"),
        max_publishers=25,
        video_codec=VideoCodec.AV1,
        bitrate=8_000_000,
        host_name="민아",
        janus_room=MAX_ROOM_ID,
        created_at=T0,
    )
    assert len(meeting.title) == 120
    await store.add_meeting(meeting)
    loaded = await store.get_meeting(meeting.id)
    assert loaded == meeting
    assert loaded is not None
    assert loaded.created_at.microsecond == 654321
    assert await store.get_meeting(uuid.uuid4()) is None


async def test_room_ids_are_unique(store: SqlMeetingStore) -> None:
    first = a_meeting()
    await store.add_meeting(first)
    with pytest.raises(StorageError):
        await store.add_meeting(Meeting(title="clash", janus_room=first.janus_room))


async def test_listing_skips_deleted_and_live_skips_ended(store: SqlMeetingStore) -> None:
    meetings = [a_meeting(f"m{i}", T0 + timedelta(minutes=i)) for i in range(5)]
    for meeting in meetings:
        await store.add_meeting(meeting)
    assert await store.mark_deleted(meetings[1].id, T0)
    assert await store.mark_ended(meetings[3].id, T0)
    found, total = await store.list_meetings(Page(offset=0, limit=2))
    assert ([m.title for m in found], total) == (["m4", "m3"], 4)
    found, _ = await store.list_meetings(Page(offset=2, limit=2))
    assert [m.title for m in found] == ["m2", "m0"]
    assert [m.title for m in await store.live_meetings()] == ["m0", "m2", "m4"]
    ended = await store.get_meeting(meetings[3].id)
    assert ended is not None
    assert ended.ended_at == T0


async def test_end_and_delete_are_compare_and_set(store: SqlMeetingStore) -> None:
    meeting = a_meeting()
    await store.add_meeting(meeting)
    ends = await asyncio.gather(*(store.mark_ended(meeting.id, T0) for _ in range(4)))
    assert sorted(ends) == [False, False, False, True]
    deletes = await asyncio.gather(*(store.mark_deleted(meeting.id, T0) for _ in range(4)))
    assert sorted(deletes) == [False, False, False, True]
    assert not await store.mark_ended(meeting.id, T0)
    assert not await store.mark_deleted(uuid.uuid4(), T0)


async def test_chat_is_ordered_bounded_and_paged(store: SqlMeetingStore) -> None:
    meeting, other = a_meeting(), a_meeting("other")
    for m in (meeting, other):
        await store.add_meeting(m)
    alice = Participant(meeting.id, "Alice")
    texts = ["안녕하세요 👋", "<script>alert(1)</script>", "x" * MAX_CHAT, "line\nbreak", "last"]
    stored = [await store.add_message(ChatMessage.compose(meeting.id, alice, t)) for t in texts]
    await store.add_message(ChatMessage.compose(other.id, alice, "elsewhere"))
    ids = [m.id or 0 for m in stored]
    assert all(ids)
    assert ids == sorted(ids)
    recent = await store.recent_messages(meeting.id, 3)
    assert [m.text for m in recent] == texts[2:]
    assert recent[0].sender_name == "Alice"
    assert recent[0].created_at.tzinfo is not None
    before = await store.recent_messages(meeting.id, 10, before_id=recent[0].id)
    assert [m.text for m in before] == texts[:2]


async def test_chat_needs_an_existing_meeting(store: SqlMeetingStore) -> None:
    orphan = ChatMessage(uuid.uuid4(), "p1", "Ghost", "boo")
    with pytest.raises(StorageError):
        await store.add_message(orphan)


async def test_assistant_exchanges_are_stored_asked_then_answered(
    store: SqlMeetingStore,
) -> None:
    meeting = a_meeting()
    await store.add_meeting(meeting)
    bob = Participant(meeting.id, "Bob")
    first = AssistantExchange.ask(meeting.id, bob, "What did we decide about the launch?")
    await store.add_exchange(first)
    pending = await store.recent_exchanges(meeting.id, 5)
    assert [(e.status, e.answer) for e in pending] == [(ExchangeStatus.PENDING, "")]
    first.answered("We moved it to May 12.", first_chunk_ms=412.5)
    await store.save_exchange(first)
    second = AssistantExchange.ask(meeting.id, bob, "요약해 주세요")
    second.asked_at = first.asked_at + timedelta(seconds=1)
    await store.add_exchange(second)
    second.failed("llm:local failed", partial="회의는")
    await store.save_exchange(second)
    loaded = await store.recent_exchanges(meeting.id, 5)
    assert loaded == [first, second]
    assert loaded[0].first_chunk_ms == pytest.approx(412.5)
    assert (loaded[1].status, loaded[1].answer, loaded[1].error) == (
        ExchangeStatus.FAILED,
        "회의는",
        "llm:local failed",
    )
    assert [e.question for e in await store.recent_exchanges(meeting.id, 1)] == ["요약해 주세요"]
