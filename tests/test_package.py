"""The package looks like one: the built wheel carries the licence, classifiers, project URLs, py.typed
and the one version that `--version`, the banner and the admin OpenAPI document also show."""
from __future__ import annotations

import email
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

import emulator
from emulator.core.openapi import build_admin_document
from servers import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """Built as a release is: the sdist first, then the wheel from the sdist (python -m build)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = list(out.glob("report_emulator-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    with zipfile.ZipFile(wheels[0]) as archive:
        yield archive


def metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return email.message_from_bytes(wheel.read(name))


def test_the_wheel_carries_the_licence_and_py_typed(wheel):
    names = wheel.namelist()
    licence = [n for n in names if n.endswith("LICENSE") and ".dist-info/" in n]
    assert licence, names
    assert wheel.read(licence[0]).decode().startswith("MIT License")
    assert "emulator/py.typed" in names
    meta = metadata(wheel)
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]


def test_the_wheel_has_classifiers_and_project_urls(wheel):
    meta = metadata(wheel)
    classifiers = meta.get_all("Classifier")
    assert "Framework :: Pytest" in classifiers
    assert "Typing :: Typed" in classifiers
    assert "Topic :: Software Development :: Testing :: Mocking" in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Source", "Changelog", "Issues"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())


def test_one_version_everywhere(wheel, tmp_path):
    version = emulator.__version__
    assert metadata(wheel)["Version"] == version
    assert any(n == f"report_emulator-{version}.dist-info/METADATA" for n in wheel.namelist())
    cli = subprocess.run([os.path.join(BIN, "report-emulator"), "--version"], capture_output=True, text=True)
    assert cli.stdout.strip() == f"report-emulator {version}"
    assert build_admin_document()["info"]["version"] == version
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{version}]" in changelog  # the release is in the changelog


def test_the_banner_and_the_served_admin_document_show_the_version():
    server = EmulatorProcess()
    try:
        assert server.banner().splitlines()[0].startswith(f"report-emulator {emulator.__version__} listening on ")
        doc = requests.get(f"{server.url}/_emulator/openapi/admin.json").json()
        assert doc["info"]["version"] == emulator.__version__
    finally:
        server.stop()
