"""Where one process's time goes, layer by layer, side by side in one run (issue 17's throughput).

The same bytes (the Strigo event exercises report that bench/scale.py picks) served by, in each round:
1. WireMock 3 as a static stub: the reference;
2. `bytes`: the emulator's own server (gevent's WSGI server and the work pool, emulator/server.py) with a
   WSGI app that returns the bytes: the HTTP layer alone;
3. `flask`: the same server with a one-route Flask app that returns the bytes: Flask and Werkzeug added;
4. `serve`: `report-emulator serve`, one process on `memory` (what a user runs);
5. `serve, app in the loop`: the same, with the app run in the event loop instead of a work thread (the
   design not taken, docs/performance.md: a long call would stop every connection of the process);
6. `serve, one core`: `serve` with every thread of the process kept on one core (`taskset -c 0` does the
   same): the event loop and the work thread then pass the GIL on one core, not between two.

`wrk -t1 -c16` for each; the CPU time the server process used over the run (from /proc) gives the CPU per
request. Rounds are interleaved and every ratio is taken against its own round's WireMock run.

    python bench/layers.py [--seconds 6] [--rounds 3]

Needs wrk, and for WireMock a JVM and the jar (see bench/README.md).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _common import free_port, usage  # noqa: E402
from engines import run_wiremock, stop, wait_ready, wiremock_jar, wrk  # noqa: E402
from scale import CREDENTIALS, NOW, get, put_scenario, reference_report  # noqa: E402

KINDS = ["bytes", "flask", "serve", "serve, app in the loop", "serve, one core"]


def run_child(kind: str, port: int, body_file: str) -> None:
    """In a child process: serve one of KINDS on port."""
    sys.path.insert(0, ROOT)
    from emulator import server

    if kind in ("bytes", "flask"):
        with open(body_file, "rb") as fh:
            body = fh.read()
        if kind == "bytes":
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
        else:
            from flask import Flask, Response

            flask_app = Flask("layers")
            flask_app.add_url_rule("/<path:path>", view_func=lambda path: Response(body, content_type="application/json"))
            app = flask_app.wsgi_app
        server.Server(app, server.bind("127.0.0.1", port)).run()
        return
    if kind == "serve, app in the loop":
        # The alternative measured, not offered: every hand-off to the work pool made a plain call.
        server._in_pool = lambda pool, fn, *args: fn(*args)
    if kind == "serve, one core":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from emulator.__main__ import main

    sys.argv = ["report-emulator", "serve", "--port", str(port), "--state", "memory", "--clock", "manual",
                "--now", NOW, *CREDENTIALS]
    main()


def measure(kind: str, path: str, body_file: str, seconds: int) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(port), body_file], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/_emulator/health" if kind.startswith("serve") else base + path, proc)
        if kind.startswith("serve"):
            put_scenario(base)
        with open(body_file, "rb") as fh:
            same = get(base + path) == fh.read()
        wrk(base + path, 2)
        before = usage(proc.pid)
        result = wrk(base + path, seconds)
        after = usage(proc.pid)
    finally:
        stop(proc)
    result["same"] = same
    calls = max(1.0, result["rps"] * seconds)
    result["cpu_us"] = (after[0] + after[1] - before[0] - before[1]) / calls * 1e6
    result["switches"] = (after[2] - before[2]) / calls
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child[0], int(args.child[1]), args.child[2])
        return
    folder = tempfile.mkdtemp(prefix="bench-layers-")
    path, rows, body = reference_report()
    body_file = os.path.join(folder, "body.json")
    with open(body_file, "wb") as fh:
        fh.write(body)
    print(f"GET {path}: {rows} rows, {len(body)} bytes; wrk -t1 -c16 -d{args.seconds}s; {os.cpu_count()} cores")
    jar = wiremock_jar()
    if not (jar and shutil.which("java")):
        raise SystemExit("WireMock: no jar found (set WIREMOCK_JAR, or npm install wiremock@3 in /tmp/wiremock)")
    rounds = []
    for n in range(args.rounds):
        reference = run_wiremock(jar, path, body, args.seconds, os.path.join(folder, f"wiremock{n}"))
        results = {"wiremock": reference}
        print(f"round {n + 1}: wiremock {reference['rps']:,.0f} req/s", flush=True)
        for kind in KINDS:
            results[kind] = measure(kind, path, body_file, args.seconds)
            r = results[kind]
            print(f"  {kind:24} {r['rps']:7,.0f} req/s  {r['rps'] / reference['rps']:.2f}x  {r['cpu_us']:5.0f} us CPU  {r['switches']:4.1f} switches"
                  f"  non-2xx {r['non2xx']}  same bytes {'yes' if r['same'] else 'NO'}", flush=True)
        rounds.append(results)
    print(f"\n| server | req/s, median of {args.rounds} | vs WireMock, median | CPU per request, median | thread switches per request |")
    print("|---|---:|---:|---:|---:|")
    print(f"| WireMock static stub | {statistics.median(r['wiremock']['rps'] for r in rounds):,.0f} | 1.00x | | |")
    for kind in KINDS:
        rps = statistics.median(r[kind]["rps"] for r in rounds)
        ratio = statistics.median(r[kind]["rps"] / r["wiremock"]["rps"] for r in rounds)
        cpu = statistics.median(r[kind]["cpu_us"] for r in rounds)
        switches = statistics.median(r[kind]["switches"] for r in rounds)
        print(f"| {kind} | {rps:,.0f} | {ratio:.2f}x | {cpu:,.0f} us | {switches:.1f} |")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
