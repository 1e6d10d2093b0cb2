"""The pytest fixture `report_emulator`: one server per test session, reset before each test.

The server runs in a background thread on port 0 with a manual clock that starts at the real time of
session start, cut to the second. Every test gets it freshly reset (seed 1 unless a marker says
otherwise): `@pytest.mark.report_emulator(seed=..., now=..., scenario=...)`.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

MARKER = "report_emulator(seed=None, now=None, scenario=None): set the emulator's seed, start time or scenario for one test"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", MARKER)


class ReportEmulator:
    """What a test holds: the base URL, credentials, world ids, and the levers on time and state."""

    def __init__(self, server):
        self._server = server
        self.app = server.app
        self.emulator = server.app.extensions["emulator"]
        self.url = server.url

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        return {name: model.credentials() for name, model in self.emulator.vendors.items()}

    @property
    def world(self) -> dict[str, Any]:
        return {name: model.world_summary() for name, model in self.emulator.vendors.items()}

    @property
    def now(self) -> datetime:
        return self.emulator.clock.now()

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward; every transition that falls due completes before this returns."""
        return self.emulator.clock.advance(seconds)

    def set_time(self, when: str | datetime) -> datetime:
        from .settings import parse_instant

        return self.emulator.clock.set(parse_instant(when) if isinstance(when, str) else when)

    def load_scenario(self, path_or_dict: str | Path | dict | list) -> dict:
        """Make a scenario (a YAML/JSON file, a dict, or a list of them) the active one; returns it validated.

        A bad scenario raises ScenarioError naming each wrong field, and the active one stays.
        """
        return self.emulator.load_scenario(path_or_dict)

    def clear_scenario(self) -> None:
        self.emulator.apply_scenario(None)

    @property
    def scenario(self) -> dict:
        """The active scenario and each rule's counters: {"scenario": {...} or None, "rules": [...]}."""
        return self.emulator.scenario_status()

    def assert_called(self, method: str, path: str, times: int | None = None) -> list[dict]:
        """Assert the journal holds `method path` (exactly `times` times, or at least once); returns those entries.

        The failure message lists the calls that were made to the same path by another method or
        to a similar path, which is usually the bug.
        """
        journal = self.emulator.journal
        calls = journal.entries(method=method, path=path)
        if (times is None and calls) or (times is not None and len(calls) == times):
            return calls
        expected = "at least once" if times is None else f"{times} time{'s' if times != 1 else ''}"
        lines = [f"expected {method.upper()} {path} to be called {expected}, but it was called {len(calls)} time{'s' if len(calls) != 1 else ''}"]
        misses = journal.near_misses(method, path)
        if misses:
            lines.append("near misses:")
            lines += [f"  {_describe(e)}" for e in misses]
        else:
            total = len(journal.entries())
            lines.append("no near misses; the journal is empty" if not total else f"no near misses among {total} recorded call(s)")
        raise AssertionError("\n".join(lines))

    def violations(self, vendor: str | None = None) -> list[dict]:
        """Requests that broke their vendor's documented contract, oldest first (as GET /_emulator/violations).

        Recorded in lenient and strict mode alike; strict mode (`--strict`, EMULATOR_STRICT or a scenario's
        `strict: true`) also refuses them with the vendor's own validation error.
        """
        return [dict(v) for v in list(self.emulator.violations) if vendor is None or v["vendor"] == vendor]

    def assert_no_violations(self, vendor: str | None = None) -> None:
        """Assert the client kept to every vendor's documented contract; the failure lists each violation."""
        found = self.violations(vendor)
        if not found:
            return
        lines = [f"{len(found)} contract violation{'s' if len(found) != 1 else ''}:"]
        for v in found:
            refused = " (refused: strict mode)" if v.get("strict") else ""
            lines.append(f"  {v['method']} {v['path']}: {v['rule']}: {v['message']}{refused}")
        raise AssertionError("\n".join(lines))

    def journal(self, vendor: str | None = None, method: str | None = None, path: str | None = None) -> list[dict]:
        return self.emulator.journal.entries(vendor=vendor, method=method, path=path)

    def reset(self, seed: int | None = None, now: str | datetime | None = None) -> None:
        from .settings import parse_instant

        self.emulator.reset(seed=seed, now=parse_instant(now) if isinstance(now, str) else now)


def _describe(entry: dict) -> str:
    query = f"?{entry['query']}" if entry.get("query") else ""
    status = entry["status"] if entry["status"] is not None else f"no answer ({entry.get('fault')})"
    rule = f" [rule {entry['rule']}]" if entry.get("rule") else ""
    return f"{entry['method']} {entry['path']}{query} -> {status}{rule}"


@pytest.fixture(scope="session")
def report_emulator_server():
    """The session's one server (use `report_emulator` in tests)."""
    from .app import create_app
    from .core.clock import wall_now
    from .server import ServerThread
    from .settings import Settings

    settings = Settings(port=0, clock="manual", now=wall_now().replace(microsecond=0), seed=1)
    server = ServerThread(create_app(settings), "127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def report_emulator(request, report_emulator_server) -> ReportEmulator:
    handle = ReportEmulator(report_emulator_server)
    marker = request.node.get_closest_marker("report_emulator")
    options = dict(marker.kwargs) if marker else {}
    handle.reset(seed=options.get("seed"), now=options.get("now"))
    if options.get("scenario") is not None:
        handle.load_scenario(options["scenario"])
    return handle
