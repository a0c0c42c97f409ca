"""Background tasks with an owner: named, referenced, their failures logged, and cancelled and
awaited (with a timeout) when the owner closes; `shielded` for work that must outlive a
cancelled caller. No bare `asyncio.create_task` elsewhere.

`CloseOnce` gives an owner aiortc's `close()` pattern: the first `aclose()` does the work, and
every later or concurrent one waits for it to finish, so nobody returns while the owner is still
closing (e.g. shutdown while a call stores its last turn)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("parley.tasks")
_SHIELDED: set[asyncio.Task[Any]] = set()  # work whose caller may have gone, held until done


class TaskSet:
    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=f"{self._owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("task %s failed", task.get_name(), exc_info=error)

    async def aclose(self, grace: float = 5.0) -> None:
        """Cancel every task still running and wait for them (the caller's own task excepted)."""
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace)


async def shielded(coro: Coroutine[Any, Any, T], name: str) -> T:
    """Run `coro` to its end even if the caller is cancelled: the caller's cancellation reaches
    it at once, and the work goes on in its own task, referenced here until done. A failure
    nobody is left to hear is logged. (A transaction cut in the middle can leave SQLite
    locked: `parley.storage.transactions`.)"""
    task = asyncio.create_task(coro, name=name)
    _SHIELDED.add(task)
    task.add_done_callback(_SHIELDED.discard)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_log_unheard_failure)
        raise


def _log_unheard_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("%s failed after its caller was cancelled: %s", task.get_name(), error)


class CloseOnce:
    """`await closer.run(close)`: runs `close()` the first time; any other caller waits until
    that first run has finished (even if it failed or was cancelled: the owner is closed then,
    as far as it will be)."""

    def __init__(self) -> None:
        self._done: asyncio.Event | None = None

    @property
    def started(self) -> bool:
        """`aclose()` has begun (perhaps not finished)."""
        return self._done is not None

    @property
    def finished(self) -> bool:
        return self._done is not None and self._done.is_set()

    async def run(self, close: Callable[[], Awaitable[None]]) -> None:
        if self._done is not None:
            await self._done.wait()
            return
        self._done = asyncio.Event()
        try:
            await close()
        finally:
            self._done.set()
