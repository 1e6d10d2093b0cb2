"""The Dockerfile, read and run without Docker (no engine on the build machines): its ENTRYPOINT and
CMD run as PID 1 of a fresh PID namespace and stop on SIGTERM; its health check follows EMULATOR_PORT."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulator.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BIN = os.path.dirname(sys.executable)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def only(name: str) -> str:
    found = [args for word, args in instructions() if word == name]
    assert len(found) == 1, f"expected one {name} in the Dockerfile, found {len(found)}"
    return found[0]


def exec_form(name: str) -> list[str]:
    args = only(name)
    assert args.startswith("["), f"{name} must be in exec form (a JSON list), so no shell stands between"
    return json.loads(args)


def command() -> list[str]:
    return exec_form("ENTRYPOINT") + exec_form("CMD")


def image_env() -> dict[str, str]:
    env = {}
    for word, args in instructions():
        if word == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(args))
    return env


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme() -> str:
    """The README and the container page, where the image is documented."""
    return (ROOT / "README.md").read_text() + (ROOT / "docs" / "container.md").read_text()


def test_entrypoint_is_report_emulator_serve_with_default_flags_in_cmd():
    assert exec_form("ENTRYPOINT") == ["report-emulator", "serve"]
    assert all(arg.startswith("--") for arg in exec_form("CMD"))  # flags only: `docker run IMAGE --seed 7` works
    assert image_env()["EMULATOR_HOST"] == "0.0.0.0"  # reachable from outside the container, whatever the flags


def test_exposed_port_is_the_port_the_server_listens_on():
    assert only("EXPOSE").split() in (["8080"], ["8080/tcp"])
    assert image_env().get("EMULATOR_PORT", str(Settings().port)) == "8080"
    assert "--port" not in command()  # the flag would win over EMULATOR_PORT, which the health check follows


def test_dependencies_are_a_layer_of_their_own():
    """Only pyproject.toml is copied before the dependencies install; a code or README edit reuses that layer."""
    steps = [(word, args) for word, args in instructions() if word in ("COPY", "RUN")]
    assert steps[0] == ("COPY", "pyproject.toml ./")
    assert steps[1][0] == "RUN" and "pip install -r" in steps[1][1]
    assert all("--no-deps" in args for word, args in steps[2:] if word == "RUN" and "pip install" in args)


def test_dockerignore_sends_only_what_the_image_needs():
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!emulator/"} <= set(lines)


def test_state_volume_and_scenarios_folder_are_documented():
    assert only("VOLUME").split() == ["/var/lib/report-emulator"]
    assert image_env()["EMULATOR_SCENARIO"] == "/etc/report-emulator/scenarios"
    text = readme()
    assert "EMULATOR_STATE=sqlite:/var/lib/report-emulator/state.db" in text
    assert "/etc/report-emulator/scenarios" in text
    assert only("USER") not in ("root", "0")
    assert only("FROM").startswith("python:3.11-slim")


def healthcheck_argv() -> list[str]:
    args = only("HEALTHCHECK")
    options, _, cmd = args.partition(" CMD ")
    argv = json.loads(cmd.strip())
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_healthcheck_follows_emulator_port(tmp_path):
    port = free_port()
    env = {**os.environ, **image_env(), "EMULATOR_HOST": "127.0.0.1", "EMULATOR_PORT": str(port),
           "EMULATOR_SCENARIO": str(tmp_path)}
    assert subprocess.run(healthcheck_argv(), env=env, capture_output=True, timeout=30).returncode != 0  # nothing yet
    proc = subprocess.Popen([os.path.join(BIN, "report-emulator"), "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "listening on" in proc.stdout.readline()
        assert subprocess.run(healthcheck_argv(), env=env, capture_output=True, timeout=30).returncode == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _child_of(pid: int) -> int:
    for _ in range(200):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError("unshare started no child")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_the_command_runs_as_pid_1_and_stops_on_sigterm(tmp_path):
    """As `docker run` would: ENTRYPOINT + CMD exec'd as PID 1 of a new PID namespace (where a signal
    without a handler is ignored), then `docker stop`'s SIGTERM; it must exit within 2 s, cleanly."""
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a PID namespace here: {probe.stderr.decode().strip()}")
    port = free_port()
    env = {**os.environ, **image_env(), "EMULATOR_HOST": "127.0.0.1", "EMULATOR_PORT": str(port),
           "EMULATOR_SCENARIO": str(tmp_path), "PATH": f"{BIN}:{os.environ['PATH']}"}
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", *command()], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "listening on" in proc.stdout.readline()
        server = _child_of(proc.pid)
        status = Path(f"/proc/{server}/status").read_text()
        assert re.search(r"^NSpid:\s+\d+\s+1$", status, re.M), "the server is not PID 1 in its namespace"
        assert "report-emulator" in Path(f"/proc/{server}/cmdline").read_text()
        assert requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=5).status_code == 200
        os.kill(server, signal.SIGTERM)
        assert proc.wait(timeout=2) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
