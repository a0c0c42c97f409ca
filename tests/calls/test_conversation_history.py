"""Which turns the LLM sees: the last ones, cut in steps so the prompt's prefix stays cached."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.ai.base import Language
from parley.ai.engine import AIEngine
from parley.calls.conversation import ConversationService
from parley.calls.domain import Role, Turn
from parley.calls.service import CallService
from parley.storage.db import Database
from parley.storage.stores import SqlCallStore


@pytest.fixture
async def calls(tmp_path: Path) -> AsyncIterator[CallService]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    await database.upgrade()
    store = SqlCallStore(database)
    yield CallService(store, store)
    await database.aclose()


async def test_the_history_window_moves_in_steps(
    calls: CallService, local_engine: AIEngine
) -> None:
    conversation = ConversationService(
        calls, local_engine, history_turns=6, max_tokens=32, default_language=Language.ENGLISH
    )
    call = await calls.initiate("01012345678")
    firsts: list[str] = []
    for n in range(14):
        role = Role.ASSISTANT if n % 2 == 0 else Role.USER
        await calls.record_turns([Turn(call_id=call.id, index=-1, role=role, text=f"turn {n}")])
        messages = await conversation.messages_for(call, "now", Language.ENGLISH, None)
        history = [m.content for m in messages[1:-1]]
        assert len(history) <= 6
        assert history[-1] == f"turn {n}"  # the latest turns are always there
        assert len(history) >= min(n + 1, 6 - 3 + 1)  # never fewer than limit - step + 1
        firsts.append(history[0])
    # the first turn shown changes only every `step` (3) turns once the limit is reached
    assert firsts == [
        "turn 0", "turn 0", "turn 0", "turn 0", "turn 0", "turn 0",
        "turn 3", "turn 3", "turn 3", "turn 6", "turn 6", "turn 6", "turn 9", "turn 9",
    ]  # fmt: skip
