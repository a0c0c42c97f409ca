"""A check whose outcome is reused for a moment: `/readyz` writes to the database to know that
writes work, and must not let whoever polls it (a load balancer, or anyone) drive the database's
write load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from parley.errors import StorageError


class CachedCheck:
    """Runs `check` at most once per `max_age` seconds; its outcome (success, or the
    `StorageError` it raised) is answered until then. Callers that arrive while it runs wait for
    that run, so there is never more than one at a time."""

    def __init__(
        self,
        check: Callable[[], Awaitable[None]],
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._max_age = max_age
        self._clock = clock
        self._lock = asyncio.Lock()
        self._checked_at: float | None = None
        self._error: StorageError | None = None

    async def __call__(self) -> None:
        """Return when the last check (at most `max_age` old) passed; raise its error if not."""
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    await self._run()
        if self._error is not None:
            raise self._error

    def _fresh(self) -> bool:
        return self._checked_at is not None and self._clock() - self._checked_at < self._max_age

    async def _run(self) -> None:
        try:
            await self._check()
        except StorageError as exc:
            self._error = exc
        else:
            self._error = None
        self._checked_at = self._clock()
