"""Every shell example in the README runs, as written, against a default server (`report-emulator serve`
on a free port instead of 8080); a curl that gets an HTTP error fails it. Only the two install
commands are not run here, for the reason given in NOT_RUN."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = os.path.dirname(sys.executable)
NOT_RUN = {
    "pip install . && report-emulator serve": "installs the package this suite runs from; tests/test_cli.py runs "
                                              "`report-emulator serve`",
    "pip install -e '.[test]' && pytest": "the command that runs this suite",
}
# curl fails on an HTTP error status (4xx, 5xx) and says why; everything runs under `set -e`.
PRELUDE = 'set -euo pipefail\ncurl() { command curl --fail-with-body --show-error "$@"; }\n'


def shell_blocks() -> list[tuple[str, str]]:
    """(section heading, block) for every ```sh block, in order."""
    found, heading, fence, block = [], "", None, []
    for line in (ROOT / "README.md").read_text().splitlines():
        if fence is None and line.startswith("```"):
            fence, block = line[3:].strip(), []
        elif fence is not None and line.startswith("```"):
            if fence == "sh":
                found.append((heading, "\n".join(block) + "\n"))
            fence = None
        elif fence is not None:
            block.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("# ").strip()
    return found


RUN = [(h, b) for h, b in shell_blocks() if b.strip() not in NOT_RUN]


def test_only_the_install_commands_are_left_out():
    left_out = {b.strip() for _, b in shell_blocks() if b.strip() in NOT_RUN}
    assert left_out == set(NOT_RUN)
    assert len(RUN) >= 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("heading, block", RUN, ids=[f"{i}-{h}" for i, (h, _) in enumerate(RUN)])
def test_readme_shell_example_runs(heading, block, tmp_path):
    port = free_port()
    lines = block.splitlines()
    # A block that starts its own server (`report-emulator serve --strict &`) gets it on the free port.
    serve = [line for line in lines if line.startswith("report-emulator serve")]
    server_argv = serve[0].rstrip(" &").split() if serve else ["report-emulator", "serve"]
    script = "\n".join(line for line in lines if line not in serve).replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    server = subprocess.Popen([os.path.join(BIN, server_argv[0]), *server_argv[1:], "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "listening on" in server.stdout.readline()
        done = subprocess.run(["bash", "-c", PRELUDE + script], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{heading} example failed:\n{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        if not serve:  # the README's own calls keep to the vendors' contracts
            assert requests.get(f"http://127.0.0.1:{port}/_emulator/violations").json()["violations"] == []
    finally:
        server.terminate()
        server.wait(timeout=10)
