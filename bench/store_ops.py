"""Microseconds per store operation, each backend side by side in one run: memory, sqlite (a file in a
temporary folder) and redis (a real redis-server this script starts on a free port, over TCP).

The journal is measured full (1,000 entries of about 600 bytes), so every append also drops the oldest,
as it does on a server that has been running a while.

    python bench/store_ops.py [--seconds 0.3] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _common import free_port  # noqa: E402

from emulator.core.store import open_store  # noqa: E402

ENTRY = {"seq": 0, "at": "2026-01-15T00:00:00.000000Z", "vendor": "echo360", "method": "GET",
         "path": "/public/api/v1/reporting/report-requests/6f1c2b9e-0000-4000-8000-000000000000",
         "query": {"page": "1"}, "status": 200, "ms": 1.234, "rule": None, "client": "127.0.0.1",
         "headers": {"authorization": "Bearer ***", "user-agent": "python-requests/2.32"}}
ENTRY["body"] = ""
ENTRY["body"] = "x" * (600 - len(json.dumps(ENTRY, separators=(",", ":"))))  # 600 bytes of JSON


def operations(store):
    """name -> a callable doing one operation (the keys exist beforehand where a read needs them)."""
    store.put("clock", {"mode": "manual", "position": 1768435200.0, "version": 3})
    store.map_put("echo360:requests", "r1", {"id": "r1", "created": 1768435200.0, "report": "videoview"})
    for _ in range(1000):
        store.log_append("journal", ENTRY, 1000, 8 * 1024 * 1024)
    now = [1768435200.0]

    def window_hit():
        now[0] += 0.001
        return store.window_hit("ratelimit:client", now[0], 60)

    return {
        "get": lambda: store.get("clock"),
        "put": lambda: store.put("clock", {"mode": "manual", "position": 1768435200.0, "version": 3}),
        "incr": lambda: store.incr("rule:1:hits"),
        "window_hit": window_hit,
        "update": lambda: store.update("counter", lambda v: ((v or 0) + 1, None)),
        "log_append (600 B)": lambda: store.log_append("journal", ENTRY, 1000, 8 * 1024 * 1024),
        "map_get": lambda: store.map_get("echo360:requests", "r1"),
    }


def per_op_us(fn, seconds: float, repeats: int) -> float:
    """Best of repeats of (time / calls) for as many calls as fit in `seconds` (the least disturbed
    by other processes on a busy machine)."""
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.05:  # warm up and size the batch
        fn()
        n += 1
    batch = max(int(n * seconds / 0.05), 10)
    results = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(batch):
            fn()
        results.append((time.perf_counter() - t) / batch * 1e6)
    return min(results)


def start_redis(folder: str) -> tuple[subprocess.Popen, str]:
    server = shutil.which("redis-server")
    if not server:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=0.3, help="time per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="store-bench-")
    redis_proc, redis_url = start_redis(folder)
    try:
        stores = {"memory": open_store("memory"), "sqlite": open_store(f"sqlite:{folder}/state.db"),
                  "redis": open_store(redis_url)}
        table = {}
        for backend, store in stores.items():
            for name, fn in operations(store).items():
                table.setdefault(name, {})[backend] = per_op_us(fn, args.seconds, args.repeats)
            store.close()
    finally:
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"store operations, microseconds per call (best of {args.repeats}); "
          f"redis over TCP on 127.0.0.1, sqlite in WAL mode on {tempfile.gettempdir()}")
    print(f"| {'operation':<20} | {'memory':>8} | {'sqlite':>8} | {'redis':>8} |")
    print(f"|{'-' * 22}|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|")
    for name, row in table.items():
        print(f"| {name:<20} | {row['memory']:>8.2f} | {row['sqlite']:>8.1f} | {row['redis']:>8.1f} |")


if __name__ == "__main__":
    main()
