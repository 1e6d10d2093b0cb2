"""Every shell and Python example in the README and on the documentation site (docs/) runs as written.

Shell (```sh) blocks run under bash against a default server (`report-emulator serve` on a free port
instead of 8080; a block that starts its own server, `report-emulator serve --strict &`, gets it on
that port); a curl that gets an HTTP error fails it. Python (```python) blocks are test modules: each
runs under pytest with the `report_emulator` fixture, next to the page's ```ini block (if any) as its
pytest.ini. Only the blocks in NOT_RUN are left out, each for the reason given there.
"""
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
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
NO_DOCKER = "needs a Docker engine, which the build machines lack (tests/test_dockerfile.py runs the image's command)"
NOT_RUN = {
    "pip install . && report-emulator serve": "installs the package this suite runs from; tests/test_cli.py runs "
                                              "`report-emulator serve`",
    "pip install -e '.[test]' && pytest": "the command that runs this suite",
    "docker build -t report-emulator . && docker run -p 127.0.0.1:8080:8080 report-emulator": NO_DOCKER,
    "docker compose -f deploy/docker-compose.scale.yml up --build\ncurl http://localhost:8080/_emulator/health": NO_DOCKER,
    "testcontainers": NO_DOCKER + "; and testcontainers, which is not a dependency",
}
# curl fails on an HTTP error status (4xx, 5xx) and says why; everything runs under `set -e`.
PRELUDE = 'set -euo pipefail\ncurl() { command curl --fail-with-body --show-error "$@"; }\n'


def code_blocks(page: Path) -> list[tuple[str, str, str, str]]:
    """(fence language, section heading, block, the page's last ```ini block before it) in order."""
    found, heading, fence, block, ini = [], "", None, [], ""
    for line in page.read_text().splitlines():
        if fence is None and line.startswith("```"):
            fence, block = line[3:].strip(), []
        elif fence is not None and line.startswith("```"):
            text = "\n".join(block) + "\n"
            if fence == "ini":
                ini = text
            found.append((fence, heading, text, ini))
            fence = None
        elif fence is not None:
            block.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("# ").strip()
    return found


def left_out(block: str) -> str | None:
    return next((reason for key, reason in NOT_RUN.items()
                 if block.strip() == key or (key == "testcontainers" and "from testcontainers" in block)), None)


def examples(language: str) -> list[tuple[str, str, str, str]]:
    """(page, heading, block, ini) for every block to run, each distinct block once."""
    seen, found = set(), []
    for page in PAGES:
        for fence, heading, block, ini in code_blocks(page):
            if fence == language and not left_out(block) and (block, ini) not in seen:
                seen.add((block, ini))
                found.append((str(page.relative_to(ROOT)), heading, block, ini))
    return found


SHELL, PYTHON = examples("sh"), examples("python")


def ids(found) -> list[str]:
    return [f"{page}-{i}-{heading}" for i, (page, heading, _, _) in enumerate(found)]


def test_only_the_listed_blocks_are_left_out_and_every_fence_names_its_language():
    every = [(page, fence, block) for page in PAGES for fence, _, block, _ in code_blocks(page)]
    assert all(fence for _, fence, _ in every), [f"{p.name}: {b[:60]}" for p, f, b in every if not f]
    skipped = {key for key in NOT_RUN for _, fence, block in every if fence in ("sh", "python") and
               (block.strip() == key or (key == "testcontainers" and "from testcontainers" in block))}
    assert skipped == set(NOT_RUN), set(NOT_RUN) - skipped  # no reason kept for a block that is gone
    # Shell is written as ```sh, never ```bash or ```console, so that this suite sees it.
    assert not [p for p, fence, _ in every if fence in ("bash", "shell", "console", "py", "python3")]
    assert len(SHELL) >= 9 and len(PYTHON) >= 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("page, heading, block, ini", SHELL, ids=ids(SHELL))
def test_shell_example_runs(page, heading, block, ini, tmp_path):
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
        assert done.returncode == 0, f"{page}: {heading} example failed:\n{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        if not serve:  # the documentation's own calls keep to the vendors' contracts
            assert requests.get(f"http://127.0.0.1:{port}/_emulator/violations").json()["violations"] == []
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("page, heading, block, ini", PYTHON, ids=ids(PYTHON))
def test_python_example_passes_under_pytest(page, heading, block, ini, tmp_path):
    assert "def test_" in block, f"{page}: {heading}: a Python example is a test module (or goes in NOT_RUN)"
    (tmp_path / "test_example.py").write_text(block)
    if ini:
        (tmp_path / "pytest.ini").write_text(ini)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "test_example.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{page}: {heading} example failed:\n{block}\n--- output\n{done.stdout}\n{done.stderr}"
    assert " passed" in done.stdout and "failed" not in done.stdout
