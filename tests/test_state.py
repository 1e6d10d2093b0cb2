"""State that survives: a server on `sqlite:` resumes after kill -9; ids, tokens and links from
before a reset (or a restart on a fresh store) are refused after it. Real processes, real HTTP."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest
import requests
from servers import EmulatorProcess

NOW = "2026-01-15T00:00:00Z"
REPORTING = "/public/api/v1/reporting"
SCENARIO = """
name: survives
echo360: {processing_seconds: 600}
rules:
  - name: once
    match: {path: /api/v3/business/report/event/user}
    times: 2
    respond: {status: 503, json: {error: down}}
"""


@pytest.fixture
def servers():
    started: list[EmulatorProcess] = []

    def start(*args: str) -> EmulatorProcess:
        server = EmulatorProcess(*args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def token(url: str) -> str:
    creds = requests.get(f"{url}/_emulator/credentials").json()["echo360"]
    answer = requests.post(f"{url}/oauth2/access_token", params={"grant_type": "client_credentials", **creds})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def submit(url: str, bearer: str, report: str = "asset") -> str:
    answer = requests.post(f"{url}{REPORTING}/requests/{report}", json={}, headers={"Authorization": f"Bearer {bearer}"})
    assert answer.status_code == 200, answer.text
    return answer.json()["requestId"]


def detail(url: str, bearer: str, request_id: str) -> requests.Response:
    return requests.get(f"{url}{REPORTING}/requests/{request_id}", headers={"Authorization": f"Bearer {bearer}"})


def advance(url: str, seconds: float) -> dict:
    return requests.post(f"{url}/_emulator/clock/advance", json={"seconds": seconds}).json()


def test_state_survives_kill_9_on_sqlite(servers, tmp_path):
    state = f"sqlite:{tmp_path / 'state.db'}"
    first = servers("--state", state, "--clock", "manual", "--now", NOW)
    url = first.url
    assert "(new)" in first.banner()
    assert requests.put(f"{url}/_emulator/scenario", data=SCENARIO).status_code == 200
    parkup = requests.post(f"{url}/api/v3/business/report/event/user", json={})
    assert parkup.status_code == 503  # the rule answered once of its two times
    bearer = token(url)
    done = submit(url, bearer)
    advance(url, 600)
    available = detail(url, bearer, done).json()
    assert available["status"] == "Available"
    link = available["signedAssets"][0]
    before = requests.get(link)
    assert before.status_code == 200 and gzip.decompress(before.content)
    pending = submit(url, bearer)
    advance(url, 60)
    clock = requests.get(f"{url}/_emulator/clock").json()
    journal = requests.get(f"{url}/_emulator/journal").json()["requests"]
    first.kill()
    # The cached report file is gone too: the download must be written again, byte for byte.
    for name in os.listdir(f"{tmp_path / 'state.db'}.files"):
        os.remove(os.path.join(f"{tmp_path / 'state.db'}.files", name))

    # Start-up flags only set up an empty store: this --now is ignored, the state is resumed.
    second = servers("--state", state, "--clock", "manual", "--now", "2030-01-01T00:00:00Z")
    url = second.url
    assert "resumed existing state" in second.banner()
    assert requests.get(f"{url}/_emulator/clock").json() == clock
    assert requests.get(f"{url}/_emulator/journal").json()["requests"] == journal
    status = requests.get(f"{url}/_emulator/scenario").json()
    assert status["scenario"]["name"] == "survives"
    assert [(r["matched"], r["answered"]) for r in status["rules"]] == [(1, 1)]
    assert requests.post(f"{url}/api/v3/business/report/event/user", json={}).status_code == 503
    assert requests.post(f"{url}/api/v3/business/report/event/user", json={}).status_code != 503  # times: 2 used up
    # The token still works, the Pending request completes after the restart, the old link gives the same bytes.
    assert detail(url, bearer, pending).json()["status"] == "Pending"
    advance(url, 600)
    assert detail(url, bearer, pending).json()["status"] == "Available"
    after = requests.get(link.replace(first.url, url))
    assert after.status_code == 200 and after.content == before.content


def test_nothing_from_before_a_reset_opens_anything_after_it(servers, tmp_path):
    server = servers("--state", f"sqlite:{tmp_path / 'state.db'}", "--clock", "manual", "--now", NOW)
    url = server.url
    old_token = token(url)
    old_request = submit(url, old_token)
    advance(url, 600)
    old_link = detail(url, old_token, old_request).json()["signedAssets"][0]
    assert requests.get(old_link).status_code == 200
    assert requests.post(f"{url}/_emulator/reset", json={}).status_code == 200

    # The same seed and calls after the reset: new ids, and the old ones are refused.
    new_token = token(url)
    new_request = submit(url, new_token)
    advance(url, 600)
    assert new_token != old_token and new_request != old_request
    assert detail(url, old_token, new_request).status_code == 401
    assert detail(url, new_token, old_request).status_code == 404
    refused = requests.get(old_link)
    assert refused.status_code == 403 and b"<Code>AccessDenied</Code>" in refused.content


def test_on_memory_a_link_from_before_a_restart_is_refused_after_it(servers):
    first = servers("--clock", "manual", "--now", NOW)
    bearer = token(first.url)
    request_id = submit(first.url, bearer)
    advance(first.url, 600)
    link = detail(first.url, bearer, request_id).json()["signedAssets"][0]
    assert requests.get(link).status_code == 200
    first.kill()
    second = servers("--clock", "manual", "--now", NOW)
    advance(second.url, 600)
    assert requests.get(link.replace(first.url, second.url)).status_code == 403
    assert detail(second.url, bearer, request_id).status_code == 401
    assert detail(second.url, token(second.url), request_id).status_code == 404


def test_links_are_checked_whole(report_emulator):
    """The signing secret is random per store, and the AWSAccessKeyId is part of what is checked."""
    url = report_emulator.url
    bearer = token(url)
    request_id = submit(url, bearer)
    report_emulator.advance(600)
    link = detail(url, bearer, request_id).json()["signedAssets"][0]
    assert requests.get(link).status_code == 200
    changed = requests.get(link.replace("AWSAccessKeyId=ECHO360EMULATOR", "AWSAccessKeyId=SOMEONEELSE"))
    assert changed.status_code == 403 and b"InvalidAccessKeyId" in changed.content
    removed = requests.get(link.replace("AWSAccessKeyId=ECHO360EMULATOR&", ""))
    assert removed.status_code == 403
    forged = requests.get(link[: link.index("Signature=") + 10] + "A" * 43)
    assert forged.status_code == 403


@pytest.mark.parametrize("state, message", [
    ("sqlite:/no/such/folder/state.db", "does not exist"),
    ("sqlite:", "sqlite:PATH"),
    ("postgres://localhost/x", "sqlite:PATH"),
    ("redis://127.0.0.1:1/0", "cannot reach the redis server"),
])
def test_a_store_that_cannot_be_used_exits_2_with_one_line(state, message):
    proc = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0", "--state", state],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_a_file_that_is_not_ours_is_refused_and_left_alone(tmp_path):
    import sqlite3

    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    newer = tmp_path / "newer.db"
    subprocess.run([sys.executable, "-c", f"from emulator.core.store import open_store; open_store('sqlite:{newer}')"],
                   check=True, timeout=30)
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
        conn.execute("PRAGMA journal_mode = DELETE")  # fold the write-ahead log into the file before comparing
    for path, message in ((text, "cannot be used"), (other, "another program"), (newer, "newer report-emulator")):
        before = path.read_bytes()
        proc = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0", "--state", f"sqlite:{path}"],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert path.read_bytes() == before


def full_banner(server: EmulatorProcess) -> str:
    """The whole start-up banner: up to the last vendor's credentials line."""
    lines: list[str] = []
    while not lines or not lines[-1].startswith("  parkup:"):
        lines.append(server.readline())
        assert lines[-1], "".join(lines)
    return "".join(lines)


