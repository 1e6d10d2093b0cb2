"""A store that cannot answer is an outage, not a bug (issue 16, section 2).

Proved from outside, through real HTTP against real `serve` processes: a redis-server of each test's
own that is stopped, frozen (SIGSTOP), flushed or restored from an older copy; a SQLite file locked
by another connection, or on a full filesystem (a 1 MiB tmpfs the test mounts); kill -9 of the main
process of `serve --workers 2`; report files and their owners; key lifetimes; file modes.

Bounds on time are generous functional ones (an answer in seconds, not the 10-20 s waits of before),
never tight timings.
"""
from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from servers import EmulatorProcess, free_port

NOW = "2026-01-15T00:00:00Z"
REPORTING = "/public/api/v1/reporting"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
ANSWER_BOUND = 5.0  # seconds: a 503 comes well within this (the store waits 1.5 s at most; it used to be 10-20 s)
RECOVERY_BOUND = 15.0  # seconds: the emulator answers again within this once its store is back


def _required(what: str) -> None:
    """A real part the test needs is missing: a failure under CI, a skip elsewhere (as conftest's redis_url)."""
    if os.environ.get("CI"):
        pytest.fail(what)
    pytest.skip(what)


class RedisServer:
    """A redis-server of the test's own, which it may stop, freeze, flush and start again on the same port."""

    def __init__(self, folder: Path):
        if not os.path.exists(REDIS_SERVER):
            _required(f"redis-server is not installed ({REDIS_SERVER}); apt-get install redis-server")
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.folder / "redis.log", "ab") as log:
            self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start: {(self.folder / 'redis.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    stop_all()
    server.stop()


class Server(EmulatorProcess):
    """A server stopped after each test; its log lines are counted from output() once it has stopped."""

    started: list["Server"] = []  # stopped after each test, whatever happened (see `stop_servers`)

    def __init__(self, *args: str):
        super().__init__(*args)
        Server.started.append(self)


def stop_all() -> None:
    while Server.started:
        Server.started.pop().stop()


@pytest.fixture(autouse=True)
def stop_servers():
    yield
    stop_all()


def manual(state: str, *args: str) -> Server:
    return Server("--state", state, "--clock", "manual", "--now", NOW, *args)


# --- one call of each vendor, and of the admin API, with each one's own error envelope ---------------

def vendor_calls(url: str) -> dict:
    """name -> (method, url, keyword arguments, check of a 503 body in that vendor's envelope)."""
    creds = requests.get(f"{url}/_emulator/credentials").json()
    world = requests.get(f"{url}/_emulator/world").json()
    strigo, echo, falkor, parkup = creds["strigo"], creds["echo360"], creds["falkor"], creds["parkup"]
    event = world["strigo"]["events"][0]["id"]
    user = world["parkup"]["users"][0]
    return {
        "strigo": ("GET", f"{url}/api/v1/events/{event}/reports/exercises",
                   {"headers": {"Authorization": f"Bearer {strigo['api_key']}", "x-strigo-org-id": strigo["org_id"]}},
                   lambda body: body["result"] == "failure" and body["error"]["type"] == "ServiceUnavailable"),
        "echo360": ("POST", f"{url}/oauth2/access_token", {"params": {"grant_type": "client_credentials", **echo}},
                    lambda body: set(body) == {"error"}),
        "falkor": ("POST", f"{url}/v1/logs/pathway-logs",
                   {"json": {}, "headers": {"Authorization": f"Basic {falkor['token']}"}},
                   lambda body: body["status"] == "error" and "message" in body),
        "parkup": ("POST", f"{url}/api/v3/business/report/event/user",
                   {"json": {"refId": user["refId"], "customerId": user["customerId"], "startDate": "2026-01-10",
                             "endDate": "2026-01-11"}, "headers": {"Authorization": f"Bearer {parkup['token']}"}},
                   lambda body: set(body) == {"error"}),
        "admin": ("POST", f"{url}/_emulator/clock/advance", {"json": {"seconds": 1}},
                  lambda body: set(body) == {"error", "errors"}),
    }


def call(spec) -> tuple[requests.Response, float]:
    method, url, kwargs, _ = spec
    started = time.monotonic()
    response = requests.request(method, url, timeout=60, **kwargs)
    return response, time.monotonic() - started


def assert_outage_answer(name: str, spec, response: requests.Response, elapsed: float, secrets: list[str]) -> None:
    assert response.status_code == 503, (name, response.status_code, response.text)
    assert response.headers["Retry-After"] == "1", name
    assert spec[3](response.json()), (name, response.text)
    assert "store" in response.text and "not answering" in response.text
    answer = response.text + "".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in secrets:  # the store's address is never in an answer
        assert secret not in answer, (name, answer)
    assert elapsed < ANSWER_BOUND, (name, elapsed)


def wait_until_answering(url: str) -> requests.Response:
    deadline = time.monotonic() + RECOVERY_BOUND
    while True:
        response = requests.get(f"{url}/_emulator/clock", timeout=60)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def assert_logged_once(output: str, outages: int = 1) -> None:
    """One line when each outage starts, one when it ends, and no traceback."""
    assert output.count("is not answering") == outages, output
    assert output.count("answers again, after") == outages, output
    assert "Traceback" not in output, output


# --- Redis -------------------------------------------------------------------------------------------

def test_a_stopped_redis_gives_503_in_each_envelope_then_the_emulator_recovers_by_itself(own_redis):
    server = manual(own_redis.url)
    calls = vendor_calls(server.url)
    for name, spec in calls.items():
        assert call(spec)[0].status_code < 500, name
    own_redis.stop()
    for _ in range(3):  # again and again: each answer is quick, no retry storm builds up
        for name, spec in calls.items():
            response, elapsed = call(spec)
            assert_outage_answer(name, spec, response, elapsed, ["127.0.0.1", str(own_redis.port)])
    own_redis.start()  # empty: the store is set up again from the start state
    assert wait_until_answering(server.url).json() == {"now": NOW, "mode": "manual"}
    for name, spec in calls.items():
        assert call(spec)[0].status_code < 500, name
    assert_logged_once(server.output())


def test_a_frozen_redis_gives_503_within_seconds_and_keeps_its_state(own_redis):
    server = manual(own_redis.url)
    calls = vendor_calls(server.url)
    moved = requests.post(f"{server.url}/_emulator/clock/advance", json={"seconds": 3600}).json()
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(10) as pool:  # callers at once: none waits for the others' timeouts
            answers = list(pool.map(lambda n: (n, call(list(calls.values())[n % 5])), range(20)))
        for n, (response, elapsed) in answers:
            name, spec = list(calls.items())[n % 5]
            assert_outage_answer(name, spec, response, elapsed, ["127.0.0.1", str(own_redis.port)])
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    assert wait_until_answering(server.url).json() == moved  # nothing was lost
    assert call(calls["falkor"])[0].status_code == 400  # its own refusal of an empty body: the store answers
    assert_logged_once(server.output())


def echo360_link(url: str) -> str:
    """A signed link to a new Echo360 report (the clock is moved past its processing)."""
    creds = requests.get(f"{url}/_emulator/credentials").json()["echo360"]
    token = requests.post(f"{url}/oauth2/access_token", params={"grant_type": "client_credentials", **creds}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    day = requests.get(f"{url}/_emulator/clock").json()["now"][:10]
    body = {"parameters": {"start": "2026-01-10", "end": "2026-01-11"}, "output": {"compression": True}}
    assert day >= "2026-01-11"
    request_id = requests.post(f"{url}{REPORTING}/requests/confused", json=body, headers=headers).json()["requestId"]
    requests.post(f"{url}/_emulator/clock/advance", json={"seconds": 600})
    return requests.get(f"{url}{REPORTING}/requests/{request_id}", headers=headers).json()["signedAssets"][0]


def test_an_emptied_redis_is_set_up_once_the_same_for_every_replica(own_redis):
    a, b = manual(own_redis.url), manual(own_redis.url)
    try:
        requests.post(f"{a.url}/_emulator/clock/advance", json={"seconds": 7200})
        assert requests.get(f"{b.url}/_emulator/clock").json()["now"] == "2026-01-15T02:00:00Z"
        own_redis.client().flushall()
        # Both adopt the state set up again, at their next request: the start, not what each remembered.
        assert requests.get(f"{a.url}/_emulator/clock").json()["now"] == NOW
        assert requests.get(f"{b.url}/_emulator/clock").json()["now"] == NOW
        requests.post(f"{b.url}/_emulator/clock/advance", json={"seconds": 60})
        assert requests.get(f"{a.url}/_emulator/clock").json()["now"] == "2026-01-15T00:01:00Z"
        link = echo360_link(a.url)
        assert requests.get(link.replace(a.url, b.url)).status_code == 200
        secret = own_redis.client().get("report-emulator:emulator:v:meta:secret")
        clock = requests.get(f"{a.url}/_emulator/clock").json()
        # A replica started late, with other flags, moves nothing back and makes no new secret.
        late = Server("--state", own_redis.url, "--clock", "manual", "--now", "2026-03-01T00:00:00Z")
        try:
            assert requests.get(f"{late.url}/_emulator/clock").json() == clock
            assert requests.get(f"{a.url}/_emulator/clock").json() == clock
            assert own_redis.client().get("report-emulator:emulator:v:meta:secret") == secret
            from_late = requests.get(link.replace(a.url, late.url))
            assert from_late.status_code == 200 and gzip.decompress(from_late.content)
        finally:
            late.stop()
        output = a.output() + b.output()
        assert output.count("lost its state") >= 1 and "Traceback" not in output
    finally:
        a.stop()
        b.stop()


def test_a_redis_restarted_empty_while_replicas_run(own_redis):
    a, b = manual(own_redis.url), manual(own_redis.url)
    try:
        link = echo360_link(a.url)
        secret = own_redis.client().get("report-emulator:emulator:v:meta:secret")
        own_redis.stop()
        own_redis.start()
        assert wait_until_answering(b.url).json()["now"] == NOW
        assert requests.get(f"{a.url}/_emulator/clock").json()["now"] == NOW
        assert own_redis.client().get("report-emulator:emulator:v:meta:secret") != secret  # a new store, one secret
        assert requests.get(link).status_code == 403  # its request is gone with the store, on every replica
        link = echo360_link(b.url)
        assert requests.get(link.replace(b.url, a.url)).status_code == 200
        late = manual(own_redis.url)  # one secret for all: the store's, not what each replica remembered
        try:
            assert requests.get(link.replace(b.url, late.url)).status_code == 200
            assert requests.get(echo360_link(late.url).replace(late.url, a.url)).status_code == 200
        finally:
            late.stop()
    finally:
        a.stop()
        b.stop()


def test_a_redis_restored_from_an_older_copy_is_what_every_replica_reads(own_redis):
    a, b = manual(own_redis.url), manual(own_redis.url)
    try:
        requests.post(f"{a.url}/_emulator/clock/advance", json={"seconds": 4})
        client = own_redis.client()
        saved = {key: client.dump(key) for key in client.keys("*")}
        for _ in range(3):  # each replica reads the newer state
            requests.post(f"{a.url}/_emulator/clock/advance", json={"seconds": 60})
        assert requests.get(f"{b.url}/_emulator/clock").json()["now"] == "2026-01-15T00:03:04Z"
        client.flushall()
        for key, value in saved.items():
            client.restore(key, 0, value)
        for url in (a.url, b.url):
            assert requests.get(f"{url}/_emulator/clock").json()["now"] == "2026-01-15T00:00:04Z"
        for _ in range(3):  # as many moves as before the restore: no replica mistakes the state for its old one
            requests.post(f"{b.url}/_emulator/clock/advance", json={"seconds": 1})
        for url in (a.url, b.url):
            assert requests.get(f"{url}/_emulator/clock").json()["now"] == "2026-01-15T00:00:07Z"
    finally:
        a.stop()
        b.stop()


def test_every_redis_key_has_a_bound_or_a_lifetime(own_redis):
    server = manual(own_redis.url)
    try:
        creds = requests.get(f"{server.url}/_emulator/credentials").json()["echo360"]
        tokens = [requests.post(f"{server.url}/oauth2/access_token",
                                params={"grant_type": "client_credentials", **creds}).json()["access_token"]
                  for _ in range(3)]
        for token in tokens:
            assert requests.get(f"{server.url}{REPORTING}/reports", headers={"Authorization": f"Bearer {token}"}).ok
        client = own_redis.client()
        for token in tokens:
            ttl = client.ttl(f"report-emulator:emulator:v:echo360:rate:{token}")
            assert 0 < ttl <= 86400 + 60, ttl
        scenario = {"name": "counted", "rules": [{"match": {"path": "/api/v1/health"}, "times": 5,
                                                  "respond": {"status": 418}}],
                    "echo360": {"outcomes": ["Failed"]}}
        for _ in range(4):  # each load has its own counters; those of a replaced scenario are removed
            assert requests.put(f"{server.url}/_emulator/scenario", json=scenario).ok
            requests.get(f"{server.url}/api/v1/health")
        counters = {key.decode().split(":")[4] for key in client.keys("report-emulator:emulator:v:scenario:*")}
        assert len(counters) == 1, counters
    finally:
        server.stop()


# --- SQLite ------------------------------------------------------------------------------------------

def test_a_locked_sqlite_file_gives_503_in_each_envelope_then_recovers(tmp_path):
    path = tmp_path / "state.db"
    server = manual(f"sqlite:{path}")
    calls = vendor_calls(server.url)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process's connection holds the file's lock
    try:
        assert_outage_answer("echo360", calls["echo360"], *call(calls["echo360"]), [str(tmp_path)])
        for name, spec in calls.items():
            response, elapsed = call(spec)
            assert_outage_answer(name, spec, response, elapsed, [str(tmp_path)])
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    deadline = time.monotonic() + RECOVERY_BOUND
    while call(calls["echo360"])[0].status_code != 200:  # the outage ends at the first write that succeeds
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert requests.get(f"{server.url}/_emulator/clock").json() == {"now": NOW, "mode": "manual"}
    assert_logged_once(server.output())


def test_a_reset_during_an_outage_gives_503_and_changes_nothing_then_resets_whole(tmp_path):
    """A reset is one write of the store (`new_generation`): during an outage it is answered 503 like
    any other call, in the admin API's envelope, and half of it never happens."""
    path = tmp_path / "state.db"
    server = manual(f"sqlite:{path}")
    reset = ("POST", f"{server.url}/_emulator/reset", {"json": {}}, lambda body: set(body) == {"error", "errors"})
    moved = requests.post(f"{server.url}/_emulator/clock/advance", json={"seconds": 3600}).json()
    assert moved["now"] != NOW
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # reads still answer (WAL): only the reset's own write waits, then fails
    try:
        for _ in range(2):
            assert_outage_answer("reset", reset, *call(reset), [str(tmp_path)])
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert wait_until_answering(server.url).json() == moved  # no part of a refused reset happened
    deadline = time.monotonic() + RECOVERY_BOUND
    while call(reset)[0].status_code != 200:  # the reset that succeeds is the write that ends the outage
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert requests.get(f"{server.url}/_emulator/clock").json() == {"now": NOW, "mode": "manual"}
    assert_logged_once(server.output())


@pytest.fixture
def small_filesystem(tmp_path):
    """A 1 MiB tmpfs of the test's own (mount needs root or CAP_SYS_ADMIN)."""
    folder = tmp_path / "small"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        _required(f"cannot mount a small tmpfs for the full-disk test: {done.stderr.strip()}")
    yield folder
    stop_all()
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of folder's filesystem."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_sqlite_filesystem_gives_503_never_500_then_recovers(small_filesystem):
    path = small_filesystem / "state.db"
    server = manual(f"sqlite:{path}")
    calls = vendor_calls(server.url)
    link = echo360_link(server.url)
    assert requests.get(link).status_code == 200
    for report in Path(f"{path}.files").iterdir():  # gone: the next download writes it again, on a full disk
        report.unlink()
    filler = fill(small_filesystem)
    response = requests.get(link)  # S3's own answer, as the link's host would give it
    assert response.status_code == 503 and response.headers["Retry-After"] == "1", response.text
    assert "<Code>ServiceUnavailable</Code>" in response.text and str(small_filesystem) not in response.text
    body = "x" * 3000  # journalled: each call grows the write-ahead log until the disk refuses
    statuses = []
    for n in range(200):
        response, elapsed = call(("POST", f"{server.url}/v1/logs/pathway-logs",
                                  {"data": body, "headers": calls["falkor"][2]["headers"]}, None))
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert_outage_answer("falkor", calls["falkor"], response, elapsed, [str(small_filesystem)])
            break
    assert 503 in statuses and all(s < 500 or s == 503 for s in statuses), statuses
    for name, spec in calls.items():
        if name != "admin":  # a read may get through between probes; the answer is never a 500
            response, elapsed = call(spec)
            assert response.status_code < 500 or response.status_code == 503, (name, response.text)
    filler.unlink()
    deadline = time.monotonic() + RECOVERY_BOUND
    while call(calls["admin"])[0].status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    output = server.output()
    assert "Traceback" not in output and output.count("is not answering") == 1, output


def test_a_replica_started_late_on_a_sqlite_file_moves_nothing_back(tmp_path):
    state = f"sqlite:{tmp_path / 'state.db'}"
    first = manual(state)
    try:
        link = echo360_link(first.url)
        clock = requests.get(f"{first.url}/_emulator/clock").json()
        late = Server("--state", state, "--clock", "real", "--now", "2027-01-01T00:00:00Z")
        try:
            for url in (first.url, late.url):
                assert requests.get(f"{url}/_emulator/clock").json() == clock
            assert requests.get(link.replace(first.url, late.url)).status_code == 200  # one link secret
        finally:
            late.stop()
    finally:
        first.stop()


def test_store_files_and_folders_are_private_whatever_the_umask(tmp_path):
    path = tmp_path / "state.db"
    old = os.umask(0)  # the server inherits it: the modes must not depend on it
    try:
        server = manual(f"sqlite:{path}")
    finally:
        os.umask(old)
    try:
        link = echo360_link(server.url)
        assert requests.get(link).status_code == 200
        files = Path(f"{path}.files")
        assert stat.S_IMODE(files.stat().st_mode) == 0o700
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        reports = [p for p in files.iterdir() if not p.name.startswith(".")]
        assert reports and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in reports)
    finally:
        server.stop()


# --- report files ------------------------------------------------------------------------------------

def test_a_server_starting_on_a_sqlite_file_leaves_a_live_writers_part_file(tmp_path):
    import fcntl

    path = tmp_path / "state.db"
    first = manual(f"sqlite:{path}")
    first.stop()
    files = Path(f"{path}.files")
    files.mkdir(exist_ok=True)
    live = files / "report.csv.gz.123-456.part"  # being written by a live process (this one holds its lock)
    dead = files / "report.csv.gz.789-10.part"  # left by a writer that was killed: nobody holds its lock
    live.write_bytes(b"half")
    dead.write_bytes(b"half")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        server = manual(f"sqlite:{path}")
        try:
            assert live.exists() and not dead.exists()
            assert requests.post(f"{server.url}/_emulator/reset", json={}).ok  # a reset leaves it too
            assert live.exists()
        finally:
            server.stop()
    server = manual(f"sqlite:{path}")  # its writer is gone now: the next start removes it
    server.stop()
    assert not live.exists()


def test_files_of_dropped_echo360_requests_are_removed_when_the_clock_passes_them(tmp_path):
    path = tmp_path / "state.db"
    server = manual(f"sqlite:{path}")
    try:
        link = echo360_link(server.url)
        assert requests.get(link).status_code == 200
        files = Path(f"{path}.files")
        assert [p for p in files.iterdir() if not p.name.startswith(".")]
        requests.post(f"{server.url}/_emulator/clock/advance", json={"seconds": 22 * 86400})
        assert [p.name for p in files.iterdir() if not p.name.startswith(".")] == []
    finally:
        server.stop()


def test_report_files_are_bounded_in_bytes(report_emulator, monkeypatch, http):
    from emulator.vendors.echo360 import models

    monkeypatch.setattr(models, "FILES_MAX_BYTES", 1)  # every file but the newest is over the bound
    report_emulator.set_time(NOW)
    links = [echo360_link(report_emulator.url) for _ in range(3)]
    folder = Path(report_emulator.emulator.store.files_dir)
    assert len([p for p in folder.iterdir() if not p.name.startswith(".")]) == 1
    first = http.get(links[0])
    assert first.status_code == 200 and gzip.decompress(first.content)  # written again on demand
    assert len([p for p in folder.iterdir() if not p.name.startswith(".")]) == 1


# --- workers -----------------------------------------------------------------------------------------

def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the workers")
def test_workers_exit_when_their_main_process_is_killed(tmp_path):
    server = manual(f"sqlite:{tmp_path / 'state.db'}", "--workers", "2")
    workers = server.worker_pids(2)
    assert len(workers) == 2, workers
    server.kill()
    deadline = time.monotonic() + 20
    try:
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "workers outlived their main process"
            time.sleep(0.1)
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    # The port is free again: a new server starts on it.
    again = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", str(server.port)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert again.poll() is None, again.stdout.read()
            try:
                assert requests.get(f"{server.url}/_emulator/health", timeout=2).ok
                break
            except requests.RequestException:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        again.terminate()
        again.wait(timeout=15)
