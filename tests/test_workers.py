"""`serve()` in real processes, one and two workers, through real HTTP: every scenario fault, delays
that do not stall others, and SIGTERM draining in-flight requests.

The server runs in a subprocess through `emulator.server.serve`, its workers sharing one fresh SQLite
store (`state_url()`, the one place that names it); tests/test_replicas.py proves the sharing itself.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

def state_url() -> str:
    """A fresh shared store for one server: workers of one server share it."""
    import tempfile

    return f"sqlite:{tempfile.mkdtemp(prefix='workers-')}/state.db"

FALKOR = "/v1/logs/pathway-logs"
PARKUP = "/api/v3/business/report/event/user"
SLOW = "/api/v1/events/slow/reports/exercises"
CUT = "/api/v1/events/cut/reports/exercises"
CANNED = "/api/v1/events/canned/reports/exercises"
DRAIN = "/api/v1/events/drain/reports/exercises"
DELAY_MS = 3000
DRAIN_DELAY_MS = 6000  # long enough that a loaded machine sees the refusal while all six are still held

SCENARIO = {
    "name": "every fault",
    "rules": [
        {"match": {"path": FALKOR}, "fault": "connection_reset"},
        {"match": {"path": PARKUP}, "fault": "empty_response"},
        {"match": {"path": CUT}, "fault": "malformed_body"},
        {"match": {"path": SLOW}, "delay_ms": DELAY_MS},
        {"match": {"path": DRAIN}, "delay_ms": DRAIN_DELAY_MS},
        {"match": {"path": CANNED}, "respond": {"status": 503, "json": {"error": "down"}, "headers": {"Retry-After": "7"}}},
    ],
}

SERVE = """
import json, sys
from emulator.app import create_app
from emulator.server import serve
from emulator.settings import Settings

options = json.loads(sys.argv[1])
settings = Settings(host="127.0.0.1", port=options["port"], scenarios=[options["scenario"]])
settings.workers = options["workers"]  # Settings gains these fields with the new command line
settings.state = options["state"]
serve(settings, create_app(settings), lambda url: print(url, flush=True))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, workers: int, scenario_path: str):
        self.port = free_port()
        options = {"port": self.port, "workers": workers, "scenario": scenario_path, "state": state_url()}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, json.dumps(options)], stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        assert self.url == f"http://127.0.0.1:{self.port}", self.url
        deadline = time.monotonic() + 30
        while True:  # the banner comes once the port is bound; workers may still be importing
            try:
                if requests.get(f"{self.url}/_emulator/health", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # a worker still importing holds it in the backlog
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        if workers > 1:
            self.wait_for_all_workers(workers)

    def wait_for_all_workers(self, workers: int) -> None:
        """Every worker process is up (its children of this process have each imported the app)."""
        deadline = time.monotonic() + 30
        while len(self.worker_pids()) < workers or not all(self.listening(pid) for pid in self.worker_pids()):
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(line.split()[0]) for line in out.splitlines() if "spawn_main" in line]

    def listening(self, pid: int) -> bool:
        """The worker has built its app and entered the server (its main thread waits in poll)."""
        try:
            with open(f"/proc/{pid}/wchan") as fh:
                return "poll" in fh.read()
        except OSError:
            return False

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def scenario_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "faults.json"
    path.write_text(json.dumps(SCENARIO))
    return str(path)


@pytest.fixture(scope="module", params=[1, 2], ids=["one-process", "two-workers"])
def server(request, scenario_path):
    server = Server(request.param, scenario_path)
    yield server
    assert server.stop() == 0


def fresh_post(url: str, **kwargs):
    """Each call on a new connection, so the kernel spreads them over the workers."""
    with requests.Session() as session:
        return session.post(url, **kwargs)


def test_connection_reset_every_time_and_others_still_served(server):
    for _ in range(8):
        with pytest.raises(requests.ConnectionError) as info:
            fresh_post(f"{server.url}{FALKOR}", json={"pathway": "Pathway A"})
        assert "reset" in str(info.value).lower() or "aborted" in str(info.value).lower()
        assert requests.get(f"{server.url}/_emulator/health").status_code == 200


def test_empty_response(server):
    for _ in range(6):
        response = fresh_post(f"{server.url}{PARKUP}", json={})
        assert (response.status_code, response.content) == (200, b"")


def test_malformed_body(server):
    for _ in range(6):
        with requests.Session() as session:
            whole = session.get(f"{server.url}/api/v1/events/other/reports/exercises")
            cut = session.get(f"{server.url}{CUT}")
        assert whole.status_code == cut.status_code and len(whole.content) > 2
        with pytest.raises(ValueError):
            cut.json()


def test_respond(server):
    for _ in range(6):
        with requests.Session() as session:
            response = session.get(f"{server.url}{CANNED}")
        assert (response.status_code, response.json(), response.headers["Retry-After"]) == (503, {"error": "down"}, "7")


def test_delayed_requests_do_not_stall_others(server):
    """16 requests held by a delay, and others answered while they are all still held."""
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(requests.get(f"{server.url}{SLOW}").status_code))
               for _ in range(16)]
    for thread in threads:
        thread.start()
    fast = [fresh_post(f"{server.url}{PARKUP}", json={}).status_code for _ in range(4)]
    held = sum(thread.is_alive() for thread in threads)
    for thread in threads:
        thread.join()
    assert fast == [200] * 4 and held == 16 and len(answers) == 16


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_in_flight_requests_then_exits_0(workers, scenario_path):
    server = Server(workers, scenario_path)
    try:
        answers: list[int] = []
        threads = [threading.Thread(target=lambda: answers.append(requests.get(f"{server.url}{DRAIN}").status_code))
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(1)  # let all six be accepted and held by their delay
        server.proc.send_signal(signal.SIGTERM)
        refused = False
        while not refused and any(t.is_alive() for t in threads):
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
            except (ConnectionRefusedError, ConnectionResetError):  # a reset: accepted into a closing backlog
                refused = True
        still_in_flight = sum(t.is_alive() for t in threads)
        for thread in threads:
            thread.join()
        assert refused and still_in_flight == 6  # new connections refused while the six were still held
        assert answers == [401] * 6  # all six answered by the vendor (no credentials), none cut by the stop
        assert server.proc.wait(timeout=30) == 0
    finally:
        server.stop()


def test_a_worker_that_dies_is_replaced(scenario_path):
    server = Server(2, scenario_path)
    try:
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        server.wait_for_all_workers(2)
        assert victim not in server.worker_pids()
        for _ in range(6):
            assert fresh_post(f"{server.url}{PARKUP}", json={}).status_code == 200
    finally:
        assert server.stop() == 0


def test_a_worker_that_cannot_start_stops_the_server_with_a_message(tmp_path):
    """The scenario file is gone by the time the workers read it: no endless restarts, exit 1 with a message.

    Unshared memory state (serve() itself allows it; the command line refuses it), so that each worker
    sets up its own store from the start-up flags and reads the file; a shared store would be resumed."""
    scenario = tmp_path / "gone.json"
    scenario.write_text(json.dumps(SCENARIO))
    script = SERVE.replace("serve(settings, create_app(settings)",
                           "app = create_app(settings)\nimport os; os.remove(options['scenario'])\nserve(settings, app")
    options = {"port": free_port(), "workers": 2, "scenario": str(scenario), "state": "memory"}
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(options)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith("a worker exited during start-up (exit code 1)")
