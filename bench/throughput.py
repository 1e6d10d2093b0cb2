"""Requests per second on a ~20-row Strigo event exercises report, 16 connections, one server process.

Uses wrk (Debian package `wrk`) when it is installed, else a Python keep-alive load generator (which
is itself slower than the server, so its figure is a floor). Target: at least WireMock serving the
same body as a static stub (3.7k req/s on a 2-core machine, see DESIGN.md).
"""
from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import threading
import time
import urllib.request

from _common import start_server, stop_server


def get_json(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def pick_event(url: str, auth: str) -> tuple[str, int]:
    """The event whose exercises report is closest to 20 rows."""
    best = None
    for event in get_json(f"{url}/_emulator/world")["strigo"]["events"]:
        body = get_json(f"{url}/api/v1/events/{event['id']}/reports/exercises", {"Authorization": auth})
        rows = len(body["data"] if isinstance(body, dict) else body)
        if best is None or abs(rows - 20) < abs(best[1] - 20):
            best = (event["id"], rows)
    return best


def python_load(host: str, port: int, path: str, auth: str, connections: int, seconds: float) -> tuple[int, int]:
    counts = [0] * connections
    errors = [0] * connections
    stop_at = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, port)
        while time.perf_counter() < stop_at:
            conn.request("GET", path, headers={"Authorization": auth})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                counts[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), sum(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python", action="store_true", help="use the Python load generator even if wrk exists")
    args = parser.parse_args()
    # A large rate limit: this measures serving, not the 429 path.
    proc, url, _ = start_server("--credential", "strigo.org_id=bench", "--credential", "strigo.api_key=bench")
    try:
        auth = "Bearer bench:bench"
        scenario = json.dumps({"name": "bench", "strigo": {"rate_limit": 100_000_000}}).encode()
        try:
            urllib.request.urlopen(urllib.request.Request(f"{url}/_emulator/scenario", data=scenario, method="PUT",
                                                          headers={"Content-Type": "application/json"})).read()
        except Exception as exc:  # scenarios unavailable: the default limit will answer 429s
            print(f"note: could not raise the rate limit via a scenario ({exc})")
        event_id, rows = pick_event(url, auth)
        path = f"/api/v1/events/{event_id}/reports/exercises"
        print(f"event {event_id}: {rows} rows; {args.connections} connections, {args.seconds:.0f} s")
        if shutil.which("wrk") and not args.python:
            # One load thread: on a 2-core machine a second one competes with the server for a core.
            out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{int(args.seconds)}s", "-H",
                                  f"Authorization: {auth}", url + path], capture_output=True, text=True).stdout
            print(out)
        else:
            host, port = url.split("//")[1].split(":")
            ok, bad = python_load(host, int(port), path, auth, args.connections, args.seconds)
            print(f"python load generator: {ok / args.seconds:.0f} req/s ({bad} non-200)")
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
