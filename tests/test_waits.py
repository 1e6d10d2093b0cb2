"""Waits hold no serving thread, through real HTTP, one process and `--workers 2` on a shared store.

1,000 requests are held at once by a 20 s scenario delay (plus clients that send half a request and
stall, and calls held by the latency knob, a dribble and a bandwidth), with `--threads 1`; meanwhile
other calls are answered. The bound on them is functional and generous (well under the delay); the
timing figures belong to bench/waits.py. The same servers show that a body past the limit gets the
vendor's own 413 envelope from the engine at any size (the engine reads no body for the app).
"""
from __future__ import annotations

import resource
import selectors
import socket
import time

import pytest
import requests

from emulator.core.limits import MAX_BODY_BYTES
from servers import MODES, serve_in_mode

HELD = 1000
# Long enough that the fast calls are done well before it ends on a loaded machine (10 s was not, once,
# with the suite on two workers beside another suite: opening 1,060 connections took part of it).
DELAY_MS = 20_000
SLOW = "/api/v1/events/held/reports/exercises"
DRIBBLE = "/api/v1/events/dribble/reports/exercises"
PARKUP = "/api/v3/business/report/event/user"


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * HELD:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4 * HELD, hard), hard))
    process = serve_in_mode(request.param, tmp_path_factory.mktemp("waits"), "--threads", "1")
    yield process
    process.stop()


def open_held(port: int, path: str, count: int, headers: str = "") -> list[socket.socket]:
    """`count` connections, each with a whole GET of path sent."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (path.encode(), headers.encode()))
        socks.append(sock)
    return socks


def read_all(socks: list[socket.socket], seconds: float) -> list[bytes]:
    """Each connection's whole answer (until the server closes it), reading them all at once."""
    selector = selectors.DefaultSelector()
    answers = {sock: b"" for sock in socks}
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + seconds
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            try:
                data = key.fileobj.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                answers[key.fileobj] += data
            else:
                selector.unregister(key.fileobj)
    for sock in socks:
        sock.close()
    return [answers[sock] for sock in socks]


def test_a_thousand_held_requests_leave_other_calls_answered(server, http):
    scenario = {"rules": [{"match": {"path": SLOW}, "delay_ms": DELAY_MS},
                          {"match": {"path": DRIBBLE}, "respond": {"json": {"n": list(range(200))}},
                           "chunked_dribble": {"chunks": 4, "total_ms": DELAY_MS}}],
                "latency": {"falkor": {"min_ms": DELAY_MS, "max_ms": DELAY_MS}},
                "parkup": {"bandwidth": {"bytes_per_second": 10}}, "strigo": {"rate_limit": 100_000_000}}
    assert http.put(f"{server.url}/_emulator/scenario", json=scenario).status_code == 200
    started = time.monotonic()
    held = open_held(server.port, SLOW, HELD)
    held += open_held(server.port, DRIBBLE, 20)
    held += open_held(server.port, "/v1/logs/pathway-logs", 20)  # the latency knob
    held += open_held(server.port, PARKUP, 20)  # ParkUp's own 401, 10 bytes a second
    stalled = []
    for _ in range(50):  # clients that send half a request and wait
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHo")
        stalled.append(sock)

    fast = []
    for _ in range(20):
        t0 = time.monotonic()
        assert http.get(f"{server.url}/_emulator/health", timeout=10).status_code == 200
        assert http.get(f"{server.url}/api/v1/events/other/reports/exercises", timeout=10).status_code == 401
        fast.append(time.monotonic() - t0)
    # Every fast call came back while every held one was still waiting: none has had a byte of its answer yet.
    ready = selectors.DefaultSelector()
    for sock in held[:HELD]:
        ready.register(sock, selectors.EVENT_READ)
    assert ready.select(timeout=0) == [], (f"held calls answered before the fast ones (slowest fast call {max(fast):.2f} s, "
                                           f"{time.monotonic() - started:.1f} s after the first held call)")
    ready.close()

    answers = read_all(held, 120)
    for sock in stalled:
        sock.close()
    statuses = [answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else answer[:40] for answer in answers]
    assert statuses[:HELD] == [b"401"] * HELD  # Strigo's own answer (no credentials), after the delay
    assert statuses[HELD:HELD + 20] == [b"200"] * 20 and all(a.endswith(b"199]}\n") for a in answers[HELD:HELD + 20])
    assert set(statuses[HELD + 20:]) == {b"405"}  # a GET on Falkor's and ParkUp's POST paths: their own 405
    assert time.monotonic() - started >= DELAY_MS / 1000  # they were held


def test_a_request_held_when_a_reset_or_a_new_scenario_arrives_finishes_as_it_started(server, http):
    creds = http.get(f"{server.url}/_emulator/credentials").json()["echo360"]
    token = http.post(f"{server.url}/oauth2/access_token", params={"grant_type": "client_credentials", **creds}).json()["access_token"]
    reports = "/public/api/v1/reporting/reports"
    scenario = {"strigo": {"rate_limit": 100_000_000}, "rules": [{"match": {"path": SLOW}, "delay_ms": 2000, "respond": {"status": 503, "json": {"held": True}}},
                          {"match": {"path": reports}, "delay_ms": 2000}]}
    assert http.put(f"{server.url}/_emulator/scenario", json=scenario).status_code == 200
    canned = open_held(server.port, SLOW, 5)
    vendor = open_held(server.port, reports, 5, f"Authorization: Bearer {token}\r\n")
    time.sleep(0.5)  # they have reached their rules (a functional pause, not an assertion)
    assert http.delete(f"{server.url}/_emulator/scenario").status_code == 200
    assert http.post(f"{server.url}/_emulator/reset", json={}).status_code == 200  # the token is forgotten
    answers = read_all(canned + vendor, 30)
    assert all(answer.startswith(b"HTTP/1.1 503 ") and answer.endswith(b'{"held":true}\n') for answer in answers[:5]), answers
    assert all(answer.startswith(b"HTTP/1.1 200 ") for answer in answers[5:]), answers  # answered as it started
    assert http.get(f"{server.url}{SLOW}").status_code == 401  # a new call meets the new state
    assert http.get(f"{server.url}{reports}", headers={"Authorization": f"Bearer {token}"}).status_code == 401


TOO_LARGE = f"the request body is larger than the limit of {MAX_BODY_BYTES} bytes (10 MiB)"


@pytest.mark.parametrize("path, envelope", [
    ("/api/v1/events/e1/reports/user-activity", {"result": "failure", "error": {"type": "PayloadTooLarge", "message": TOO_LARGE}}),
    ("/public/api/v1/reporting/requests/videoview", {"error": TOO_LARGE}),
    ("/v1/logs/pathway-logs", {"status": "error", "message": TOO_LARGE}),
    ("/api/v3/business/report/event/user", {"error": TOO_LARGE}),
], ids=["strigo", "echo360", "falkor", "parkup"])
def test_a_25_mib_body_gets_the_vendors_own_413(server, http, path, envelope):
    """Past the engine's reach too: the answer is the vendor's JSON envelope, not a server's plain text."""
    body = b"x" * (25 * 1024 * 1024)
    response = http.post(f"{server.url}{path}", data=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == envelope
    assert http.get(f"{server.url}/_emulator/health").status_code == 200
