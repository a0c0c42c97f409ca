"""The local LLM's cache of saved prompt states, bounded by the bytes its entries really hold.

llama.cpp re-evaluates only the tokens of a prompt that differ from the state it holds now; a
cache of saved states (keyed by the tokens they are the state of) extends that across prompts
that take turns on the model: each call's system prompt and greeting, each meeting's chat.

llama-cpp-python's own `LlamaRAMCache` sizes an entry by `llama_state_size` (the context's KV
cells and last logits) and not by what the saved `LlamaState` holds besides: a copy of one row of
logits per prompt token (Qwen's vocabulary: ~600 KB a token) and the token array. Here an entry
of ~105 tokens was counted as 1.2 MiB and held 61 MiB, so its 512 MiB limit let the cache grow to
tens of gigabytes (issue 12: 20 meetings took a server from 1.2 to 3.5 GB). This cache sizes
each entry by measuring the objects it keeps, so its limit holds whatever the states contain,
and drops the least recently used entries beyond it.

It runs on the LLM's worker thread only; `figures()` may be read from any thread (a snapshot of
plain integers).
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llama_cpp.llama import Llama
from llama_cpp.llama_cache import BaseLlamaCache

from parley.memory import CacheFigures, register

if TYPE_CHECKING:
    from llama_cpp.llama import LlamaState

Key = tuple[int, ...]


def state_bytes(state: LlamaState) -> int:
    """What a saved state keeps in memory: its arrays, its copy of the context, the object."""
    return (
        int(state.scores.nbytes)
        + int(state.input_ids.nbytes)
        + sys.getsizeof(state.llama_state)
        + sys.getsizeof(state)
        + sys.getsizeof(vars(state))
    )


def key_bytes(key: Key) -> int:
    """The tuple of tokens and its integers (small ones are shared: counted all the same)."""
    return sys.getsizeof(key) + sum(sys.getsizeof(token) for token in key)


class StateCache(BaseLlamaCache):
    """A least-recently-used cache of `LlamaState`s within `capacity_bytes` of what they hold.

    The mapping keeps llama-cpp-python's contract: `cache[tokens]` answers the state whose key
    shares the longest prefix with `tokens` (KeyError when none shares any), and marks it used.
    """

    def __init__(self, capacity_bytes: int, *, name: str = "llmStates") -> None:
        super().__init__(capacity_bytes)
        self.cache_state: OrderedDict[Key, LlamaState] = OrderedDict()
        self._sizes: dict[Key, int] = {}
        self._held = 0
        self.hits = 0
        self.misses = 0
        register(name, self)

    @property
    def cache_size(self) -> int:
        return self._held

    def figures(self) -> CacheFigures:
        return CacheFigures(self._held, self.capacity_bytes, len(self._sizes))

    def __contains__(self, key: Sequence[int]) -> bool:
        return self._longest_prefix_key(tuple(key)) is not None

    def __getitem__(self, key: Sequence[int]) -> LlamaState:
        found = self._longest_prefix_key(tuple(key))
        if found is None:
            self.misses += 1
            raise KeyError("no cached state shares a prefix with these tokens")
        self.hits += 1
        self.cache_state.move_to_end(found)
        return self.cache_state[found]

    def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
        stored = tuple(key)
        self._forget(stored)
        size = key_bytes(stored) + state_bytes(value)
        if size > self.capacity_bytes:  # would push out everything and still not fit
            return
        self.cache_state[stored], self._sizes[stored] = value, size
        self._held += size
        while self._held > self.capacity_bytes:
            self._forget(next(iter(self.cache_state)))

    def clear(self) -> None:
        self.cache_state.clear()
        self._sizes.clear()
        self._held = 0

    def _forget(self, key: Key) -> None:
        if key in self._sizes:
            del self.cache_state[key]
            self._held -= self._sizes.pop(key)

    def _longest_prefix_key(self, key: Key) -> Key | None:
        best, best_length = None, 0
        for candidate in self.cache_state:
            length = Llama.longest_token_prefix(candidate, key)
            if length > best_length:
                best, best_length = candidate, length
        return best
