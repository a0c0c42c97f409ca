"""Which turns the LLM sees: the last ones, cut in steps so the prompt's prefix stays cached."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.ai.base import ChatMessage, Language
from parley.ai.engine import AIEngine
from parley.calls.agent import EXAMPLES
from parley.calls.conversation import ConversationService, HistoryWindow
from parley.calls.domain import Role, Turn
from parley.calls.service import CallService
from parley.storage.db import Database
from parley.storage.stores import SqlCallStore

AHEAD = 1 + 2 * len(EXAMPLES[Language.ENGLISH])  # the system prompt and the examples' turns


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
        history = [m.content for m in messages[AHEAD:-1]]
        assert len(history) <= 6
        assert history[-1] == f"turn {n}"  # the latest turns are always there
        assert len(history) >= min(n + 1, 6 - 3 + 1)  # never fewer than limit - step + 1
        firsts.append(history[0])
    # the first turn shown changes only every `step` (3) turns once the limit is reached
    # (laid out by hand, fmt: skip, so that the steps show)
    assert firsts == [
        "turn 0", "turn 0", "turn 0", "turn 0", "turn 0", "turn 0",
        "turn 3", "turn 3", "turn 3", "turn 6", "turn 6", "turn 6", "turn 9", "turn 9",
    ]  # fmt: skip


async def test_a_turn_without_a_prefetch_keeps_the_window_where_the_prefetch_left_it(
    calls: CallService, local_engine: AIEngine
) -> None:
    """After a barge-in an exchange is stored with no prefetch after it: the next prompt keeps
    the window (and so the prefix the LLM has read) instead of moving it, up to `step` turns
    over the limit; the next prefetch moves it."""
    conversation = ConversationService(
        calls, local_engine, history_turns=6, max_tokens=32, default_language=Language.ENGLISH
    )
    call = await calls.initiate("01012345678")

    async def store(*texts: str) -> None:
        for text in texts:
            role = Role.USER if text.startswith("q") else Role.ASSISTANT
            await calls.record_turns([Turn(call_id=call.id, index=-1, role=role, text=text)])

    def history(messages: list[ChatMessage]) -> list[str]:
        return [m.content for m in messages[AHEAD:-1]]

    window = HistoryWindow()
    await store("greeting", "q1", "a1", "q2")
    answer = Turn(call_id=call.id, index=-1, role=Role.ASSISTANT, text="a2")
    prefetched = await conversation.messages_for(
        call, "", Language.ENGLISH, None, unsaved=[answer], window=window
    )
    assert history(prefetched) == ["greeting", "q1", "a1", "q2", "a2"]
    await store("a2", "q3", "a3 (cut by a barge-in)")  # no prefetch after this exchange
    asked = await conversation.messages_for(
        call, "q4", Language.ENGLISH, None, window=window, move=False
    )
    assert history(asked)[:5] == history(prefetched)  # the prefix the LLM read is kept
    assert history(asked)[-1] == "a3 (cut by a barge-in)"
    moved = await conversation.messages_for(call, "q4", Language.ENGLISH, None)
    assert history(moved)[0] == "q2"  # without the window, it would have moved
    await store("q4", "a4", "q5", "a5")  # beyond limit + step: the window moves all the same
    late = await conversation.messages_for(
        call, "q6", Language.ENGLISH, None, window=window, move=False
    )
    assert history(late) == ["a3 (cut by a barge-in)", "q4", "a4", "q5", "a5"]
