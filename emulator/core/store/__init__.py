"""The state layer: one interface, three backends (memory, sqlite:PATH, redis://HOST:PORT/DB).

Every piece of mutable state lives here: the clock, the world's identity, the active scenario and
its rule counters, rate-limit windows, the journal and violations, and each vendor's state. A model
asks for typed things under a key of its own (`echo360:requests`); it never knows the backend.

Values are JSON-able (dicts, lists, strings, numbers). Every method is one atomic operation, so a
check-then-act that must hold across processes (a rule's `times`, a rate-limit window, Echo360's
in-flight limit, a single-use refresh token) is one call. Keys carry the store's namespace as a
prefix, and a tenant (core/tenants.py) is a namespace: its own clock, world, generation and state.

Anchors: Redis's own primitives (INCR, hashes, capped lists, WATCH/MULTI), SQLite in WAL mode,
LocalStack's namespaced stores, moto's reset-by-recreate.
"""
from __future__ import annotations

import contextvars
import copy
import functools
import logging
import os
import secrets
import threading
import time
from abc import ABC, abstractmethod
from typing import Any, Callable

SCHEMA_VERSION = 1  # bumped when the layout of stored state changes; older stores are migrated or refused
DELETE = object()  # returned by an update function: remove the key
GENERATION = "meta:generation"  # bumped by every reset; never goes back
VERSION = "meta:version"  # a new random token after every change to the clock, world or scenario (and a reset)

# Outages (documented in the README's "Store outages and replicas"). A store that cannot answer is
# an outage, not a bug: each operation waits at most OPERATION_TIMEOUT_SECONDS (redis-py's connect
# and socket timeouts, SQLite's busy timeout), then the request is answered 503 with Retry-After.
OPERATION_TIMEOUT_SECONDS = 1.5
PROBE_SECONDS = 0.5  # during an outage one call per process tries the store this often; the others get 503 at once
RETRY_AFTER_SECONDS = 1  # the Retry-After of a 503 during an outage

log = logging.getLogger("report_emulator.store")


def new_version() -> str:
    """A new meta:version token: random, so a store restored from an older copy never matches a
    replica's memory by chance (core/registry.py)."""
    return secrets.token_hex(8)


class StoreError(ValueError):
    """A store that cannot be used (malformed URL, unreachable, unwritable, foreign or newer)."""


class StaleGeneration(Exception):
    """A write carried a generation that a reset has since replaced: the call belongs to the old world.

    Raised by every write method while a generation is pinned (`pin_generation`) and the store holds
    another; the write did not happen. The app answers the call again, whole, in the new world.
    """


class StoreUnavailable(Exception):
    """The store cannot answer now (stopped, frozen, locked, full): every vendor answers 503 in its own
    envelope with Retry-After, the admin API too. The message never names the store's address."""

    status = 503
    retry_after = RETRY_AFTER_SECONDS

    def __init__(self, kind: str):
        self.kind = kind
        self.message = (f"Service unavailable: the emulator's state store ({kind}) is not answering; "
                        f"retry after {RETRY_AFTER_SECONDS} s")
        super().__init__(self.message)


class Outage:
    """One process's view of its store's health: a circuit breaker, and the two log lines.

    While the store answers, calls go straight through. The first call that fails starts an outage
    (one log line). From then on one call at a time, at most every PROBE_SECONDS, tries the store
    (a probe) and every other call is refused at once, so a frozen store holds no threads and gets
    no retry storm. A read that succeeds lets the same request's next call probe at once; only a
    write that succeeds ends the outage (one log line), since a locked or full SQLite file still
    reads but cannot write.
    """

    def __init__(self, store: "Store"):
        self._store = store
        self._lock = threading.Lock()
        self.since: float | None = None  # when the outage began (monotonic), None while the store answers
        self._next_probe = 0.0
        self._probing = False

    def admit(self) -> bool:
        """Let this call try the store (True: it is the outage's probe), or refuse it at once."""
        if self.since is None:
            return False
        with self._lock:
            if self.since is None:
                return False
            if self._probing or time.monotonic() < self._next_probe:
                raise StoreUnavailable(self._store.kind)
            self._probing = True
            return True

    def failed(self, probe: bool, reason: str) -> StoreUnavailable:
        with self._lock:
            now = time.monotonic()
            if self.since is None:
                self.since = now
                log.warning("report-emulator: the state store %s is not answering (%s): answering 503 with "
                            "Retry-After: %d until it answers again", self._store.describe(), reason, RETRY_AFTER_SECONDS)
            if probe:
                self._probing = False
            self._next_probe = now + PROBE_SECONDS
        return StoreUnavailable(self._store.kind)

    def answered(self, probe: bool, wrote: bool) -> None:
        if not probe and (self.since is None or not wrote):
            return
        with self._lock:
            if probe:
                self._probing = False
            if wrote and self.since is not None:
                log.warning("report-emulator: the state store %s answers again, after %.1f s of outage",
                            self._store.describe(), time.monotonic() - self.since)
                self.since = None


