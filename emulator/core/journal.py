"""The bounded request journal: vendor calls only, oldest first, oldest dropped past the cap."""
from __future__ import annotations

import threading
from collections import deque
from typing import Any


class Journal:
    def __init__(self, cap: int = 1000):
        self.cap = cap
        self._entries: deque[dict[str, Any]] = deque(maxlen=cap)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, vendor: str | None = None, method: str | None = None, path: str | None = None) -> list[dict]:
        with self._lock:
            items = list(self._entries)
        if vendor:
            items = [e for e in items if e["vendor"] == vendor]
        if method:
            items = [e for e in items if e["method"] == method.upper()]
        if path:
            items = [e for e in items if e["path"] == path]
        return items

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def resize(self, cap: int) -> None:
        with self._lock:
            self.cap = cap
            self._entries = deque(self._entries, maxlen=cap)
