"""The pytest fixture `report_emulator`: one server per test session, reset before each test.

The server runs in a background thread on port 0 with a manual clock that starts at the real time of
session start, cut to the second (or the ini option `report_emulator_now`). Every test gets it
freshly reset (seed 1, or the ini option `report_emulator_seed`, unless a marker says otherwise):
`@pytest.mark.report_emulator(seed=..., now=..., scenario=..., strict=...)`.

The handle is an EmulatorClient (emulator/client.py): its methods are admin API calls, sent with the
server's `admin_auth` when a session sets one (`Settings(admin_auth=...)` from an overridden
`report_emulator_settings`); its tests send `report_emulator.admin_auth` with their own calls to
`/_emulator`. With `report_emulator_url` (or REPORT_EMULATOR_URL) the fixture starts no server: it
uses that one, through a tenant of this pytest process's own.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
# Imported with the plugin, before pytester can snapshot sys.modules: PyYAML's C extension cannot be
# imported twice, so a first import inside a pytester run, dropped afterwards, would leave the next
# import with two copies of yaml.nodes ("could not determine a constructor for the tag None").
import yaml  # noqa: F401

from .client import EmulatorClient, EmulatorError

MARKER = ("report_emulator(seed=None, now=None, scenario=None, strict=None): set the emulator's seed, start time, "
          "scenario (a file, a folder, a shipped name, a dict or a list) or strict mode for one test")
MARKER_ARGUMENTS = ("now", "scenario", "seed", "strict")


def pytest_addoption(parser) -> None:
    parser.addini("report_emulator_seed", "the report_emulator fixture's default seed (default 1)", default="")
    parser.addini("report_emulator_now", "the report_emulator fixture's start time, ISO 8601 (default: the real "
                  "time at session start), so that data does not move with the calendar", default="")
    parser.addini("report_emulator_url", "use the emulator running at this URL (each pytest process on a tenant "
                  "of its own) instead of starting one; REPORT_EMULATOR_URL in the environment wins", default="")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", MARKER)


class ReportEmulator(EmulatorClient):
    """What a test holds: the base URL, credentials, world ids, and the levers on time and state.

    The handle is an EmulatorClient (emulator/client.py, the one implementation of this surface) on the
    session's server: the fixture's own, in this process (then `.app` and `.emulator` are the Flask app
    and the default tenant's Emulator), or a shared one (`report_emulator_url`), on a tenant of this
    pytest process's own.
    """

    def __init__(self, server):
        super().__init__(server.url, getattr(server, "tenant", None), session=server.session)
        self._server = server
        self.app = getattr(server, "app", None)
        self.emulator = self.app.extensions["emulator"] if self.app is not None else None

    def reset(self, seed: int | None = None, now=None) -> None:
        """As EmulatorClient's. On a shared server, back to this session's seed and start time (the ini
        options) on a manual clock, as in-process: a tenant's own start is the server's settings."""
        shared = self._server if isinstance(self._server, SharedServer) else None
        if shared is None:
            return super().reset(seed, now)
        now = now or shared.now
        super().reset(shared.seed if seed is None else seed, now)
        if self._call("GET", "/clock")["mode"] != "manual":  # a server started with a real clock
            self._call("POST", "/clock", json={"mode": "manual", "now": now if isinstance(now, str) else now.isoformat()})

    def load_scenario(self, path_or_dict):
        """As EmulatorClient's; in-process, the merged files' names (`loaded`) are kept with the scenario."""
        if self.emulator is None:
            return super().load_scenario(path_or_dict)
        return self.emulator.load_scenario(path_or_dict)

    def __repr__(self) -> str:
        if self.emulator is None:  # a shared server: the client's own repr (clock, scenario, calls)
            return super().__repr__()
        clock = self.emulator.clock
        scenario = (self.emulator.scenario_status().get("scenario") or {}).get("name")
        return (f"<ReportEmulator {self.url} seed={self.emulator.world.seed} {clock.mode} clock at "
                f"{clock.now().isoformat()} scenario={scenario!r} journal={len(self.emulator.journal.entries())} calls>")

    @property
    def admin_auth(self) -> tuple[str, str] | None:
        """(user, password) when the server runs with admin auth (requests' `auth=` takes it), else None."""
        return self._session.auth


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


class SharedServer:
    """A running emulator the session uses through a tenant of its own (removed at the session's end)."""

    def __init__(self, url: str, seed: int, now: datetime):
        import os
        import secrets

        import requests

        from urllib.parse import unquote, urlsplit, urlunsplit

        parts = urlsplit(url.strip())
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.tenant = f"pytest-{worker}-{secrets.token_hex(4)}"[:64].lower()
        self.seed, self.now = seed, now
        self.session = requests.Session()
        if parts.username is not None:  # http://user:password@host:port: the admin API's --admin-auth
            self.session.auth = (unquote(parts.username), unquote(parts.password or ""))
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.url = urlunsplit(parts).rstrip("/")
        try:
            self.session.get(f"{self.url}/_emulator/health", timeout=10).raise_for_status()
        except requests.RequestException as exc:
            raise pytest.UsageError(f"report_emulator_url {self.url}: the emulator does not answer ({exc})") from None

    def stop(self) -> None:
        try:
            EmulatorClient(self.url, self.tenant, self.session).delete_tenant()
        except EmulatorError as exc:
            if exc.status != 404:  # 404: gone already (removed as idle, or by hand)
                raise
        self.session.close()


def shared_url(config) -> str:
    """The shared server's URL: REPORT_EMULATOR_URL, else the ini option, else none (start one here)."""
    import os

    return (os.environ.get("REPORT_EMULATOR_URL") or str(config.getini("report_emulator_url"))).strip()


@pytest.fixture(scope="session")
def report_emulator_settings(pytestconfig):
    """The session server's Settings: port 0, a manual clock, the ini options' seed and start time.

    Override it in a conftest.py to change the server, e.g. `dataclasses.replace(settings,
    admin_auth="user:password")`; the server always listens on 127.0.0.1 and a free port. (Against a
    shared server, `report_emulator_url`, only the seed and start time are used.)
    """
    from .settings import Settings

    seed, now = _session_defaults(pytestconfig)
    return Settings(port=0, clock="manual", now=now, seed=seed)


@pytest.fixture(scope="session")
def report_emulator_server(pytestconfig, report_emulator_settings):
    """The session's one server (use `report_emulator` in tests): its own in a thread, or a shared one."""
    url = shared_url(pytestconfig)
    if url:
        server = SharedServer(url, report_emulator_settings.seed, report_emulator_settings.now)
        yield server
        server.stop()
        return
    import requests

    from .app import create_app
    from .server import ServerThread
    from .settings import parse_admin_auth

    server = ServerThread(create_app(report_emulator_settings), "127.0.0.1", 0).start()
    server.session = requests.Session()
    if report_emulator_settings.admin_auth:
        server.session.auth = parse_admin_auth(report_emulator_settings.admin_auth)
    yield server
    server.session.close()
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
