"""Shared test helpers. The `report_emulator` fixture itself comes from the package's pytest plugin."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
import requests


@pytest.fixture
def http():
    """A requests session for talking to the emulator through a real socket."""
    with requests.Session() as session:
        yield session


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """`redis://127.0.0.1:PORT/0` of a real redis-server (Debian's package) that this test session
    starts on a free port, without persistence, and stops at the end. Shared by every test of the
    session: give each store its own namespace instead of flushing the database.

    Without redis-server the test fails under CI (the environment variable `CI` is set: `.ci/run`
    installs it) and is skipped elsewhere.
    """
    if not os.path.exists(REDIS_SERVER):
        message = f"redis-server is not installed ({REDIS_SERVER}); apt-get install redis-server"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("redis")
    for _ in range(3):  # another process may take the free port before redis-server binds it
        port = _free_port()
        with open(folder / "redis.log", "ab") as log:
            proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--dir", str(folder)], stdout=log, stderr=subprocess.STDOUT)
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            proc.kill()
            proc.wait()
            continue
        try:
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        return
    pytest.fail(f"redis-server did not start: {(folder / 'redis.log').read_text()[-2000:]}")


CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium():
    """`launch(*extra_args)`: a headless Debian Chromium driven by Playwright, closed at the session's end.

    One Playwright driver serves the whole session: a second `sync_playwright()` started while another
    module's is still open fails ("Playwright Sync API inside the asyncio loop"), which in a random test
    order happens whenever two browser test modules interleave. Without chromium the test fails under
    CI (`.ci/run` installs it) and is skipped elsewhere.
    """
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browsers = []

        def launch(*extra_args: str):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
            browsers.append(browser)
            return browser

        yield launch
        for browser in browsers:
            browser.close()
