"""Fast calls while 1,000 are held: side by side in one run, this tree's server against an older
source tree's (`--baseline DIR`, e.g. the last waitress revision unpacked with `git archive`).

For each server (one process on `memory`, and `--workers 2` on `sqlite:`): a scenario holds every call
to one path for 5 s; 1,000 connections send such a call at once; then 200 fast calls are made one
after another (`GET /_emulator/health` and a Strigo call answered 401), and their latency is reported
(p50, p99, max), with how long the held ones took to come back. Then, with nothing held, requests per
second of the Strigo call from 16 Python client threads for 5 s (a floor: the client is slower than
the server). Prints figures; never fails on a threshold. Target (issue 17): fast-call p99 under 50 ms.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from _common import free_port

HELD = 1000
DELAY_MS = 5000
SLOW = "/api/v1/events/held/reports/exercises"
FAST = "/api/v1/events/other/reports/exercises"


def start(source: str, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": source}
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", str(port), *args], cwd=source, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=1)
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server from {source} did not start")
            time.sleep(0.05)


def call(port: int, method: str, path: str, body: bytes | None = None, connection=None) -> int:
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    response = connection.getresponse()
    response.read()
    if own:
        connection.close()
    return response.status


def held_run(port: int) -> dict:
    scenario = {"strigo": {"rate_limit": 100_000_000}, "rules": [{"match": {"path": SLOW}, "delay_ms": DELAY_MS}]}
    call(port, "PUT", "/_emulator/scenario", json.dumps(scenario).encode())
    started = time.monotonic()
    socks = []
    for _ in range(HELD):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % SLOW.encode())
        socks.append(sock)
    latencies = []
    timed_out = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for n in range(200):
        if time.monotonic() - started > 60:
            break
        t0 = time.perf_counter()
        try:
            call(port, "GET", "/_emulator/health" if n % 2 else FAST, connection=connection)
        except OSError:  # no answer within 10 s: counted, and the latency kept as 10 s
            timed_out += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latencies.append((time.perf_counter() - t0) * 1000)
    fast_done = time.monotonic() - started
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    answered = 0
    deadline = time.monotonic() + 300
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                selector.unregister(key.fileobj)
                key.fileobj.close()
                answered += 1
    latencies.sort()
    return {"timed_out": timed_out, "calls": len(latencies), "p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1], "max": latencies[-1],
            "fast_done_s": fast_done, "held_done_s": time.monotonic() - started, "held_answered": answered}


def throughput(port: int, seconds: float = 5, threads: int = 16) -> float:
    call(port, "DELETE", "/_emulator/scenario")
    call(port, "PUT", "/_emulator/scenario", json.dumps({"strigo": {"rate_limit": 100_000_000}}).encode())
    count = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            call(port, "GET", FAST, connection=connection)
            count[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(count) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", action="append", default=[], metavar="DIR", help="an older source tree to compare")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"{HELD} calls held by a {DELAY_MS} ms delay; 200 fast calls meanwhile; then req/s with 16 Python threads "
          f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
    for label, source in [("this tree", here)] + [(f"baseline {d}", d) for d in options.baseline]:
        for mode, args in (("1 process, memory", []), ("--workers 2, sqlite", ["--workers", "2", "--state",
                                                                                f"sqlite:{tempfile.mkdtemp()}/s.db"])):
            proc, port = start(source, *args)
            try:
                held = held_run(port)
                rate = throughput(port)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            print(f"  {label:28} {mode:20} fast p50 {held['p50']:7.1f} ms  p99 {held['p99']:7.1f} ms  max {held['max']:7.1f} ms"
                  f"  ({held['timed_out']} of {held['calls']} over 10 s) | fast calls done at {held['fast_done_s']:5.1f} s, {held['held_answered']} held answered by "
                  f"{held['held_done_s']:5.1f} s | {rate:6.0f} req/s")


if __name__ == "__main__":
    main()
