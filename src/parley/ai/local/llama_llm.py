"""The LLM on this machine: llama.cpp (llama-cpp-python) with a GGUF model, by default
Qwen2.5-Coder-0.5B-Instruct Q4_K_M, using the chat template stored in the GGUF.

One model instance serves every call, one generation at a time (the machine has two cores;
interleaving two generations would only make both slow). llama.cpp keeps the KV cache of the last
prompt and re-evaluates only what differs, so the system prompt and earlier turns of a call are
not recomputed; a RAM cache of states keyed by token prefix extends that across calls that take
turns on the model. That cache is bounded by the bytes its states really hold
(`parley.ai.local.state_cache`), and a state holds no rows of logits: nothing here reads them.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from parley.ai.base import ChatMessage
from parley.ai.local.workers import model_worker, models_at_work
from parley.ai.streaming import stream_from_thread

STATE_CACHE_BYTES = 256 * 1024 * 1024  # the default of LLM_STATE_CACHE_BYTES
PROMPT_CHUNK = 32  # tokens per llama.cpp decode of a prompt: threads are chosen before each


def default_threads() -> int:
    """All cores but one: the threads a generation keeps to while another model is at work.
    llama.cpp's threads wait for each other at every layer, so a thread that shares its core
    with Whisper or Piper stalls all of them: on this 2-core machine two threads beside the other
    models took the first token of a live reply from 0.6 s to 10 s, and some turns to 2.7–5.7 s
    (`bench/voice_latency.py --llm-threads`)."""
    return max(1, (os.cpu_count() or 2) - 1)


def default_batch_threads() -> int:
    """Every core: what a generation takes while it is the only model at work, which is when a
    call waits for it (Whisper is done, Piper waits for the first clause). On this machine a
    token takes ~49 ms on two threads and ~85 ms on one, and a new prompt's first token comes
    about twice as fast (20 new words: 0.60 → 0.36 s); a call's first clause came in 423 ms
    instead of 699–742 (p50, `bench/voice_latency.py`), and the audio path, which runs at a
    higher priority than every model, paced with fewer gaps than before."""
    return os.cpu_count() or 1


class LlamaCppLLM:
    def __init__(
        self,
        model_path: Path,
        *,
        context: int = 4096,
        threads: int = 0,
        batch_threads: int = 0,
        temperature: float = 0.6,
        state_cache_bytes: int = STATE_CACHE_BYTES,
    ) -> None:
        self.name = f"llama.cpp {model_path.stem}"
        self._state_cache_bytes = state_cache_bytes
        self._path = model_path
        self._context = context
        self._threads = threads or default_threads()
        self._batch_threads = batch_threads or default_batch_threads()
        self._temperature = temperature
        self._executor = model_worker("llm")
        self._llama: Any = None
        self._least = self._threads  # the threads of the request running now (its LLM thread)
        self._stop = threading.Event()  # the request running now was given up

    async def load(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ensure_model)

    def stream_reply(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, all_cores: bool = False
    ) -> AsyncIterator[str]:
        """Each step (the prompt, then every token) runs on `LLM_BATCH_THREADS` (every core)
        while no other model is at work, else on `LLM_THREADS`; `all_cores` (no live audio
        needs the CPU: the meeting assistant between calls) takes every core throughout."""
        least = self._batch_threads if all_cores else self._threads
        return self._stream(messages, max_tokens, least)

    async def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int, least: int
    ) -> AsyncIterator[str]:
        prompt = [{"role": m.role, "content": m.content} for m in messages]

        def produce(stop: threading.Event) -> Iterator[str]:
            return self._generate(prompt, max_tokens, stop, least)

        stream = stream_from_thread(self._executor, produce, provider="llm:local")
        try:
            async for piece in stream:
                yield piece
        finally:
            await stream.aclose()

    async def warm(self, messages: Sequence[ChatMessage], *, all_cores: bool = False) -> None:
        """Evaluate `messages` once so the RAM cache holds their state: the first reply of every
        call then starts from the cached system prompt and greeting (first token ~1.1 s cold,
        ~0.3 s warm on this machine, measured under load). Threads as for `stream_reply`."""
        async for _ in self.stream_reply(messages, max_tokens=1, all_cores=all_cores):
            pass

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _ensure_model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            from parley.ai.local.state_cache import StateCache

            llama = Llama(
                model_path=str(self._path),
                n_ctx=self._context,
                n_threads=self._threads,
                n_threads_batch=self._batch_threads,
                n_batch=512,
                logits_all=False,
                verbose=False,
            )
            _keep_no_logit_rows(llama)
            llama.set_cache(StateCache(self._state_cache_bytes))
            self._adapt_threads(llama)
            self._llama = llama
        return self._llama

    def _generate(
        self, prompt: list[dict[str, str]], max_tokens: int, stop: threading.Event, least: int
    ) -> Iterator[str]:
        if stop.is_set():  # given up while it waited its turn (a warm-up overtaken by the chat)
            return
        llama = self._ensure_model()
        self._least, self._stop = least, stop  # read by every decode of this request
        chunks = llama.create_chat_completion(
            messages=prompt,
            stream=True,
            max_tokens=max_tokens,
            temperature=self._temperature,
            top_p=0.9,
            repeat_penalty=1.1,
        )
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    yield text
        except _Stopped:
            return

    def _adapt_threads(self, llama: Any) -> None:
        """Choose the threads before every llama.cpp decode: each token, and each chunk of
        `PROMPT_CHUNK` tokens of a prompt. A long prompt (a prefetch reading a moved history,
        seconds) would otherwise keep both cores from its start to its end, and a Whisper run
        starting meanwhile shared a core with it: in a bench call that made a transcription
        take 0.95 s and the next first token 1.5–2.4 s, with 64 pacing gaps.

        A request given up stops there too, within a chunk rather than at the end of its prompt:
        a busy meeting's evaluation ahead, overtaken by the next message, once kept the model
        reading a 1,500-token chat for seconds that a question was waiting for."""
        decode = llama._ctx.decode
        llama.n_batch = PROMPT_CHUNK  # how `Llama.eval` cuts a prompt into decodes

        def adapting(batch: Any) -> Any:
            if self._stop.is_set():
                raise _Stopped  # out of llama-cpp-python's loop; its state stays consistent
            threads = self._threads_now(self._least)
            llama._ctx.set_n_threads(threads, threads)
            return decode(batch)

        llama._ctx.decode = adapting

    def _threads_now(self, least: int) -> int:
        """Every core while this generation is the only model at work (a first clause, as a rule:
        Whisper is done, and Piper waits for it), else `least`. llama.cpp's threads wait for each
        other at every layer, so sharing a core with Whisper or Piper would stall them all."""
        return max(least, self._batch_threads) if models_at_work() <= 1 else least


class _Stopped(Exception):
    """The request was given up between two decodes."""


def _keep_no_logit_rows(llama: Any) -> None:
    """Give llama-cpp-python one row of logits to keep instead of one per batch token.

    Without `logits_all` it never writes that array (llama.cpp's sampler reads the context's own
    logits), yet it saves a copy of a row per prompt token (up to `n_batch`) with every state it
    caches: for Qwen's 152k-token vocabulary ~600 KB a token, 61 MiB for a 105-token meeting
    chat, where the state proper is 1.2 MiB. One row is what its code paths index (`[-1]`)."""
    llama.scores = np.zeros((1, llama.n_vocab()), dtype=np.single)