# The Store interface's operations, each guarded by `outages_answered`: those that only read, and the writes.
READS = ("get", "get_many", "map_get", "map_all", "log_items", "export")
WRITES = ("put", "put_if_absent", "delete", "update", "incr", "window_hit", "map_put", "map_take", "map_delete",
          "log_append_many", "log_clear", "wipe", "new_generation", "drop")


def outages_answered(cls):
    """Class decorator for a backend that can fail: each operation of the interface raises
    StoreUnavailable, instead of the driver's own error, when `cls.outage_reason(exc)` calls the
    error an outage, and goes through the process's circuit breaker (`Outage`)."""
    for name in READS + WRITES:
        setattr(cls, name, _guarded(getattr(cls, name), wrote=name in WRITES))
    return cls


def _guarded(operation: Callable, wrote: bool) -> Callable:
    @functools.wraps(operation)
    def guarded(self, *args, **kwargs):
        outage = self.outage
        probe = outage.admit()
        try:
            result = operation(self, *args, **kwargs)
        except StoreUnavailable:
            raise
        except Exception as exc:
            reason = self.outage_reason(exc)
            if reason is None:  # not the store's failure (an update function refused, a bug): it answered
                outage.answered(probe, wrote)
                raise
            raise outage.failed(probe, reason) from None
        outage.answered(probe, wrote)
        return result

    return guarded

class Store(ABC):
    """Namespaced, typed, atomic collections. Subclasses implement the primitives below.

    The reset generation: `new_generation` is a reset as one atomic step (every key but meta:* goes,
    the fresh state is put, meta:generation moves on). A request pins the generation it started in
    (`pin_generation`), and then each write checks it in the same atomic step as the write itself
    (under the lock, in the same transaction, in the same Lua script): a write of an older generation
    fails with StaleGeneration, so nothing a call of the old world writes lands in the new one.
    """

    kind = ""  # "memory", "sqlite" or "redis"
    shared = False  # can several processes use it at once
    files_persist = False  # does files_dir outlive the process (then it may hold files of forgotten requests)

    def __init__(self, url: str, namespace: str = "emulator"):
        self.url = url
        self.namespace = namespace
        self.outage = Outage(self)
        # The generation the writes of this context (one request, one thread) carry; None: unchecked.
        self._pinned = contextvars.ContextVar(f"store-generation-{id(self)}", default=None)

    def pin_generation(self, generation: int | None) -> None:
        """Make the writes of this context carry generation (None: writes outside a request, unchecked)."""
        self._pinned.set(generation)

    @property
    def pinned_generation(self) -> int | None:
        return self._pinned.get()

    def _stale(self, current: Any) -> StaleGeneration:
        return StaleGeneration(f"a reset replaced generation {self._pinned.get()} with {current or 0}")

    def outage_reason(self, exc: Exception) -> str | None:
        """A short reason when exc means the store cannot answer now (an outage), else None."""
        return None

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

    def log_append(self, name: str, item: dict, max_items: int, max_bytes: int) -> None:
        """Append item; drop the oldest while there are more than max_items or max_bytes of JSON."""
        self.log_append_many(name, [item], max_items, max_bytes)

    @abstractmethod
    def log_append_many(self, name: str, items: list[dict], max_items: int, max_bytes: int) -> None:
        """Append items in order, in one atomic step (one transaction, one script); then drop the oldest
        while there are more than max_items or max_bytes of JSON."""

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

    @abstractmethod
    def new_generation(self, values: dict[str, Any], maps: dict[str, dict] | None = None,
                       logs: dict[str, list[dict]] | None = None) -> int:
        """A reset, or a snapshot's restore, as one atomic step for every other call: add one to
        meta:generation, delete every key, map and log but meta:* (schema, instance id, link secret,
        id serials), put values (plain keys), maps and logs (export's form), and a new meta:version
        token (`new_version`). Returns the new generation. It checks no pinned generation: it is
        what moves it on."""

    def started(self) -> None:
        """Start-up is over (the app is built): from now on a call waits at most OPERATION_TIMEOUT_SECONDS."""

    def close(self) -> None:
        """Release connections (the process is exiting or forking)."""

    # --- namespaces (tenants) -------------------------------------------------------------------------

    def namespaced(self, namespace: str) -> "Store":
        """The same backend under another namespace (a tenant's): its own keys and generation, the same
        connections (and locks: SQLite's one writer per process).

        Closing the view releases only what is its own (its temporary files), never shared connections.
        """
        view = copy.copy(self)
        view.namespace = namespace
        view.is_view = True
        view._pinned = contextvars.ContextVar(f"store-generation-{id(view)}", default=None)  # its own generation
        return view

    is_view = False

    # --- the namespace as one document (snapshots) ------------------------------------------------------

    @abstractmethod
    def export(self) -> dict:
        """Everything of this namespace: {"values": {key: value}, "maps": {name: {field: value}},
        "logs": {name: [items, oldest first]}}; `new_generation` takes the same three back."""

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
