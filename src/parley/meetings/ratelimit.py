"""A sliding-window rate limit: at most `burst` events in any `window_s` seconds."""

from __future__ import annotations

import time
from collections import deque


class RateLimit:
    def __init__(self, burst: int, window_s: float) -> None:
        self._burst = burst
        self._window = window_s
        self._times: deque[float] = deque()

    def allow(self, now: float | None = None) -> bool:
        """Count one event now if the limit allows it; False (nothing counted) otherwise."""
        now = time.monotonic() if now is None else now
        while self._times and now - self._times[0] >= self._window:
            self._times.popleft()
        if len(self._times) >= self._burst:
            return False
        self._times.append(now)
        return True

    def retry_after(self, now: float | None = None) -> float:
        """Seconds until one more event is allowed."""
        now = time.monotonic() if now is None else now
        if len(self._times) < self._burst:
            return 0.0
        return max(0.0, self._window - (now - self._times[0]))
