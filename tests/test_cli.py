"""The command line: `report-emulator serve` and `python -m emulator`, flags and EMULATOR_* variables."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
import requests

from emulator import __version__
from emulator.scenarios import shipped

SCRIPT = os.path.join(os.path.dirname(sys.executable), "report-emulator")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 15.0) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            return requests.get(url, timeout=1)
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"no answer from {url}")


@pytest.fixture
def run_server():
    procs = []

    def start(args, env=None, stderr=subprocess.STDOUT):
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True, env=full_env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_python_dash_m_serves_with_flags_and_prints_the_banner(run_server):
    port = free_port()
    proc = run_server([sys.executable, "-m", "emulator", "--port", str(port), "--seed", "5",
                       "--clock", "manual", "--now", "2026-01-15T00:00:00Z", "--scenario", "parkup-outage", "--strict"])
    base = f"http://127.0.0.1:{port}"
    assert wait_for(f"{base}/_emulator/health", proc).json() == {"status": "ok"}
    assert requests.get(f"{base}/_emulator/clock").json() == {"now": "2026-01-15T00:00:00Z", "mode": "manual"}
    proc.terminate()
    out = proc.communicate(timeout=5)[0]
    assert f"listening on {base}" in out
    for needle in (f"docs: {base}/_emulator/docs", "state: memory", "strict mode: on", "scenarios: parkup-outage",
                   "strigo", "org_id=", "api_key=", "echo360", "client_id=", "client_secret=", "falkor", "parkup", "token="):
        assert needle in out


def test_console_script_reads_environment(run_server):
    port = free_port()
    proc = run_server([SCRIPT, "serve"], env={"EMULATOR_PORT": str(port), "EMULATOR_CLOCK": "manual",
                                              "EMULATOR_NOW": "2025-05-05T05:05:05Z", "EMULATOR_SEED": "3",
                                              "EMULATOR_STRICT": "yes", "EMULATOR_CREDENTIAL": "parkup.token=abc"})
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/_emulator/health", proc)
    assert requests.get(f"{base}/_emulator/clock").json() == {"now": "2025-05-05T05:05:05Z", "mode": "manual"}
    assert requests.post(f"{base}/_emulator/reset").json()["seed"] == 3
    assert requests.get(f"{base}/_emulator/violations").json()["strict"] is True
    assert requests.get(f"{base}/_emulator/credentials").json()["parkup"]["token"] == "abc"


def test_flags_win_over_environment(run_server):
    port = free_port()
    proc = run_server([SCRIPT, "--port", str(port), "--seed", "9"], env={"EMULATOR_SEED": "4", "EMULATOR_PORT": "1"})
    wait_for(f"http://127.0.0.1:{port}/_emulator/health", proc)
    assert requests.post(f"http://127.0.0.1:{port}/_emulator/reset").json()["seed"] == 9


def refused(argv: list[str], env: dict | None = None) -> str:
    """Run the command line; it must refuse with exit 2 and one line on standard error (returned)."""
    proc = subprocess.run([sys.executable, "-m", "emulator", *argv], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("report-emulator: error: "), proc.stderr
    return proc.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--port", "70000"], "'--port': 70000 is not in the range 0<=x<=65535"),
        (["--port", "-5"], "'--port': -5 is not in the range"),
        (["--threads", "0"], "'--threads': 0 is not in the range 1<=x<=1000"),
        (["--seed", "-1"], "'--seed': -1 is not in the range"),
        (["--scale", "0"], "'--scale': 0 is not in the range"),
        (["--journal-cap", "0"], "'--journal-cap'"),
        (["--workers", "0"], "'--workers'"),
        (["--host", "999.1.1.1"], "'999.1.1.1' is not an IP address or a host name"),
        (["--now", "not-a-time"], "ISO 8601"),
        (["--clock", "sundial"], "'sundial' is not one of 'real', 'manual'"),
        (["--credential", "nonsense"], "VENDOR.KEY=VALUE"),
        (["--credential", "nope.key=v"], "unknown vendor 'nope' in 'nope.key=v'; vendors: strigo, echo360, falkor, parkup"),
        (["--credential", "strigo.token=v"], "strigo has no credential 'token'; its keys: org_id, api_key"),
        (["--state", "postgres://x"], "expected memory, sqlite:PATH or redis://HOST:PORT/DB"),
        (["--workers", "2"], "use --state sqlite:PATH or --state redis://HOST:PORT/DB, which worker processes can share"),
        (["--scenario", "no-such-scenario"], "no file, folder or shipped scenario called 'no-such-scenario' (shipped: "),
        (["--strict=maybe"], "--strict"),
        # click 8.1.3 words it "No such option: --bogus", later versions "No such option '--bogus'"
        (["--bogus"], re.compile(r"No such option:? '?--bogus\b")),
    ],
)
def test_bad_flags_are_refused_in_one_line(argv, message):
    line = refused(argv)
    if isinstance(message, re.Pattern):
        assert message.search(line), line
    else:
        assert message in line


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("EMULATOR_PORT", "eighty", "EMULATOR_PORT (--port): 'eighty' is not a whole number"),
        ("EMULATOR_PORT", "70000", "EMULATOR_PORT (--port): 70000 is not in the range"),
        ("EMULATOR_STRICT", "treu", "EMULATOR_STRICT (--strict): 'treu' is not one of 1, true, yes, 0, false, no"),
        ("EMULATOR_LOG_REQUESTS", "on", "EMULATOR_LOG_REQUESTS (--log-requests)"),
        ("EMULATOR_PIN_CPUS", "sometimes", "EMULATOR_PIN_CPUS (--pin-cpus)"),
        ("EMULATOR_WORKERS", "two", "EMULATOR_WORKERS (--workers)"),
        ("EMULATOR_STATE", "disk", "EMULATOR_STATE (--state)"),
        ("EMULATOR_CREDENTIAL", "parkup.secret=x", "parkup has no credential 'secret'"),
        ("EMULATOR_SCENARIO", f"parkup-outage{os.pathsep}nowhere.yaml", "no file, folder or shipped scenario called 'nowhere.yaml'"),
    ],
)
def test_bad_environment_is_refused_naming_the_variable(name, value, message):
    assert message in refused([], env={name: value})


def test_a_bad_scenario_file_is_refused_in_one_line_naming_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - respond: {status: loud}\n")
    assert "rules[0].respond.status" in refused(["--scenario", str(bad)])


def test_a_port_in_use_is_one_line_naming_the_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = refused(["--port", str(port)])
    assert f"cannot listen on 127.0.0.1 port {port}" in message


def test_version():
    proc = subprocess.run([SCRIPT, "--version"], capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, f"report-emulator {__version__}\n")


def test_scenarios_lists_the_shipped_ones_with_their_descriptions():
    proc = subprocess.run([SCRIPT, "scenarios"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(shipped()) and len(lines) == 5
    for line, (name, description) in zip(lines, shipped().items()):
        assert line.endswith(description) and description


def test_scenario_folder_loads_every_file_in_name_order(run_server, tmp_path):
    (tmp_path / "20-second.yaml").write_text("rules:\n  - {name: second, match: {path: /x}, respond: {status: 418}}\n")
    (tmp_path / "10-first.json").write_text('{"rules": [{"name": "first", "match": {"path": "/y"}, "respond": {"status": 418}}]}')
    (tmp_path / "notes.txt").write_text("not a scenario")
    port = free_port()
    proc = run_server([SCRIPT, "--port", str(port), "--scenario", str(tmp_path), "--scenario", "strigo-rate-limit"])
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/_emulator/health", proc)
    status = requests.get(f"{base}/_emulator/scenario").json()
    assert [rule["name"] for rule in status["rules"]] == ["first", "second"]
    assert status["scenario"]["strigo"] == {"rate_limit": 5}
    proc.terminate()
    out = proc.communicate(timeout=5)[0]
    assert f"scenarios: {tmp_path / '10-first.json'}, {tmp_path / '20-second.yaml'}, strigo-rate-limit" in out


def test_log_requests_prints_one_line_per_vendor_call(run_server):
    port = free_port()
    # The request lines go to standard output; the server's own warnings (e.g. a handler's error on a
    # busy machine) go to standard error and are not part of them.
    proc = run_server([SCRIPT, "--port", str(port), "--log-requests", "--scenario", "parkup-outage"],
                      stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/_emulator/health", proc)  # admin calls are not logged
    requests.get(f"{base}/api/v1/health?x=1")
    requests.post(f"{base}/api/v3/business/report/event/user", json={})
    proc.terminate()
    out = proc.communicate(timeout=5)[0]
    logged = [line for line in out.splitlines() if not line.startswith(("  ", "report-emulator "))]
    assert len(logged) == 2, out
    assert re.fullmatch(r"GET /api/v1/health\?x=1 200 \d+\.\d ms", logged[0]), logged
    assert re.fullmatch(r"POST /api/v3/business/report/event/user 500 \d+\.\d ms rule parkup-down", logged[1]), logged


def test_credential_flag_overrides_default(run_server):
    port = free_port()
    proc = run_server([sys.executable, "-m", "emulator", "serve", "--port", str(port), "--credential", "parkup.token=abc"])
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/_emulator/health", proc)
    assert requests.get(f"{base}/_emulator/credentials").json()["parkup"] == {"token": "abc",
                                                                           "refresh_token": "parkup-emulator-refresh-token"}


def test_openapi_writes_a_document_and_refuses_an_unknown_vendor(tmp_path):
    out = tmp_path / "parkup.json"
    proc = subprocess.run([SCRIPT, "openapi", "parkup", "-o", str(out)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and json.loads(out.read_text())["info"]["title"].startswith("ParkUp")
    assert "unknown vendor 'acme'; choose one of strigo, echo360, falkor, parkup" in refused(["openapi", "acme"])


def test_sigterm_stops_the_server_cleanly(run_server):
    """`docker stop` sends SIGTERM to PID 1, which ignores signals it has no handler for."""
    port = free_port()
    proc = run_server([sys.executable, "-m", "emulator", "--port", str(port)])
    wait_for(f"http://127.0.0.1:{port}/_emulator/health", proc)
    proc.terminate()
    assert proc.wait(timeout=5) == 0


# --- issue 16, section 6: the command line's smaller promises -----------------------------------


@pytest.mark.parametrize(
    "host, message",
    [
        ("not..a..host", "'not..a..host' is not a host name: it has an empty label"),
        ("a" * 70 + ".example", "a label has 70 characters; at most 63"),
    ],
)
def test_a_host_the_resolver_refuses_is_one_line_and_exit_2(host, message):
    assert message in refused(["--host", host, "--port", "0"])
    assert message in refused([], env={"EMULATOR_HOST": host, "EMULATOR_PORT": "0"})


def test_a_scenario_file_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    latin1 = tmp_path / "cafe.yaml"
    latin1.write_bytes("name: café\n".encode("latin-1"))
    line = refused(["--scenario", str(latin1), "--port", "0"])
    assert str(latin1) in line and "not UTF-8 text (byte 0xe9 at offset 9)" in line


def test_a_mistyped_command_suggests_the_close_one():
    assert "No such command 'serv'. Did you mean 'serve'?" in refused(["serv"])
    assert "No such command 'scenario'. Did you mean 'scenarios'?" in refused(["scenario"])
    assert "No such command 'bogus'. Commands: drift, openapi, record, scenarios, serve." in refused(["bogus"])


def test_a_bad_environment_number_names_the_variable():
    assert refused([], env={"EMULATOR_SEED": "x"}) == (
        "report-emulator: error: Invalid value for EMULATOR_SEED (--seed): 'x' is not a whole number\n")
    # From the flag, the message does not point at the variable.
    assert refused(["--seed", "x"]) == "report-emulator: error: Invalid value for '--seed': 'x' is not a whole number\n"


def test_help_shows_every_variable_and_a_state_placeholder_that_is_accepted(tmp_path):
    out = subprocess.run([sys.executable, "-m", "emulator", "serve", "--help"], capture_output=True, text=True,
                         timeout=30, env={**os.environ, "COLUMNS": "200"}).stdout
    options = re.findall(r"^  (--[a-z-]+)", out, re.MULTILINE)
    assert len(options) >= 14, out
    for flag in options:
        if flag in ("--help",):
            continue
        assert f"EMULATOR_{flag[2:].upper().replace('-', '_')}" in out, flag
    placeholder = re.search(r"--state (\S+)", out).group(1)
    assert placeholder == "memory|sqlite:PATH|redis://HOST:PORT/DB"
    # Each of the placeholder's lower-case words is a value --state takes (checked by parse_settings).
    from emulator.__main__ import parse_settings

    assert parse_settings(["--state", "memory"]).state == "memory"
    assert parse_settings(["--state", f"sqlite:{tmp_path / 's.db'}"]).state.startswith("sqlite:")


def test_openapi_admin_writes_the_admin_document(tmp_path):
    out = tmp_path / "admin.json"
    proc = subprocess.run([SCRIPT, "openapi", "admin", "-o", str(out)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(out.read_text())
    assert document["info"]["title"] == "report-emulator admin API"
    assert "/_emulator/reset" in document["paths"]
