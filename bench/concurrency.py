"""Requests held by a scenario delay never stall the others.

Loads a scenario whose rule holds every `/api/v3/...` request for 1 s, fires 16 of them at once, and
meanwhile times fast admin and vendor calls. With a server that serialised requests, the 16 held
requests would take 16 s and the fast calls would wait behind them.
"""
from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.error
import urllib.request

from _common import start_server, stop_server

HELD = 16


def call(url: str, data: bytes | None = None, method: str = "GET") -> int:
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def main() -> None:
    proc, url, _ = start_server()
    try:
        scenario = {"name": "hold", "rules": [{"match": {"path_regex": "^/api/v3/"}, "delay_ms": 1000,
                                                "respond": {"status": 200, "json": []}}]}
        status = call(f"{url}/_emulator/scenario", json.dumps(scenario).encode(), "PUT")
        if status != 200:
            raise SystemExit(f"could not load the scenario (HTTP {status})")
        held_times: list[float] = []

        def held() -> None:
            t = time.perf_counter()
            call(f"{url}/api/v3/business/report/event/user", b"{}", "POST")
            held_times.append(time.perf_counter() - t)

        threads = [threading.Thread(target=held) for _ in range(HELD)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(0.1)
        fast: list[float] = []
        while any(t.is_alive() for t in threads):
            t0 = time.perf_counter()
            call(f"{url}/_emulator/health")
            fast.append(time.perf_counter() - t0)
        total = time.perf_counter() - started
        print(f"{HELD} requests held 1 s each, all done in {total:.2f} s (max {max(held_times):.2f} s each)")
        print(f"{len(fast)} fast calls meanwhile: median {statistics.median(fast) * 1000:.1f} ms, max {max(fast) * 1000:.1f} ms")
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
