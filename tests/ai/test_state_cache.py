"""The local LLM's cache of prompt states: its limit holds in the bytes the states really hold.

The states' sizes are measured here independently of the cache's own accounting: the arrays and
the buffer each saved `LlamaState` keeps. llama-cpp-python's `LlamaRAMCache` counted 1.2 MiB
for a state that held 61 MiB (issue 12).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import numpy as np
import pytest
from llama_cpp.llama import LlamaState

from parley import memory
from parley.ai import assets
from parley.ai.base import ChatMessage
from parley.ai.engine import AIEngine
from parley.ai.local.llama_llm import LlamaCppLLM
from parley.ai.local.state_cache import StateCache
from tests.conftest import make_settings

MiB = 2**20
VOCAB = 151_936  # Qwen2.5's: one row of logits is ~600 KB


def a_state(tokens: int, *, logit_rows: int = 1, context_bytes: int = 100_000) -> LlamaState:
    """A saved state as llama-cpp-python makes one: token array, logit rows, context copy."""
    return LlamaState(
        input_ids=np.zeros(4096, np.intc),
        scores=np.zeros((logit_rows, VOCAB), np.single),
        n_tokens=tokens,
        llama_state=bytes(context_bytes),
        llama_state_size=context_bytes,
        seed=0,
    )


def held(states: Iterable[LlamaState]) -> int:
    """What the states keep in memory, measured apart from any cache's own figures."""
    return sum(s.scores.nbytes + s.input_ids.nbytes + len(s.llama_state) for s in states)


def test_a_state_is_sized_by_what_it_holds_not_by_its_context_size() -> None:
    cache = StateCache(64 * MiB)
    state = a_state(105, logit_rows=105, context_bytes=1_200_000)  # as a 105-token chat saved
    cache[range(105)] = state
    assert cache.cache_size >= held([state]) > 60 * MiB  # not 1.2 MB
    assert cache.figures().bytes == cache.cache_size


def test_the_limit_holds_and_the_least_recently_used_go_first() -> None:
    cache = StateCache(10 * MiB)
    for n in range(40):
        cache[(n, *range(100, 140))] = a_state(41, context_bytes=MiB)
        assert held(cache.cache_state.values()) <= cache.cache_size <= 10 * MiB
    assert 5 <= len(cache.cache_state) <= 7  # ~1.6 MB each
    assert next(iter(cache.cache_state))[0] == 40 - len(cache.cache_state)  # the oldest left


def test_a_lookup_answers_the_longest_prefix_and_keeps_it_from_eviction() -> None:
    cache = StateCache(6 * MiB)
    cache[(1, 2, 3)] = first = a_state(3, context_bytes=MiB)
    cache[(1, 2, 9, 9)] = second = a_state(4, context_bytes=MiB)
    assert cache[(1, 2, 9, 9, 5)] is second
    assert cache[(1, 2, 3, 4)] is first  # used last: now the newest
    for n in range(2):
        cache[(7, n)] = a_state(2, context_bytes=MiB)
    assert (1, 2, 3) in cache.cache_state
    assert (1, 2, 9, 9) not in cache.cache_state
    with pytest.raises(KeyError):
        cache[(5, 5)]
    assert (cache.hits, cache.misses) == (2, 1)


def test_an_entry_larger_than_the_limit_is_not_kept_and_a_key_counts_once() -> None:
    cache = StateCache(2 * MiB)
    cache[(1,)] = a_state(1, context_bytes=MiB)
    cache[(1,)] = a_state(1, context_bytes=MiB)  # the same key again: replaced, not added
    assert len(cache.cache_state) == 1
    assert cache.cache_size < 2 * MiB
    cache[(2,)] = a_state(1, context_bytes=3 * MiB)
    assert list(cache.cache_state) == [(1,)]


def test_the_cache_reports_itself_in_the_process_figures() -> None:
    cache = StateCache(8 * MiB, name="testStates")
    cache[(1, 2)] = a_state(2, context_bytes=MiB)
    figures = memory.figures()["testStates"]
    assert (figures.bytes, figures.limit, figures.entries) == (cache.cache_size, 8 * MiB, 1)
    del cache
    gc.collect()
    assert "testStates" not in memory.figures()


# --- with the real model ---------------------------------------------------------------------


def meeting_prompt(n: int, question: str = "…") -> list[ChatMessage]:
    """A meeting assistant's prompt for meeting `n`: its own chat of three messages."""
    chat = "\n".join(
        f"[10:0{k}] Person {n}-{k}: item {k} of meeting {n}: ship feature {n * 7 + k} by Friday"
        for k in range(3)
    )
    system = f"You are a meeting assistant.\n\nThe meeting chat so far, oldest first:\n{chat}"
    return [ChatMessage("system", system), ChatMessage("user", question)]


def rss_anon() -> int:
    """This process's anonymous resident memory (the model file's mapped pages left out)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def states_of(llm: LlamaCppLLM) -> list[LlamaState]:
    cache = llm._ensure_model().cache
    return list(cache.cache_state.values())


@pytest.fixture(scope="module")
async def small_cache_llm(
    local_engine: AIEngine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LlamaCppLLM]:
    """A second instance of the local model (the session's is warm), with an 8 MiB state cache:
    four or five states of a meeting's chat."""
    settings = make_settings(tmp_path_factory.mktemp("small-cache"))
    path = assets.QWEN_05B.path(settings.ai.models_path)
    llm = LlamaCppLLM(path, temperature=0.0, state_cache_bytes=8 * MiB)
    await llm.load()
    yield llm
    await llm.aclose()


async def test_many_distinct_prompts_keep_the_states_within_the_limit(
    small_cache_llm: LlamaCppLLM,
) -> None:
    """Eight meetings' chats evaluated ahead, as the assistant does: the states held stay
    within 8 MiB (each held 61 MiB with `LlamaRAMCache`), and so does memory."""
    before = rss_anon()
    for n in range(8):
        await small_cache_llm.warm(meeting_prompt(n), all_cores=True)
        assert held(states_of(small_cache_llm)) <= 8 * MiB
    assert len(states_of(small_cache_llm)) >= 3  # still useful: several meetings' chats
    grown = rss_anon() - before
    print(f"anonymous memory grew {grown / MiB:.1f} MiB")
    assert grown < 8 * MiB + 64 * MiB, f"grew {grown / MiB:.0f} MiB"  # + llama.cpp's buffers


async def test_a_state_restored_from_the_cache_answers_as_a_fresh_evaluation(
    small_cache_llm: LlamaCppLLM,
) -> None:
    """The saved states keep no logit rows: a reply that starts from a restored state is the
    reply evaluated from scratch (temperature 0)."""
    llm = small_cache_llm
    asked = meeting_prompt(100, "Which feature ships first, and when?")
    fresh = "".join([p async for p in llm.stream_reply(asked, max_tokens=24)])
    await llm.warm(meeting_prompt(101))  # the context now holds another meeting's chat
    cache = llm._ensure_model().cache
    assert isinstance(cache, StateCache)
    hits = cache.hits
    restored = "".join([p async for p in llm.stream_reply(asked, max_tokens=24)])
    assert cache.hits == hits + 1
    assert restored == fresh
