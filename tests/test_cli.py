"""The command line: `report-emulator serve` and `python -m emulator`, flags and EMULATOR_* variables."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from emulator.__main__ import build_parser, settings_from_args


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

    def start(args, env=None):
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_python_dash_m_serves_with_flags_and_prints_credentials(run_server):
    port = free_port()
    proc = run_server([sys.executable, "-m", "emulator", "--port", str(port), "--seed", "5",
                       "--clock", "manual", "--now", "2026-01-15T00:00:00Z"])
    base = f"http://127.0.0.1:{port}"
    assert wait_for(f"{base}/_emulator/health", proc).json() == {"status": "ok"}
    assert requests.get(f"{base}/_emulator/clock").json() == {"now": "2026-01-15T00:00:00Z", "mode": "manual"}
    proc.terminate()
    out = proc.communicate(timeout=5)[0]
    assert base in out
    for needle in ("strigo", "org_id=", "api_key=", "echo360", "client_id=", "client_secret=", "falkor", "parkup", "token="):
        assert needle in out


def test_console_script_reads_environment(run_server):
    port = free_port()
    script = os.path.join(os.path.dirname(sys.executable), "report-emulator")
    proc = run_server([script, "serve"], env={"EMULATOR_PORT": str(port), "EMULATOR_CLOCK": "manual",
                                              "EMULATOR_NOW": "2025-05-05T05:05:05Z", "EMULATOR_SEED": "3"})
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/_emulator/health", proc)
    assert requests.get(f"{base}/_emulator/clock").json() == {"now": "2025-05-05T05:05:05Z", "mode": "manual"}
    assert requests.post(f"{base}/_emulator/reset").json()["seed"] == 3


def test_flags_win_over_environment():
    args = build_parser().parse_args(["serve", "--seed", "9", "--scale", "2"])
    env = {"EMULATOR_SEED": "4", "EMULATOR_SCALE": "3", "EMULATOR_HOST": "0.0.0.0", "EMULATOR_STRICT": "true"}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        settings = settings_from_args(args)
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert (settings.seed, settings.scale, settings.host, settings.strict) == (9, 2, "0.0.0.0", True)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["serve", "--now", "not-a-time"], "ISO 8601"),
        (["serve", "--clock", "sundial"], "invalid choice"),
        (["serve", "--scale", "0"], "scale"),
        (["serve", "--credential", "nonsense"], "VENDOR.KEY=VALUE"),
    ],
)
def test_bad_flags_are_refused_before_start(argv, message):
    proc = subprocess.run([sys.executable, "-m", "emulator", *argv], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_bad_environment_is_refused_before_start():
    env = {**os.environ, "EMULATOR_PORT": "eighty"}
    proc = subprocess.run([sys.executable, "-m", "emulator"], capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == 2
    assert "EMULATOR_PORT" in proc.stderr


def test_credential_flag_overrides_default(run_server):
    port = free_port()
    proc = run_server([sys.executable, "-m", "emulator", "serve", "--port", str(port), "--credential", "parkup.token=abc"])
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/_emulator/health", proc)
    assert requests.get(f"{base}/_emulator/credentials").json()["parkup"] == {"token": "abc",
                                                                           "refresh_token": "parkup-emulator-refresh-token"}


def test_sigterm_stops_the_server_cleanly(run_server):
    """`docker stop` sends SIGTERM to PID 1, which ignores signals it has no handler for."""
    port = free_port()
    proc = run_server([sys.executable, "-m", "emulator", "--port", str(port)])
    wait_for(f"http://127.0.0.1:{port}/_emulator/health", proc)
    proc.terminate()
    assert proc.wait(timeout=5) == 0
