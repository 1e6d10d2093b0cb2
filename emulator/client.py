"""EmulatorClient: the pytest fixture's handle, over HTTP, for a running server (and one of its tenants).

    from emulator.client import EmulatorClient

    emulator = EmulatorClient("http://localhost:8080", tenant="team-a")
    emulator.reset(seed=7)
    emulator.advance(3600)
    emulator.assert_called("POST", "/oauth2/access_token")

This is the one implementation of the handle's surface: the `report_emulator` fixture's handle is an
EmulatorClient on the fixture's own server (in-process) or on a shared one (`report_emulator_url`).
Every call is one admin API call (`/_emulator/...`); an answer that is not 2xx raises: a refused
scenario as `emulator.core.scenarios.ScenarioError` (what loading one in-process raises), anything else as `EmulatorError`,
both ValueErrors carrying the server's message and its `errors` by field.
"""
from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from .settings import parse_instant

TIMEOUT = 60.0  # seconds for one admin call (a clock move waits for report files it made due)


class EmulatorError(ValueError):
    """An admin call the server refused: its status, message and {field path: [messages]}."""

    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.errors = errors or {}


class Now(datetime):
    """The emulator's time: a datetime that may also be called (`handle.now` and `handle.now()` agree)."""

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), self.tzinfo)


def _now(value: datetime) -> Now:
    return Now.fromtimestamp(value.timestamp(), value.tzinfo)


