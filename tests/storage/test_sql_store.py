"""The SQL store and its migrations, on SQLite, PostgreSQL and MariaDB alike."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text

from parley.calls.domain import UNFINISHED, Call, CallStatus, Role, Sentiment, Turn
from parley.calls.phone import PhoneNumber
from parley.calls.ports import CallFilter, Page
from parley.calls.service import CallService
from parley.errors import IllegalTransitionError, StorageError
from parley.storage.db import Database, _alembic_config, head_revision
from parley.storage.stores import SqlCallStore

T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def store(database: Database) -> SqlCallStore:
    return SqlCallStore(database)


def a_call(number: str = "010-1234-5678", at: datetime = T0) -> Call:
    call = Call(caller=PhoneNumber.parse(number), created_at=at, updated_at=at)
    call.transition(CallStatus.RINGING, at=at)
    return call


async def test_migrations_reach_head_and_are_idempotent(database: Database) -> None:
    assert head_revision() == "0004"
    assert await database.current_revision() == "0004"
    assert await database.upgrade() == head_revision()

    def tables(sync: Connection) -> set[str]:
        return set(inspect(sync).get_table_names())

    async with database.engine.connect() as conn:
        assert {"calls", "conversation_turns", "alembic_version"} <= await conn.run_sync(tables)


async def test_migrations_downgrade_and_upgrade_again(database: Database) -> None:
    def downgrade(sync: Connection) -> None:
        config = _alembic_config()
        config.attributes["connection"] = sync
        command.downgrade(config, "base")

    async with database.engine.begin() as conn:
        await conn.run_sync(downgrade)
    assert await database.current_revision() is None
    assert await database.upgrade() == head_revision()


async def test_call_round_trip_keeps_every_field(store: SqlCallStore) -> None:
    call = a_call()
    call.receiver = PhoneNumber.parse("+14155552671")
    call.transition(CallStatus.CONNECTING, at=T0 + timedelta(seconds=1))
    call.transition(CallStatus.FAILED, at=T0 + timedelta(seconds=2), reason="ICE 실패: timeout")
    await store.add_call(call)
    loaded = await store.get_call(call.id)
    assert loaded == call
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.microsecond == 123456


async def test_unknown_call_is_none(store: SqlCallStore) -> None:
    assert await store.get_call(uuid.uuid4()) is None


async def test_transition_is_compare_and_set(store: SqlCallStore) -> None:
    call = a_call()
    await store.add_call(call)
    call.transition(CallStatus.CONNECTING, at=T0)
    assert await store.save_transition(call, expected=CallStatus.RINGING)
    stale = a_call()
    stale.id = call.id
    stale.transition(CallStatus.ENDED, at=T0)
    assert not await store.save_transition(stale, expected=CallStatus.RINGING)
    loaded = await store.get_call(call.id)
    assert loaded is not None
    assert loaded.status is CallStatus.CONNECTING


async def test_racing_transitions_have_exactly_one_winner(store: SqlCallStore) -> None:
    service = CallService(store, store)
    call = await service.initiate("01012345678")
    results = await asyncio.gather(
        *(service.end(call.id) for _ in range(6)), return_exceptions=True
    )
    assert sum(isinstance(r, Call) for r in results) == 1
    assert sum(isinstance(r, IllegalTransitionError) for r in results) == 5


async def test_racing_connects_all_succeed(store: SqlCallStore) -> None:
    """The client's POST /connect and the media arriving both connect the call, at once."""
    service = CallService(store, store)
    call = await service.initiate("01012345678")
    results = await asyncio.gather(*(service.connect(call.id) for _ in range(6)))
    assert {r.status for r in results} == {CallStatus.CONNECTING}


async def _busy_call(service: CallService, call_id: uuid.UUID) -> None:
    await service.connect(call_id)
    for _ in range(3):
        turns = [
            Turn(call_id=call_id, index=-1, role=role, text="x", language="en")
            for role in (Role.USER, Role.ASSISTANT)
        ]
        await service.record_turns(turns)
    await service.end(call_id)


async def test_cancelled_transactions_never_leave_the_database_locked(
    store: SqlCallStore,
) -> None:
    """Hanging up cancels a call's tasks, maybe in the middle of a transaction: later writes must
    still work (on SQLite, a connection once kept the write lock and every write failed after)."""
    service = CallService(store, store)
    timing = random.Random(1)
    for _ in range(25):
        calls = [await service.initiate("01012345678") for _ in range(8)]
        workers = [asyncio.create_task(_busy_call(service, call.id)) for call in calls]
        await asyncio.sleep(timing.uniform(0, 0.04))
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.wait_for(service.initiate("01012345678"), 10)


