"""The Dockerfile runs what the README documents: `report-emulator serve` on port 8080.

Docker cannot run on the build machines, so this reads the files instead of building the image.
"""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from emulator.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


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


def command() -> list[str]:
    """CMD as argv, in exec form (JSON) or shell form."""
    args = only("CMD")
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_cmd_is_report_emulator_serve_on_all_interfaces():
    argv = command()
    assert argv[:2] == ["report-emulator", "serve"]
    assert option(argv, "--host") == "0.0.0.0"  # reachable from outside the container


def test_exposed_port_is_the_port_the_server_listens_on():
    exposed = only("EXPOSE").split()
    assert exposed == ["8080"] or exposed == ["8080/tcp"]
    listens = option(command(), "--port") or str(Settings().port)
    assert listens == "8080"


def test_readme_documents_the_same_command_and_port():
    text = readme()
    assert "pip install . && report-emulator serve" in text
    assert re.search(r"report-emulator serve [^\n]*\[--port 8080\]", text)
    runs = re.findall(r"docker run[^`\n]*?-p (\d+):(\d+)", text)
    assert runs, "the README shows no `docker run -p HOST:CONTAINER`"
    assert all(container == "8080" for _, container in runs)
    paragraph = next(p for p in text.split("\n\n") if "docker run" in p)
    assert "report-emulator serve" in paragraph  # the README says the container runs the same command


def test_healthcheck_and_user():
    health = only("HEALTHCHECK")
    assert "/_emulator/health" in health and ":8080/" in health
    user = only("USER")
    assert user not in ("root", "0")
    assert only("FROM").startswith("python:3.11-slim")