class EmulatorClient:
    """The handle's surface over the admin API of one tenant of a running emulator."""

    def __init__(self, url: str, tenant: str | None = None, session=None, auth: tuple[str, str] | None = None):
        """`url`: the server (`http://user:password@host:port` when it runs with --admin-auth, or pass
        `auth=(user, password)`); `tenant`: a tenant's name, None for the unprefixed paths (`default`)."""
        from urllib.parse import unquote, urlsplit, urlunsplit

        parts = urlsplit(url.strip())
        if parts.username is not None:
            auth = auth or (unquote(parts.username), unquote(parts.password or ""))
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.server_url = urlunsplit(parts).rstrip("/")
        self.tenant = tenant
        self.url = f"{self.server_url}/tenants/{tenant}" if tenant else self.server_url  # the tenant's base URL
        if session is None:
            import requests  # here, not at import: the pytest plugin imports this module at pytest's start

            session = requests.Session()
        if auth is not None:
            session.auth = auth
        self._session = session

    def __repr__(self) -> str:
        """The URL, and (when the server answers) the clock, the scenario and how many calls are recorded."""
        try:
            clock = self._call("GET", "/clock")
            scenario = (self._call("GET", "/scenario").get("scenario") or {}).get("name")
            calls = len(self.journal())
        except Exception:  # a repr never raises (pytest shows it when a test fails)
            return f"<{type(self).__name__} {self.url}>"
        return (f"<{type(self).__name__} {self.url} {clock['mode']} clock at {clock['now']} "
                f"scenario={scenario!r} journal={calls} calls>")

    # --- the admin API ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, base: str | None = None, **kwargs) -> Any:
        """One admin call (to this tenant's admin API, or `base`'s); the answer's JSON, or raise with the
        server's message."""
        response = self._session.request(method, f"{base or self.url}/_emulator{path}", timeout=TIMEOUT, **kwargs)
        if response.ok:
            if response.headers.get("Content-Type", "").startswith("application/json"):
                return response.json()
            return response.content
        try:
            body = response.json()
            message, errors = body.get("error") or response.reason, body.get("errors") or {}
        except ValueError:
            message, errors = response.text.strip() or response.reason, {}
        if path == "/scenario" and response.status_code == 400:
            from .core.scenarios import ScenarioError

            raise ScenarioError(message, errors)
        raise EmulatorError(response.status_code, message, errors)

    # --- what a test reads ---------------------------------------------------------------------------

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        return self._call("GET", "/credentials")

    @property
    def world(self) -> dict[str, Any]:
        return self._call("GET", "/world")

    @property
    def now(self) -> Now:
        """The emulator's time (also callable: `now()`)."""
        return _now(parse_instant(self._call("GET", "/clock")["now"]))

    @property
    def scenario(self) -> dict:
        """The active scenario and each rule's counters: {"scenario": {...} or None, "rules": [...]}."""
        return self._call("GET", "/scenario")

    # --- time ------------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward; every transition that falls due completes before this returns."""
        return parse_instant(self._call("POST", "/clock/advance", json={"seconds": seconds})["now"])

    def set_time(self, when: str | datetime) -> datetime:
        text = when if isinstance(when, str) else when.isoformat()
        return parse_instant(self._call("POST", "/clock", json={"now": text})["now"])

    # --- state -----------------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, now: str | datetime | None = None) -> None:
        """Clear every mutable thing; back to the start seed and time, or to the ones given."""
        body: dict[str, Any] = {}
        if seed is not None:
            body["seed"] = seed
        if now is not None:
            body["now"] = now if isinstance(now, str) else now.isoformat()
        self._call("POST", "/reset", json=body)

    def load_scenario(self, path_or_dict: str | Path | dict | list) -> dict:
        """Make a scenario (a YAML/JSON file, a folder, a shipped name, a dict, or a list of them) the
        active one; returns it validated. A bad one raises ScenarioError naming each wrong field, and the
        active one stays. Files are read here, so they need not exist where the server runs."""
        from .core.scenarios import load

        data = load(path_or_dict)
        self._call("PUT", "/scenario", data=json.dumps(data), headers={"Content-Type": "application/json"})
        return data

    def clear_scenario(self) -> None:
        self._call("DELETE", "/scenario")

    def snapshot(self, journal: bool = False) -> dict:
        """The tenant's whole state as one JSON document (GET /_emulator/snapshot); `journal` adds it."""
        return self._call("GET", "/snapshot", params={"journal": "1"} if journal else None)

    def restore(self, snapshot: dict | str | Path | bytes) -> None:
        """Make the tenant exactly a snapshot's state: a document, or a file (gzip or not) holding one."""
        if isinstance(snapshot, (str, Path)):
            snapshot = Path(snapshot).read_bytes()
        if isinstance(snapshot, bytes):
            body = gzip.decompress(snapshot) if snapshot[:2] == b"\x1f\x8b" else snapshot
        else:
            body = json.dumps(snapshot).encode()
        self._call("PUT", "/snapshot", data=body, headers={"Content-Type": "application/json"})

    # --- the journal -----------------------------------------------------------------------------------

    def journal(self, vendor: str | None = None, **filters: str | None) -> list[dict]:
        """The recorded vendor calls, oldest first; filters: vendor, method, path, path_prefix, rule (an
        unknown filter or vendor raises EmulatorError naming it, so a typo never reads as "no calls")."""
        filters["vendor"] = vendor
        return self._call("GET", "/journal", params={k: v for k, v in filters.items() if v is not None})["requests"]

    def count(self, match: dict) -> int:
        """How many recorded calls a scenario rule's `match` matches."""
        return self._call("POST", "/journal/count", json=match)["count"]

    def assert_called(self, method: str, path: str, times: int | None = None) -> list[dict]:
        """Assert the journal holds `method path` (exactly `times` times, or at least once); returns those entries.

        A query string in `path` (`/api/v1/health?x=1`) must be among the parameters sent, as a rule's
        `match: {query: ...}`. The failure lists the near misses (POST /_emulator/journal/near-misses):
        calls to the same path by another method, with other parameters, or to a similar path.
        """
        __tracebackhide__ = True
        from .core.admin import entry_matches

        bare, _, query = path.partition("?")
        match: dict[str, Any] = {"method": method.upper(), "path": bare}
        if query:
            match["query"] = dict(parse_qsl(query, keep_blank_values=True))
        entries = self.journal()
        calls = [e for e in entries if entry_matches(match, e)]
        if (times is None and calls) or (times is not None and len(calls) == times):
            return calls
        expected = "at least once" if times is None else f"{times} time{'s' if times != 1 else ''}"
        lines = [f"expected {method.upper()} {path} to be called {expected}, but it was called "
                 f"{len(calls)} time{'s' if len(calls) != 1 else ''}"]
        misses = self._call("POST", "/journal/near-misses", json=match)["near_misses"]
        if misses:
            lines.append("near misses:")
            lines += [f"  {_describe(e)}" for e in misses]
        else:
            lines.append("no near misses; the journal is empty" if not entries
                         else f"no near misses among {len(entries)} recorded call(s)")
        raise AssertionError("\n".join(lines))

    def violations(self, vendor: str | None = None) -> list[dict]:
        """Requests that broke their vendor's documented contract, oldest first (GET /_emulator/violations).

        Recorded in lenient and strict mode alike; strict mode (`--strict`, EMULATOR_STRICT or a scenario's
        `strict: true`) also refuses them with the vendor's own validation error.
        """
        found = self._call("GET", "/violations")["violations"]
        return [v for v in found if vendor is None or v["vendor"] == vendor]  # any name: none of "nobody"'s

    def assert_no_violations(self, vendor: str | None = None) -> None:
        """Assert the client kept to every vendor's documented contract; the failure lists each violation."""
        __tracebackhide__ = True
        found = self.violations(vendor)
        if not found:
            return
        lines = [f"{len(found)} contract violation{'s' if len(found) != 1 else ''}:"]
        for v in found:
            refused = " (refused: strict mode)" if v.get("strict") else ""
            lines.append(f"  {v['method']} {v['path']}: {v['rule']}: {v['message']}{refused}")
        raise AssertionError("\n".join(lines))

    # --- the tenant --------------------------------------------------------------------------------------

    def delete_tenant(self) -> None:
        """Remove this client's tenant and everything it holds (its next call makes it again, fresh).
        Sent to the unprefixed admin API, so it never makes the tenant it removes; a tenant that is
        not there raises EmulatorError 404."""
        if not self.tenant:
            raise EmulatorError(400, "the tenant default cannot be removed; reset() clears it")
        self._call("DELETE", f"/tenants/{quote(self.tenant)}", base=self.server_url)

    def close(self) -> None:
        self._session.close()


def _describe(entry: dict) -> str:
    query = f"?{entry['query']}" if entry.get("query") else ""
    status = entry["status"] if entry["status"] is not None else f"no answer ({entry.get('fault')})"
    rule = f" [rule {entry['rule']}]" if entry.get("rule") else ""
    return f"{entry['method']} {entry['path']}{query} -> {status}{rule}"


__all__ = ["EmulatorClient", "EmulatorError", "Now"]