async def test_list_filters_orders_and_counts(store: SqlCallStore) -> None:
    calls = [
        a_call(n, T0 + timedelta(minutes=i))
        for i, n in enumerate(["01011112222"] * 3 + ["0212345678"] * 2)
    ]
    for call in calls:
        await store.add_call(call)
    newest_first = [c.id for c in reversed(calls)]

    found, total = await store.list_calls(CallFilter(), Page(offset=0, limit=2))
    assert ([c.id for c in found], total) == (newest_first[:2], 5)
    found, _ = await store.list_calls(CallFilter(), Page(offset=4, limit=2))
    assert [c.id for c in found] == newest_first[4:]

    seoul = PhoneNumber.parse("02-1234-5678").e164
    found, total = await store.list_calls(CallFilter(caller_e164=seoul), Page())
    assert total == 2
    assert {c.id for c in found} == {calls[3].id, calls[4].id}
    found, total = await store.list_calls(CallFilter(status=CallStatus.ENDED), Page())
    assert (found, total) == ([], 0)


async def test_a_restarted_node_fails_what_it_left_unfinished_and_only_that(
    store: SqlCallStore,
) -> None:
    """Item 6 of issue 12: its own unfinished calls (IN_PROGRESS included) and calls no node
    claims become FAILED with the reason and an end; finished calls and other nodes' calls stay."""

    def stored(status: CallStatus, node: str | None) -> Call:
        call = Call(caller=PhoneNumber.parse("01012345678"), created_at=T0, updated_at=T0)
        call.status, call.node_id = status, node
        if status is CallStatus.ENDED:
            call.ended_at = T0
        return call

    mine = [stored(status, "node-a") for status in UNFINISHED]
    unowned = stored(CallStatus.IN_PROGRESS, None)
    others = stored(CallStatus.IN_PROGRESS, "node-b")
    ended = stored(CallStatus.ENDED, "node-a")
    for call in [*mine, unowned, others, ended]:
        await store.add_call(call)

    at = T0 + timedelta(hours=1)
    assert await store.fail_abandoned("node-a", reason="server restarted", at=at) == 5
    for call in [*mine, unowned]:
        failed = await store.get_call(call.id)
        assert failed is not None
        assert (failed.status, failed.failure_reason) == (CallStatus.FAILED, "server restarted")
        assert failed.ended_at == failed.updated_at == at
    assert (await store.get_call(others.id)) == others
    assert (await store.get_call(ended.id)) == ended
    assert await store.fail_abandoned("node-a", reason="again", at=at) == 0


async def test_the_node_carrying_a_call_is_recorded(store: SqlCallStore) -> None:
    """A call created through one node and carried live by another belongs to the second."""
    created = await CallService(store, store, node_id="node-a").initiate("01012345678")
    assert await store.get_call(created.id) == created
    assert created.node_id == "node-a"
    carried = await CallService(store, store, node_id="node-b").carry(created)
    assert carried.node_id == "node-b"
    assert await store.get_call(created.id) == carried
    assert await store.fail_abandoned("node-a", reason="x", at=T0) == 0


async def test_turns_are_numbered_and_keep_their_content(store: SqlCallStore) -> None:
    call = a_call()
    await store.add_call(call)
    user = Turn(
        call_id=call.id,
        index=-1,
        role=Role.USER,
        text="환불하고 싶어요 😡",
        language="ko",
        sentiment=Sentiment.NEGATIVE,
        sentiment_score=0.91,
        started_at=T0,
        ended_at=T0,
        latency_ms={"stt": 241.5, "stages": {"vad": 12}},
    )
    reply = Turn(call_id=call.id, index=-1, role=Role.ASSISTANT, text="죄송합니다.", started_at=T0)
    assert [t.index for t in await store.append_turns([user, reply])] == [0, 1]
    turns = await store.list_turns(call.id)
    assert [t.index for t in turns] == [0, 1]
    assert turns[0].text == "환불하고 싶어요 😡"
    assert turns[0].latency_ms == {"stt": 241.5, "stages": {"vad": 12}}
    assert turns[0].sentiment is Sentiment.NEGATIVE
    assert turns[0].sentiment_score == pytest.approx(0.91)
    assert [t.text for t in await store.list_turns(call.id, limit=1)] == ["죄송합니다."]


async def test_concurrent_turns_get_distinct_indices(store: SqlCallStore) -> None:
    call = a_call()
    await store.add_call(call)
    turns = [Turn(call_id=call.id, index=-1, role=Role.USER, text=f"t{i}") for i in range(3)]
    stored = await asyncio.gather(*(store.append_turns([t]) for t in turns))
    assert sorted(t[0].index for t in stored) == [0, 1, 2]


async def test_a_turn_needs_an_existing_call(store: SqlCallStore) -> None:
    orphan = Turn(call_id=uuid.uuid4(), index=-1, role=Role.USER, text="hello")
    with pytest.raises(StorageError):
        await store.append_turns([orphan])


async def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'parley.db'}")
    try:
        async with database.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await database.aclose()


async def test_unreachable_database_is_a_storage_error() -> None:
    database = Database("postgresql+asyncpg://u:p@127.0.0.1:9/none")
    with pytest.raises(StorageError, match="unreachable"):
        await database.ping()
    await database.aclose()
    await database.aclose()
