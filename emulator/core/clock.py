"""The emulator's clock: the only source of "now".

A manual clock stands still until a test sets or advances it; a real clock follows the wall clock
plus an offset (so it can be moved too). Listeners run after every move, so that lifecycles whose
transitions fall due complete before the call that moved the clock returns.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Callable


def wall_now() -> datetime:
    """The machine's time in UTC. Only the clock and the journal's wall time may read it."""
    return datetime.now(timezone.utc)


class Clock:
    def __init__(self, mode: str = "manual", start: datetime | None = None):
        if mode not in ("real", "manual"):
            raise ValueError(f"clock mode must be real or manual, not {mode!r}")
        self.mode = mode
        self.start = (start or wall_now().replace(microsecond=0)).astimezone(timezone.utc)
        self._lock = threading.RLock()
        self._listeners: list[Callable[[datetime], None]] = []
        self._manual_now = self.start
        # Real mode keeps an offset from the wall clock so --now and set() work there too.
        self._offset = self.start - wall_now() if start is not None else timedelta(0)
        self._start_offset = self._offset

    def now(self) -> datetime:
        if self.mode == "manual":
            return self._manual_now
        return wall_now() + self._offset

    def set(self, value: datetime) -> datetime:
        with self._lock:
            value = value.astimezone(timezone.utc)
            if self.mode == "manual":
                self._manual_now = value
            else:
                self._offset = value - wall_now()
        self._notify()
        return self.now()

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            if self.mode == "manual":
                self._manual_now = self._manual_now + timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)
        self._notify()
        return self.now()

    def reset(self, start: datetime | None = None) -> None:
        """Back to the start time (or a new one); listeners are kept, nothing fires."""
        with self._lock:
            if start is not None:
                self.start = start.astimezone(timezone.utc)
                self._start_offset = self.start - wall_now()
            self._manual_now = self.start
            self._offset = self._start_offset

    def subscribe(self, listener: Callable[[datetime], None]) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        now = self.now()
        for listener in list(self._listeners):
            listener(now)
