"""The bounded request journal: vendor calls only, oldest first, oldest dropped past the caps.

It lives in the store (a capped log), so every process and replica appends to one journal, in
order of arrival. Each entry (recorded by app.py's after-request hook): method, path, query, status
(None when a connection reset answered nothing), vendor, `at` (emulator clock), `wall_at` (wall
clock), duration_ms, rule (the scenario rule that answered, if any), fault, body, violations; each
entry cut to size and its secrets masked by limits.bound_entry.
"""
from __future__ import annotations

from typing import Any, Iterator

from .limits import JOURNAL_MAX_BYTES  # the journal's entries together, in bytes of JSON
from .store import Store


class RequestLog:
    """A capped log in the store (entries and bytes), oldest first."""

    def __init__(self, store: Store, name: str, cap: int, max_bytes: int):
        self.store = store
        self.name = name
        self.cap = cap
        self.max_bytes = max_bytes

    def record(self, entry: dict[str, Any]) -> None:
        self.store.log_append(self.name, entry, self.cap, self.max_bytes)

    append = record

    def items(self) -> list[dict[str, Any]]:
        return self.store.log_items(self.name)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.items())

    def clear(self) -> None:
        self.store.log_clear(self.name)

    def resize(self, cap: int) -> None:
        self.cap = cap


class Journal(RequestLog):
    def __init__(self, store: Store, cap: int = 1000, max_bytes: int = JOURNAL_MAX_BYTES):
        super().__init__(store, "journal", cap, max_bytes)

    def entries(
        self,
        vendor: str | None = None,
        method: str | None = None,
        path: str | None = None,
        path_prefix: str | None = None,
        rule: str | None = None,
    ) -> list[dict]:
        items = self.items()
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
