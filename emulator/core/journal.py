"""The bounded request journal: vendor calls only, oldest first, oldest dropped past the cap.

Each entry (recorded by app.py's after-request hook): method, path, query, status (None when a
connection reset answered nothing), vendor, `at` (emulator clock), `wall_at` (wall clock),
duration_ms, rule (the scenario rule that answered, if any), fault, body; each entry is cut to size
and its secrets masked by limits.bound_entry, and the entries in all weigh at most max_bytes.
"""
from __future__ import annotations

import difflib
import threading
from collections import deque
from typing import Any

from .limits import JOURNAL_MAX_BYTES, entry_bytes


class Journal:
    def __init__(self, cap: int = 1000, max_bytes: int = JOURNAL_MAX_BYTES):
        self.cap = cap
        self.max_bytes = max_bytes  # the entries' text (limits.entry_bytes) in all; the oldest go first
        self._entries: deque[dict[str, Any]] = deque(maxlen=cap)
        self._bytes = 0
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        size = entry_bytes(entry)
        with self._lock:
            if len(self._entries) == self.cap:
                self._bytes -= entry_bytes(self._entries.popleft())
            self._entries.append(entry)
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                self._bytes -= entry_bytes(self._entries.popleft())

    @property
    def bytes(self) -> int:
        """What the entries weigh, as counted against max_bytes."""
        return self._bytes

    def entries(
        self,
        vendor: str | None = None,
        method: str | None = None,
        path: str | None = None,
        path_prefix: str | None = None,
        rule: str | None = None,
    ) -> list[dict]:
        with self._lock:
            items = list(self._entries)
        if vendor:
            items = [e for e in items if e["vendor"] == vendor]
        if method:
            items = [e for e in items if e["method"] == method.upper()]
        if path:
            items = [e for e in items if e["path"] == path]
        if path_prefix:
            items = [e for e in items if e["path"].startswith(path_prefix)]
        if rule:
            items = [e for e in items if e.get("rule") == rule]
        return items

    def near_misses(self, method: str, path: str, limit: int = 10) -> list[dict]:
        """Entries that almost were `method path`: the same path by another method, or a similar path."""
        method = method.upper()
        scored = []
        for entry in self.entries():
            if entry["method"] == method and entry["path"] == path:
                continue
            # The same path by another method first, then similar paths (the same method before others).
            score = difflib.SequenceMatcher(None, entry["path"], path).ratio()
            if entry["path"] == path or score >= 0.6:
                scored.append((-(score + 2 * (entry["path"] == path) + 0.5 * (entry["method"] == method)), entry))
        scored.sort(key=lambda pair: pair[0])
        return [entry for _, entry in scored[:limit]]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def resize(self, cap: int) -> None:
        with self._lock:
            self.cap = cap
            self._entries = deque(self._entries, maxlen=cap)
            self._bytes = sum(entry_bytes(e) for e in self._entries)
