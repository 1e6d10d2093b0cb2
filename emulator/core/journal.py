"""The bounded request journal: vendor calls only, oldest first, oldest dropped past the caps.

It lives in the store (a capped log), so every process and replica appends to one journal, in
order of arrival. Each entry (recorded by app.py's after-request hook): method, path, query, status
(None when a connection reset answered nothing), vendor, `at` (emulator clock), `wall_at` (wall
clock), duration_ms, rule (the scenario rule that answered, if any), fault, body, violations; each
entry cut to size and its secrets masked by limits.bound_entry.
"""
from __future__ import annotations

import threading
from typing import Any, Iterator

from .limits import JOURNAL_MAX_BYTES  # the journal's entries together, in bytes of JSON
from .store import Store

GROUP_MAX_ENTRIES = 64  # entries written together at most (one transaction, one script)


class GroupCommit:
    """Appends of concurrent calls written to a shared store together: a group commit.

    A call hands over its entry and waits until it is stored, as a lone append would, so a journal read
    that follows an answer always sees its entry, in any process. While one thread writes, the entries
    of other threads of this process gather; the first of them then writes them all in one step (one
    SQLite transaction, one Redis script) and wakes the others. Under load this turns N appends (N
    round trips, N turns of SQLite's write lock) into a few; alone, a call writes its own at once.

    Entries are grouped by the reset generation their calls pinned (store.pin_generation), and the
    writer pins that one, so a group is refused whole (StaleGeneration) if a reset replaced it, as
    each of its appends would have been.
    """

    def __init__(self, store: Store, name: str):
        self.store = store
        self.name = name
        self._lock = threading.Lock()
        self._waiting: list[_Slot] = []
        self._writing = False

    def append(self, entry: dict[str, Any], cap: int, max_bytes: int) -> None:
        slot = _Slot(entry, self.store.pinned_generation)
        with self._lock:
            self._waiting.append(slot)
            lead = not self._writing
            self._writing = True
        if not lead:
            slot.turn.wait()
            if slot.done:
                if slot.error is not None:
                    raise slot.error
                return
        self._write_group(slot.generation, cap, max_bytes)
        if slot.error is not None:
            raise slot.error

    def _write_group(self, generation: int | None, cap: int, max_bytes: int) -> None:
        """Write every waiting entry of `generation` (this call's among them), then hand the turn on."""
        with self._lock:
            group = [s for s in self._waiting if s.generation == generation][:GROUP_MAX_ENTRIES]
            taken = set(map(id, group))
            self._waiting = [s for s in self._waiting if id(s) not in taken]
        error = None
        try:
            self.store.log_append_many(self.name, [s.entry for s in group], cap, max_bytes)
        except BaseException as exc:  # each call of the group gets the store's answer
            error = exc
        for s in group:
            s.error, s.done = error, True
            s.turn.set()
        with self._lock:
            if self._waiting:
                self._waiting[0].turn.set()  # the next one writes (its own group): it is not done
            else:
                self._writing = False


class _Slot:
    __slots__ = ("entry", "generation", "turn", "done", "error")

    def __init__(self, entry: dict[str, Any], generation: int | None):
        self.entry = entry
        self.generation = generation
        self.turn = threading.Event()  # set when the entry is stored (done), or when it is this call's turn to write
        self.done = False
        self.error: BaseException | None = None


class RequestLog:
    """A capped log in the store (entries and bytes), oldest first."""

    def __init__(self, store: Store, name: str, cap: int, max_bytes: int):
        self.store = store
        self.name = name
        self.cap = cap
        self.max_bytes = max_bytes
        self._group = GroupCommit(store, name) if store.shared else None  # memory: an append is a few µs

    def record(self, entry: dict[str, Any]) -> None:
        if self._group is not None:
            self._group.append(entry, self.cap, self.max_bytes)
        else:
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
