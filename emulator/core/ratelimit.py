"""Fixed-window request counters on the emulator clock (a moved clock moves the window too)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from .clock import Clock


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int  # when the current window ends, in epoch seconds
    retry_after: int  # seconds until then, at least 1


class RateLimiter:
    def __init__(self, clock: Clock, limit: int, window_seconds: int = 60):
        self.clock = clock
        self.limit = limit
        self.window_seconds = window_seconds
        self._windows: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int | None = None) -> Verdict:
        """Count one call for key and say whether it is within the limit (this call's, or the default)."""
        limit = self.limit if limit is None else limit
        now = self.clock.now()
        with self._lock:
            started, count = self._windows.get(key, (now, 0))
            if (now - started).total_seconds() >= self.window_seconds or now < started:
                started, count = now, 0
            count += 1
            self._windows[key] = (started, count)
        ends = started.timestamp() + self.window_seconds
        return Verdict(
            allowed=count <= limit,
            limit=limit,
            remaining=max(limit - count, 0),
            reset_epoch=int(ends),
            retry_after=max(int(ends - now.timestamp() + 0.999), 1),
        )

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
