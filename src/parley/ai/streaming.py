"""Run blocking model work in a worker thread and consume its output on the event loop.

`stream_from_thread` turns a synchronous iterator (llama.cpp tokens, TTS chunks) into an async
iterator. The worker hands items over with `call_soon_threadsafe`, so the loop never waits on the
model; when the consumer stops early (barge-in, hang-up, error), a stop flag is set and the worker
quits at its next item, so the executor is free again within one token or one chunk.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Executor
from typing import TypeVar, cast

from parley.errors import AIProviderError, ParleyError

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


async def stream_from_thread(
    executor: Executor,
    produce: Callable[[threading.Event], Iterator[T]],
    *,
    provider: str | None = None,
) -> AsyncGenerator[T, None]:
    """Yield what `produce(stop)` yields, running it in `executor`.

    `produce` receives the stop event and should also check it where it can between items.
    Exceptions raised by the producer are re-raised here, in the consumer; with `provider`
    (e.g. "tts:local"), foreign ones become `AIProviderError` naming it.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def work() -> None:
        try:
            for item in produce(stop):
                if stop.is_set():
                    break
                put(item)
        except BaseException as exc:  # handed to the consumer, who decides
            put(_Failure(exc))
        finally:
            put(_DONE)

    future = loop.run_in_executor(executor, work)
    try:
        while (item := await queue.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise _ours(item.error, provider) from item.error
            yield cast(T, item)
    finally:
        stop.set()
        if not future.done():
            future.add_done_callback(lambda f: f.cancelled() or f.exception())


def _ours(error: BaseException, provider: str | None) -> BaseException:
    if provider is None or isinstance(error, ParleyError) or not isinstance(error, Exception):
        return error
    return AIProviderError(f"The {provider} provider failed: {error}", provider=provider)
