"""Engines side by side in one run: req/s on the Strigo event exercises report with `wrk -t1 -c16`,
one process against two workers for each candidate, and WireMock serving the same bytes as a static stub.

Candidates: waitress (this project's `serve()`, N processes on one pre-bound socket; since issue 17 it
serves with gevent and a work pool, so this row measures that), gunicorn
(gthread and sync workers, through its public BaseApplication), granian (WSGI, --factory). Each
worker builds its own app with unshared memory state: a throughput ceiling, not a correct emulator
for state shared across workers. WireMock: set WIREMOCK_JAR, or `npm install wiremock@3` in
/tmp/wiremock (the npm package ships the standalone jar; needs a JVM).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from _common import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _engine_apps import AUTH, write_scenario  # noqa: E402


def wait_ready(url: str, proc: subprocess.Popen, headers: dict | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server for {url} did not start")
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(url: str, seconds: int, auth: bool = True) -> dict:
    """16 connections for `seconds`; with auth, as a well-behaved client (Authorization and Accept)."""
    command = ["wrk", "-t1", "-c16", f"-d{seconds}s", url]
    if auth:
        command[4:4] = ["-H", f"Authorization: {AUTH}", "-H", "Accept: application/json"]
    out = subprocess.run(command, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = re.search(r"Latency\s+([\d.]+\w+)", out).group(1)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "latency": latency, "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(0) if errors else ""}


def start_engine(engine: str, workers: int, port: int, env: dict) -> subprocess.Popen:
    python = sys.executable
    if engine == "waitress":
        command = [python, os.path.join(HERE, "_engine_apps.py"), "waitress", str(port), str(workers)]
    elif engine.startswith("gunicorn-"):
        command = [python, os.path.join(HERE, "_engine_apps.py"), "gunicorn", str(port), str(workers), engine.split("-")[1]]
    elif engine == "granian":
        command = [os.path.join(os.path.dirname(python), "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
                   "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--factory",
                   "_engine_apps:make_app"]
    else:
        raise ValueError(engine)
    return subprocess.Popen(command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wiremock_jar() -> str | None:
    if os.environ.get("WIREMOCK_JAR"):
        return os.environ["WIREMOCK_JAR"]
    found = glob.glob("/tmp/wiremock/node_modules/wiremock/build/wiremock-standalone-*.jar")
    return found[0] if found else None


def run_wiremock(jar: str, path: str, body: bytes, seconds: int, workdir: str) -> dict:
    os.makedirs(os.path.join(workdir, "mappings"), exist_ok=True)
    with open(os.path.join(workdir, "mappings", "report.json"), "w") as fh:
        json.dump({"request": {"method": "GET", "urlPath": path},
                   "response": {"status": 200, "body": body.decode(), "headers": {"Content-Type": "application/json"}}}, fh)
    port = free_port()
    proc = subprocess.Popen(["java", "-jar", jar, "--port", str(port), "--root-dir", workdir, "--disable-banner",
                             "--no-request-journal"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}{path}"
        wait_ready(url, proc)
        wrk(url, 5, auth=False)  # the JVM needs a warm-up more than anyone
        return wrk(url, seconds, auth=False)
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--engines", default="waitress,gunicorn-gthread,gunicorn-sync,granian")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk (Debian package `wrk`)")
    workdir = tempfile.mkdtemp(prefix="bench-engines-")
    scenario = os.path.join(workdir, "bench.json")
    write_scenario(scenario)
    env = {**os.environ, "BENCH_SCENARIO": scenario, "PYTHONPATH": os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")])}

    # The event whose report is closest to 20 rows, and its exact bytes (for the static stub).
    port = free_port()
    proc = start_engine("waitress", 1, port, env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/_emulator/health", proc)
        from throughput import pick_event

        event_id, rows = pick_event(base, AUTH)
        path = f"/api/v1/events/{event_id}/reports/exercises"
        with urllib.request.urlopen(urllib.request.Request(base + path, headers={"Authorization": AUTH})) as r:
            body = r.read()
    finally:
        stop(proc)
    print(f"GET {path}: {rows} rows, {len(body)} bytes; wrk -t1 -c16 -d{args.seconds}s; {os.cpu_count()} cores")

    results = []
    for engine in args.engines.split(","):
        for workers in (1, 2):
            port = free_port()
            proc = start_engine(engine, workers, port, env)
            try:
                url = f"http://127.0.0.1:{port}{path}"
                wait_ready(url, proc, {"Authorization": AUTH})
                wrk(url, 3)  # warm-up: every worker has started and served
                result = wrk(url, args.seconds)
            finally:
                stop(proc)
            results.append((engine, workers, result))
            print(f"  {engine:18} workers={workers}: {result['rps']:8.0f} req/s  latency {result['latency']:>8}"
                  f"  non-2xx {result['non2xx']} {result['socket_errors']}", flush=True)
    jar = wiremock_jar()
    if jar and shutil.which("java"):
        result = run_wiremock(jar, path, body, args.seconds, workdir)
        results.append(("wiremock-static", 1, result))
        print(f"  {'wiremock static':18}          : {result['rps']:8.0f} req/s  latency {result['latency']:>8}", flush=True)
        for engine, workers, r in results[:-1]:
            print(f"  {engine:18} workers={workers}: {r['rps'] / result['rps']:.2f}x WireMock")
    else:
        print("  WireMock: no jar found (set WIREMOCK_JAR, or npm install wiremock@3 in /tmp/wiremock)")


if __name__ == "__main__":
    main()
