"""The pytest fixture `report_emulator`: one server per test session, reset before each test.

The server runs in a background thread on port 0 with a manual clock that starts at the real time of
session start, cut to the second (or the ini option `report_emulator_now`). Every test gets it
freshly reset (seed 1, or the ini option `report_emulator_seed`, unless a marker says otherwise):
`@pytest.mark.report_emulator(seed=..., now=..., scenario=..., strict=...)`.

The fixture's own methods act on the server in-process, so they work whatever guards its admin API;
a session that wants the guards (`Settings(admin_auth=...)`) overrides `report_emulator_settings`, and
its tests send `report_emulator.admin_auth` with their own HTTP calls to `/_emulator`.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
# Imported with the plugin, before pytester can snapshot sys.modules: PyYAML's C extension cannot be
# imported twice, so a first import inside a pytester run, dropped afterwards, would leave the next
# import with two copies of yaml.nodes ("could not determine a constructor for the tag None").
import yaml  # noqa: F401

MARKER = ("report_emulator(seed=None, now=None, scenario=None, strict=None): set the emulator's seed, start time, "
          "scenario (a file, a folder, a shipped name, a dict or a list) or strict mode for one test")
MARKER_ARGUMENTS = ("now", "scenario", "seed", "strict")


def pytest_addoption(parser) -> None:
    parser.addini("report_emulator_seed", "the report_emulator fixture's default seed (default 1)", default="")
    parser.addini("report_emulator_now", "the report_emulator fixture's start time, ISO 8601 (default: the real "
                  "time at session start), so that data does not move with the calendar", default="")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", MARKER)


class ReportEmulator:
    """What a test holds: the base URL, credentials, world ids, and the levers on time and state."""

    def __init__(self, server):
        self._server = server
        self.app = server.app
        self.emulator = server.app.extensions["emulator"]
        self.url = server.url

    def __repr__(self) -> str:
        clock = self.emulator.clock
        scenario = (self.emulator.scenario_status().get("scenario") or {}).get("name")
        return (f"<ReportEmulator {self.url} seed={self.emulator.world.seed} {clock.mode} clock at "
                f"{clock.now().isoformat()} scenario={scenario!r} journal={len(self.emulator.journal.entries())} calls>")

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        return {name: model.credentials() for name, model in self.emulator.vendors.items()}

    @property
    def admin_auth(self) -> tuple[str, str] | None:
        """(user, password) when the server runs with admin auth (requests' `auth=` takes it), else None."""
        from .settings import parse_admin_auth

        text = self.emulator.settings.admin_auth
        return parse_admin_auth(text) if text else None

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

        A query string in `path` (`/api/v1/health?x=1`) must be among the parameters sent, as a rule's
        `match: {query: ...}`. The failure lists the near misses (POST /_emulator/journal/near-misses):
        calls to the same path by another method, with other parameters, or to a similar path.
        """
        __tracebackhide__ = True  # a failure shows the test's line and the near misses, not this method
        from .core.admin import entry_matches, near_misses

        bare, _, query = path.partition("?")
        match: dict[str, Any] = {"method": method.upper(), "path": bare}
        if query:
            match["query"] = dict(parse_qsl(query, keep_blank_values=True))
        entries = self.emulator.journal.entries()
        calls = [e for e in entries if entry_matches(match, e)]
        if (times is None and calls) or (times is not None and len(calls) == times):
            return calls
        expected = "at least once" if times is None else f"{times} time{'s' if times != 1 else ''}"
        lines = [f"expected {method.upper()} {path} to be called {expected}, but it was called {len(calls)} time{'s' if len(calls) != 1 else ''}"]
        misses = near_misses(match, entries)
        if misses:
            lines.append("near misses:")
            lines += [f"  {_describe(e)}" for e in misses]
        else:
            lines.append("no near misses; the journal is empty" if not entries else f"no near misses among {len(entries)} recorded call(s)")
        raise AssertionError("\n".join(lines))

    def violations(self, vendor: str | None = None) -> list[dict]:
        """Requests that broke their vendor's documented contract, oldest first (as GET /_emulator/violations).

        Recorded in lenient and strict mode alike; strict mode (`--strict`, EMULATOR_STRICT or a scenario's
        `strict: true`) also refuses them with the vendor's own validation error.
        """
        return [dict(v) for v in list(self.emulator.violations) if vendor is None or v["vendor"] == vendor]

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


def _session_defaults(config) -> tuple[int, datetime]:
    """The ini options' seed and start time (a bad value stops the session, naming the option)."""
    from .core.clock import wall_now
    from .settings import parse_instant

    seed_text = str(config.getini("report_emulator_seed")).strip()
    now_text = str(config.getini("report_emulator_now")).strip()
    try:
        seed = int(seed_text) if seed_text else 1
        if seed < 0:
            raise ValueError
    except ValueError:
        raise pytest.UsageError(f"report_emulator_seed must be a whole number of at least 0, not {seed_text!r}") from None
    try:
        now = parse_instant(now_text) if now_text else wall_now().replace(microsecond=0)
    except ValueError:
        raise pytest.UsageError(f"report_emulator_now must be an ISO 8601 timestamp, not {now_text!r}") from None
    return seed, now


@pytest.fixture(scope="session")
def report_emulator_settings(pytestconfig):
    """The session server's Settings: port 0, a manual clock, the ini options' seed and start time.

    Override it in a conftest.py to change the server, e.g. `dataclasses.replace(settings,
    admin_auth="user:password")`; the server always listens on 127.0.0.1 and a free port.
    """
    from .settings import Settings

    seed, now = _session_defaults(pytestconfig)
    return Settings(port=0, clock="manual", now=now, seed=seed)


@pytest.fixture(scope="session")
def report_emulator_server(report_emulator_settings):
    """The session's one server (use `report_emulator` in tests)."""
    from .app import create_app
    from .server import ServerThread

    server = ServerThread(create_app(report_emulator_settings), "127.0.0.1", 0).start()
    yield server
    server.stop()


def _marker_options(request) -> dict[str, Any]:
    """The closest marker's arguments; a positional or unknown one fails the test, listing the valid ones."""
    marker = request.node.get_closest_marker("report_emulator")
    if marker is None:
        return {}
    valid = ", ".join(MARKER_ARGUMENTS)
    unknown = sorted(set(marker.kwargs) - set(MARKER_ARGUMENTS))
    if marker.args:
        pytest.fail(f"@pytest.mark.report_emulator takes keyword arguments only ({valid}), not {marker.args!r}",
                    pytrace=False)
    if unknown:
        pytest.fail(f"@pytest.mark.report_emulator got unknown argument{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join(unknown)}; valid: {valid}", pytrace=False)
    strict = marker.kwargs.get("strict")
    if strict is not None and not isinstance(strict, bool):
        pytest.fail(f"@pytest.mark.report_emulator(strict=...) must be True or False, not {strict!r}", pytrace=False)
    return dict(marker.kwargs)


@pytest.fixture
def report_emulator(request, report_emulator_server) -> ReportEmulator:
    """A running report-emulator (Strigo, Echo360, Falkor, ParkUp), freshly reset for this test.

    One server per session on 127.0.0.1, port 0; seed 1 (ini `report_emulator_seed`) and a manual clock
    at the session's start (ini `report_emulator_now`). `.url`, `.credentials`, `.world`, `.now`,
    `.advance(s)`, `.set_time(iso)`, `.load_scenario(...)`, `.journal()`, `.assert_called(method, path)`,
    `.assert_no_violations()`, `.reset()`. Per test: `@pytest.mark.report_emulator(seed=, now=,
    scenario=, strict=)`. Docs: https://report-emulator.readthedocs.io/en/latest/pytest/
    """
    handle = ReportEmulator(report_emulator_server)
    options = _marker_options(request)
    handle.reset(seed=options.get("seed"), now=options.get("now"))
    sources = [] if options.get("scenario") is None else [options["scenario"]]
    if options.get("strict") is not None:
        sources.append({"strict": options["strict"]})  # after the scenario's own `strict`, so it wins
    if sources:
        handle.load_scenario(sources[0] if len(sources) == 1 else sources)
    return handle
