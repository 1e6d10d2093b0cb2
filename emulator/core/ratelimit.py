"""Fixed-window request counters on the emulator clock (a moved clock moves the window too).

A key's window starts at its first call (as express-rate-limit's do), and each hit is one atomic
`window_hit` in the store, so replicas that share a store count one window per key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .clock import Clock
    from .store import Store


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int  # when the current window ends, in epoch seconds
    retry_after: int  # seconds until then, at least 1


class RateLimiter:
    def __init__(self, store: "Store", clock: "Clock", prefix: str, limit: int, window_seconds: int = 60):
        self.store = store
        self.clock = clock
        self.prefix = prefix  # the vendor's own keys (`strigo:rate:`), cleared with its state
        self.limit = limit
        self.window_seconds = window_seconds

    def hit(self, key: str, limit: int | None = None) -> Verdict:
        """Count one call for key and say whether it is within the limit (this call's, or the default)."""
        limit = self.limit if limit is None else limit
        now = self.clock.now().timestamp()
        count, started = self.store.window_hit(f"{self.prefix}{key}", now, self.window_seconds)
        ends = started + self.window_seconds
        return Verdict(
            allowed=count <= limit,
            limit=limit,
            remaining=max(limit - count, 0),
            reset_epoch=int(ends),
            retry_after=max(int(ends - now + 0.999), 1),
        )
