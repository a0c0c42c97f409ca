"""The thread → event loop bridge every local model streams through."""

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from parley.ai.streaming import stream_from_thread


async def test_items_arrive_in_order_while_the_loop_stays_free() -> None:
    executor = ThreadPoolExecutor(1)

    def produce(stop: threading.Event) -> Iterator[int]:
        for i in range(5):
            time.sleep(0.05)  # blocking work, as a model does
            yield i

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    items = [i async for i in stream_from_thread(executor, produce)]
    task.cancel()
    assert items == [0, 1, 2, 3, 4]
    assert ticks >= 20  # ~250 ms of blocking work did not stop the loop
    executor.shutdown()


async def test_closing_early_stops_the_producer() -> None:
    executor = ThreadPoolExecutor(1)
    produced: list[int] = []

    def produce(stop: threading.Event) -> Iterator[int]:
        for i in range(1000):
            if stop.is_set():
                return
            produced.append(i)
            time.sleep(0.01)
            yield i

    stream = stream_from_thread(executor, produce)
    async for item in stream:
        if item == 2:
            break
    await stream.aclose()
    started = time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(executor, lambda: None)
    assert time.perf_counter() - started < 0.1  # the worker was free again at once
    assert len(produced) < 10
    executor.shutdown()


async def test_producer_errors_reach_the_consumer() -> None:
    executor = ThreadPoolExecutor(1)

    def produce(stop: threading.Event) -> Iterator[int]:
        yield 1
        raise RuntimeError("model exploded")

    received: list[int] = []

    async def consume() -> None:
        async for item in stream_from_thread(executor, produce):
            received.append(item)

    with pytest.raises(RuntimeError, match="model exploded"):
        await consume()
    assert received == [1]
    executor.shutdown()