def test_resuming_names_every_ignored_flag_and_the_resumed_scenario(servers, tmp_path):
    state = f"sqlite:{tmp_path / 'state.db'}"
    first = servers("--state", state, "--clock", "manual", "--now", NOW, "--scenario", "parkup-outage")
    banner = full_banner(first)
    assert "(new)" in banner and "scenarios: parkup-outage\n" in banner and "ignored" not in banner
    first.stop()

    second = EmulatorProcess("--state", state, "--clock", "real", "--now", "2030-01-01T00:00:00Z", "--seed", "5",
                             "--scale", "2", "--scenario", "strigo-rate-limit")
    try:
        banner = full_banner(second)
        assert "resumed existing state" in banner
        assert "  scenarios: parkup-outage (resumed)\n" in banner
        assert "  ignored: --seed, --now, --clock, --scale, --scenario: the store already holds state" in banner
        assert f"clock: manual, now {NOW.replace('Z', '+00:00')}; seed 1; scale 1" in banner
        assert requests.get(f"{second.url}/_emulator/scenario").json()["scenario"]["name"] == "parkup-outage"
    finally:
        second.stop()

    # Nothing given: nothing ignored. A variable is named with its flag.
    third = EmulatorProcess("--state", state)
    try:
        assert "ignored" not in full_banner(third)
    finally:
        third.stop()
    env = {**os.environ, "EMULATOR_NOW": "2030-01-01T00:00:00Z", "EMULATOR_SCENARIO": "flaky-network"}
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", "0", "--state", state],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        while not lines or not lines[-1].startswith("  parkup:"):
            lines.append(proc.stdout.readline())
            assert lines[-1] or proc.poll() is None, "".join(lines)
        assert "  ignored: --now (EMULATOR_NOW), --scenario (EMULATOR_SCENARIO): " in "".join(lines)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "redis://127.0.0.1:6379/"])
def test_a_redis_url_without_a_database_number_is_refused(url):
    proc = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0", "--state", url],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "no /DB: name the database number after the port" in proc.stderr and "HOST:PORT/DB" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
