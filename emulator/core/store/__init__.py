"""The state layer: one interface, three backends (memory, sqlite:PATH, redis://HOST:PORT/DB).

Every piece of mutable state lives here: the clock, the world's identity, the active scenario and
its rule counters, rate-limit windows, the journal and violations, and each vendor's state. A model
asks for typed things under a key of its own (`echo360:requests`); it never knows the backend.

Values are JSON-able (dicts, lists, strings, numbers). Every method is one atomic operation, so a
check-then-act that must hold across processes (a rule's `times`, a rate-limit window, Echo360's
in-flight limit, a single-use refresh token) is one call. Keys carry the store's namespace as a
prefix, so several isolated emulators could share one database later.

Anchors: Redis's own primitives (INCR, hashes, capped lists, WATCH/MULTI), SQLite in WAL mode,
LocalStack's namespaced stores, moto's reset-by-recreate.
"""
from __future__ import annotations

import copy
import os
import secrets
from abc import ABC, abstractmethod
from typing import Any, Callable

SCHEMA_VERSION = 1  # bumped when the layout of stored state changes; older stores are migrated or refused
DELETE = object()  # returned by an update function: remove the key


class StoreError(ValueError):
    """A store that cannot be used (malformed URL, unreachable, unwritable, foreign or newer)."""


class Store(ABC):
    """Namespaced, typed, atomic collections. Subclasses implement the primitives below."""

    kind = ""  # "memory", "sqlite" or "redis"
    shared = False  # can several processes use it at once
    files_persist = False  # does files_dir outlive the process (then it may hold files of forgotten requests)

    def __init__(self, url: str, namespace: str = "emulator"):
        self.url = url
        self.namespace = namespace

    # --- plain values ----------------------------------------------------------------------------

    @abstractmethod
    def get(self, key: str) -> Any:
        """The value under key, or None."""

    @abstractmethod
    def get_many(self, keys: list[str]) -> list[Any]:
        """Several values in one round trip (None for a missing key)."""

    @abstractmethod
    def put(self, key: str, value: Any) -> None: ...

    @abstractmethod
    def put_if_absent(self, key: str, value: Any) -> Any:
        """Store value unless key holds one; return what the key holds afterwards."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def update(self, key: str, fn: Callable[[Any], tuple[Any, Any]]) -> Any:
        """Atomic read-modify-write: fn(current or None) -> (new value or DELETE, result); returns result.

        fn may run more than once (optimistic backends retry on conflict) and may raise to abort,
        leaving the value unchanged.
        """

    @abstractmethod
    def incr(self, key: str, amount: int = 1) -> int:
        """Add amount to the counter under key (0 when missing); return the new count."""

    @abstractmethod
    def window_hit(self, key: str, now: float, seconds: float) -> tuple[int, float]:
        """Count one hit in key's fixed window; a window starts at the first hit after the last one ended
        (or when the clock moved back before it). Returns (hits in the window, when it started)."""

    # --- maps ------------------------------------------------------------------------------------

    @abstractmethod
    def map_get(self, name: str, field: str) -> Any: ...

    @abstractmethod
    def map_put(self, name: str, field: str, value: Any) -> None: ...

    @abstractmethod
    def map_take(self, name: str, field: str) -> Any:
        """Remove a field and return its value (None when absent): one caller ever gets it."""

    @abstractmethod
    def map_delete(self, name: str, fields: list[str]) -> None: ...

    @abstractmethod
    def map_all(self, name: str) -> dict[str, Any]: ...

    # --- capped logs -----------------------------------------------------------------------------

    @abstractmethod
    def log_append(self, name: str, item: dict, max_items: int, max_bytes: int) -> None:
        """Append item; drop the oldest while there are more than max_items or max_bytes of JSON."""

    @abstractmethod
    def log_items(self, name: str) -> list[dict]:
        """The log, oldest first."""

    @abstractmethod
    def log_clear(self, name: str) -> None: ...

    # --- the store as a whole --------------------------------------------------------------------

    @abstractmethod
    def wipe(self, prefixes: list[str] | None = None) -> None:
        """Delete every key, map and log of this namespace except the store's own identity (meta:*);
        with prefixes, only those whose names start with one of them (a vendor's state: `echo360:`)."""

    def close(self) -> None:
        """Release connections (the process is exiting or forking)."""

    # --- namespaces (tenants) -------------------------------------------------------------------------

    def namespaced(self, namespace: str) -> "Store":
        """The same backend under another namespace (a tenant's): its own keys, the same connections.

        Closing the view releases only what is its own (its temporary files), never shared connections.
        """
        view = copy.copy(self)
        view.namespace = namespace
        view.is_view = True
        return view

    is_view = False

    # --- the namespace as one document (snapshots) ------------------------------------------------------

    @abstractmethod
    def export(self) -> dict:
        """Everything of this namespace: {"values": {key: value}, "maps": {name: {field: value}},
        "logs": {name: [items, oldest first]}}."""

    @abstractmethod
    def replace(self, state: dict, keep: tuple[str, ...] = ()) -> None:
        """Make this namespace exactly `state` (export's form) in one step, except the values named in
        `keep`, which stay as they are (the store's own bookkeeping)."""

    @abstractmethod
    def drop(self) -> None:
        """Delete everything of this namespace, its identity (meta:*) included: a removed tenant."""

    @property
    def files_dir(self) -> str:
        """Where generated report files are kept for this store (made on first use)."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.url

    # --- identity, kept across resets ---------------------------------------------------------------

    def identity(self) -> dict[str, str]:
        """This store's random instance id and link-signing secret, made once and kept with it.

        Ids and tokens are drawn from the instance id and the reset generation, so nothing issued
        before a reset or on another (fresh) store can open something issued after it.
        """
        instance = self.put_if_absent("meta:instance", secrets.token_hex(8))
        secret = self.put_if_absent("meta:secret", secrets.token_hex(32))
        return {"instance": instance, "secret": secret}


def open_store(url: str | None, namespace: str = "emulator") -> Store:
    """The store a --state URL names: memory, sqlite:PATH or redis://HOST:PORT/DB."""
    url = (url or "memory").strip()
    if url == "memory":
        from .memory import MemoryStore

        return MemoryStore(url, namespace)
    if url.startswith("sqlite:"):
        path = url[len("sqlite:"):]
        if path.startswith("//"):  # sqlite:///abs/path, the SQLAlchemy spelling
            path = path[2:]
        if not path:
            raise StoreError(f"--state {url}: name the database file, e.g. sqlite:state.db or sqlite:/var/lib/report-emulator/state.db")
        from .sqlite import SqliteStore

        return SqliteStore(url, os.path.abspath(os.path.expanduser(path)), namespace)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisStore

        return RedisStore(url, namespace)
    raise StoreError(f"--state {url!r} is not a store: use memory, sqlite:PATH or redis://HOST:PORT/DB")
