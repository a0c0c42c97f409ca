"""The local LLM (llama.cpp, Qwen2.5 0.5B) with the real model."""

import asyncio
import os
import re
import threading
import time

import llama_cpp
import pytest

from parley.ai.base import ChatMessage
from parley.ai.engine import AIEngine
from parley.ai.local.llama_llm import LlamaCppLLM
from parley.ai.local.workers import model_worker, models_at_work

SYSTEM = ChatMessage("system", "You are a helpful phone agent. Answer in one short sentence.")


async def test_reply_streams_in_pieces(local_engine: AIEngine) -> None:
    messages = [SYSTEM, ChatMessage("user", "What colour is the sky on a clear day?")]
    pieces = [p async for p in local_engine.llm.stream_reply(messages, max_tokens=40)]
    assert len(pieces) > 3
    assert "blue" in "".join(pieces).lower()


async def test_history_is_used(local_engine: AIEngine) -> None:
    messages = [
        SYSTEM,
        ChatMessage("user", "Hi, my name is Alice Kim and my order number is 4417."),
        ChatMessage("assistant", "Hello Alice, thanks. How can I help with order 4417?"),
        ChatMessage("user", "What is my name?"),
    ]
    reply = "".join([p async for p in local_engine.llm.stream_reply(messages, max_tokens=30)])
    assert "Alice" in reply


async def test_korean_is_answered_in_korean(local_engine: AIEngine) -> None:
    messages = [
        ChatMessage("system", "당신은 친절한 상담원입니다. 한국어로 한 문장으로 답하세요."),
        ChatMessage("user", "영업시간이 어떻게 되나요?"),
    ]
    reply = "".join([p async for p in local_engine.llm.stream_reply(messages, max_tokens=40)])
    assert re.search("[가-힣]", reply), reply


async def test_closing_the_stream_frees_the_model_at_once(local_engine: AIEngine) -> None:
    long_task = [SYSTEM, ChatMessage("user", "Count from one to two hundred in words.")]
    stream = local_engine.llm.stream_reply(long_task, max_tokens=400)
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    started = time.perf_counter()
    quick = [SYSTEM, ChatMessage("user", "Say yes.")]
    async for _ in local_engine.llm.stream_reply(quick, max_tokens=5):
        break
    assert time.perf_counter() - started < 2.0  # not waiting for 400 tokens to finish


class OtherModel:
    """A job on a model worker of its own, as a transcription would be, until `done()`."""

    def __init__(self) -> None:
        self._worker = model_worker("test-other-model")
        self._started, self._release = threading.Event(), threading.Event()
        self._job: asyncio.Future[bool] | None = None

    async def start(self) -> None:
        def job() -> bool:
            self._started.set()
            return self._release.wait(60)

        self._job = asyncio.get_running_loop().run_in_executor(self._worker, job)
        assert await asyncio.to_thread(self._started.wait, 10)
        assert models_at_work() >= 1

    async def done(self) -> None:
        self._release.set()
        if self._job is not None:
            await self._job
        self._worker.shutdown()


def shared_llm(engine: AIEngine) -> LlamaCppLLM:
    llm = engine.llm
    assert isinstance(llm, LlamaCppLLM)
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: nothing to share")
    return llm


def threads_of(llm: LlamaCppLLM) -> int:
    """The threads llama.cpp's context runs its next decode on."""
    return int(llama_cpp.llama_n_threads(llm._ensure_model()._ctx.ctx))


async def test_the_llm_takes_every_core_only_while_no_other_model_is_at_work(
    local_engine: AIEngine,
) -> None:
    """llama.cpp's threads wait for each other at every layer: beside a Whisper or a Piper job
    the generation keeps to its one thread, and takes both cores again when that job is done."""
    llm = shared_llm(local_engine)
    other = OtherModel()
    try:
        await other.start()
        count = [SYSTEM, ChatMessage("user", "Count from one to fifty in words, with commas.")]
        seen: list[int] = []
        async for _ in llm.stream_reply(count, max_tokens=60):
            seen.append(threads_of(llm))
            if len(seen) == 5:
                await other.done()
            if len(seen) == 25:
                break
    finally:
        await other.done()
    assert seen[:4] == [1] * 4, seen  # beside the other job
    assert seen[-5:] == [os.cpu_count()] * 5, seen  # alone again


async def test_a_long_prompt_gives_a_core_back_as_soon_as_another_model_starts(
    local_engine: AIEngine,
) -> None:
    """A prompt is read in chunks, threads chosen before each: a transcription starting while
    a long prompt (a prefetch reading a moved history) is read gets its core within a chunk,
    not when the whole prompt is done."""
    llm = shared_llm(local_engine)
    history = " ".join(f"Order {n} shipped on day {n} to street {n}." for n in range(25))
    long_prompt = [SYSTEM, ChatMessage("user", f"{history} Which order shipped on day 7?")]
    other = OtherModel()
    first_piece: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def read() -> None:
        async for _ in llm.stream_reply(long_prompt, max_tokens=2):
            if not first_piece.done():
                first_piece.set_result(time.monotonic())

    reading = asyncio.create_task(read())
    try:
        await asyncio.sleep(0.3)  # the prompt is being read, on both cores
        assert not first_piece.done(), "the prompt was read too fast to test this"
        assert threads_of(llm) == os.cpu_count()
        await other.start()
        await asyncio.sleep(0.6)  # a chunk of 32 tokens, at most
        assert not first_piece.done(), "the prompt was read too fast to test this"
        assert threads_of(llm) == 1  # mid-prompt, the core is given back
    finally:
        await other.done()
        await reading


async def test_a_request_given_up_mid_prompt_stops_reading_it(local_engine: AIEngine) -> None:
    """An evaluation ahead that the chat overtakes (or a reply cut by a barge-in) is closed
    while its prompt is read: the model stops within a chunk, not at the prompt's end."""
    llm = local_engine.llm
    assert isinstance(llm, LlamaCppLLM)
    history = " ".join(f"Parcel {n * 37 % 101} left depot {n * 13 % 29}." for n in range(40))
    long_prompt = [SYSTEM, ChatMessage("user", f"{history} Which parcel left depot 5?")]
    length = len(llm._ensure_model().tokenize(str(long_prompt).encode()))  # roughly its tokens
    stream = llm.stream_reply(long_prompt, max_tokens=2)
    reading = asyncio.ensure_future(anext(aiter(stream)))
    await asyncio.sleep(0.3)  # reading the prompt, chunk by chunk
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    await stream.aclose()  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    read = await loop.run_in_executor(llm._executor, lambda: llm._ensure_model().n_tokens)
    assert read < length / 2, f"read {read} of ~{length} tokens after it was given up"
