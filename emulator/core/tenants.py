"""Tenants: one running emulator, many isolated users, each under `/tenants/<tenant>/`.

A tenant is a store namespace (`tenant:<name>`; the unprefixed paths are the tenant `default`, the
store's own namespace), so it has its own clock, world, scenario, journal and vendor state, on every
backend and across workers and replicas. Only the request's first step knows about tenants: the WSGI
wrapper `TenantPaths` moves `/tenants/<tenant>` from the path into SCRIPT_NAME (so every link the
emulator makes carries the prefix), and the app's first hook asks `Tenants.get` for that tenant's
Emulator and keeps it in `g`; everything after reads `current_emulator()`.

The index of tenants lives in its own namespace (`tenants`): `names` (name -> {id, created}, changed
atomically: the limit holds across processes), `tenants` (the same records, read per request) and
`last_used`. Each process keeps the Emulators it has built, by the record's id, so a tenant that
another process removed and someone made again is built afresh here.
"""
from __future__ import annotations

import json
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from flask import current_app, g, has_request_context

if TYPE_CHECKING:
    from .registry import Emulator
    from .store import Store

DEFAULT_TENANT = "default"
PATH_PREFIX = "/tenants/"
TENANT_NAME = re.compile(r"[a-z0-9-]{1,64}")
NAME_RULE = "a tenant name is 1 to 64 characters of a-z, 0-9 and '-'"
MAX_TENANTS = 1000  # tenants besides `default` (--max-tenants)
IDLE_HOURS = 24.0  # a tenant unused this long (wall time) is removed (--tenant-idle-hours)
LAST_USE_EVERY_SECONDS = 60  # a process records a tenant's last use at most this often (the list is that precise)
SWEEP_EVERY_SECONDS = 300  # a process looks for idle tenants at most this often
ENVIRON_KEY = "report_emulator.tenant"


class TenantLimit(Exception):
    """No room for another tenant: 503 in the vendor's envelope (or the admin API's)."""

    def __init__(self, limit: int):
        super().__init__(f"this emulator holds its limit of {limit} tenants (--max-tenants); remove one with "
                         f"DELETE /_emulator/tenants/<tenant>, or wait for idle ones to be removed")
        self.message = str(self)


class UnknownTenant(Exception):
    def __init__(self, name: str):
        super().__init__(f"no tenant {name!r}")
        self.message = str(self)


def namespace_of(name: str) -> str:
    return f"tenant:{name}"


def current_emulator() -> "Emulator":
    """The request's tenant's Emulator; outside a request (or before its first step), `default`'s."""
    if has_request_context():
        found = g.get("emulator")
        if found is not None:
            return found
    return current_app.extensions["emulator"]


class TenantPaths:
    """WSGI wrapper: `/tenants/<tenant>/rest` is served as `/rest` with SCRIPT_NAME `/tenants/<tenant>`.

    A name outside the rule is answered here: 404 in the admin envelope, naming the rule.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or ""
        if path.startswith(PATH_PREFIX):
            name, _, rest = path[len(PATH_PREFIX):].partition("/")
            if not TENANT_NAME.fullmatch(name):
                shown = name if len(name) <= 80 else name[:80] + "..."
                message = f"no tenant {shown!r}: {NAME_RULE}"
                body = json.dumps({"error": message, "errors": {"tenant": [NAME_RULE]}}).encode()
                start_response("404 NOT FOUND", [("Content-Type", "application/json"),
                                                 ("Content-Length", str(len(body)))])
                return [body]
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + PATH_PREFIX + name
            environ["PATH_INFO"] = "/" + rest
            environ[ENVIRON_KEY] = name
        return self.wsgi_app(environ, start_response)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class Tenants:
    """Every tenant's Emulator in this process, made on first use; the index shared through the store."""

    def __init__(self, default: "Emulator", build: Callable[[str, "Store"], "Emulator"],
                 max_tenants: int = MAX_TENANTS, idle_hours: float = IDLE_HOURS):
        self.default = default
        self.build = build
        self.max_tenants = max_tenants
        self.idle_seconds = idle_hours * 3600
        self.index = default.store.namespaced("tenants")
        self._built: dict[str, tuple[str, "Emulator"]] = {}  # name -> (record id, its Emulator)
        self._lock = threading.RLock()
        self._last_written: dict[str, float] = {}
        self._next_sweep = 0.0

    def get(self, name: str) -> "Emulator":
        """The tenant's Emulator, made (from the start-up settings) on its first call anywhere."""
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY_SECONDS
            self.remove_idle(now)
        self._touch(name, now)
        if name == DEFAULT_TENANT:
            return self.default
        record = self.index.map_get("tenants", name) or self._admit(name, now)
        built = self._built.get(name)
        if built is not None and built[0] == record["id"]:
            return built[1]
        with self._lock:
            built = self._built.get(name)
            if built is not None and built[0] == record["id"]:
                return built[1]
            if built is not None:  # removed and made again elsewhere: this process's copy is stale
                built[1].close()
            emulator = self.build(name, self.default.store.namespaced(namespace_of(name)))
            self._built[name] = (record["id"], emulator)
            return emulator

    def _admit(self, name: str, now: float) -> dict:
        """Enter a new tenant in the index, atomically within the limit; its record (another's, if it won)."""
        record = {"id": secrets.token_hex(8), "created": now}

        def admit(names):
            names = dict(names or {})
            if name in names:
                return names, names[name]
            if len(names) >= self.max_tenants:
                raise TenantLimit(self.max_tenants)
            names[name] = record
            return names, record

        found = self.index.update("names", admit)
        self.index.map_put("tenants", name, found)
        return found

    def _touch(self, name: str, now: float) -> None:
        if now - self._last_written.get(name, 0.0) >= LAST_USE_EVERY_SECONDS:
            self._last_written[name] = now
            self.index.map_put("last_used", name, now)

    def listing(self) -> list[dict]:
        """Every tenant (default first), with when it was made and last used (to the minute)."""
        names = self.index.get("names") or {}
        used = self.index.map_all("last_used")
        rows = [{"tenant": DEFAULT_TENANT, "created": None,
                 "last_used": _iso(used[DEFAULT_TENANT]) if DEFAULT_TENANT in used else None}]
        for name in sorted(names):
            last = used.get(name, names[name]["created"])
            rows.append({"tenant": name, "created": _iso(names[name]["created"]), "last_used": _iso(last)})
        return rows

    def remove(self, name: str) -> None:
        """Remove a tenant and everything it holds (UnknownTenant when there is none)."""
        found = {}

        def take(names):
            names = dict(names or {})
            found["record"] = names.pop(name, None)
            return names, None

        self.index.update("names", take)
        self.index.map_delete("tenants", [name])
        self.index.map_delete("last_used", [name])
        self._last_written.pop(name, None)
        with self._lock:
            built = self._built.pop(name, None)
        if found["record"] is None and built is None:
            raise UnknownTenant(name)
        if built is not None:
            built[1].close()
        self.default.store.namespaced(namespace_of(name)).drop()

    def remove_idle(self, now: float | None = None) -> list[str]:
        """Remove the tenants unused for the idle time (wall time); returns their names."""
        now = time.time() if now is None else now
        names = self.index.get("names") or {}
        used = self.index.map_all("last_used")
        idle = [n for n, record in names.items() if now - used.get(n, record["created"]) > self.idle_seconds]
        for name in idle:
            try:
                self.remove(name)
            except UnknownTenant:  # another process removed it first
                pass
        return idle

    def close(self) -> None:
        with self._lock:
            built, self._built = list(self._built.values()), {}
        for _, emulator in built:
            emulator.close()
