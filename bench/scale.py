"""Scale-out, side by side in one run (issue 10): `serve --workers N` on a shared store against WireMock.

1. `wrk -t1 -c16` on the Strigo event exercises report (the event closest to 20 rows, as
   bench/throughput.py picks it) against: WireMock serving the same bytes as a static stub; `serve`
   with one process on `memory`; 1 and 2 workers on `sqlite:` (a file in a temporary folder); 1 and
   2 workers on `redis://` (a Debian `redis-server` this script starts on a free port, no persistence).
   Every server runs a scenario that lifts Strigo's rate limit (else most calls would be 429s) and a
   fixed manual clock, so every one serves byte for byte the same report (checked). The load average is
   printed with every run: the figures mean little on a busy machine.
2. Store cost per request: in-process (Flask's test client), every store method of the app's store
   wrapped with a counter and a timer, for each backend; for redis also the commands the server counted.
3. Where one request's time goes: cProfile over test-client requests on `memory`, self time grouped.

    python bench/scale.py [--seconds 10] [--requests 2000] [--skip-wrk] [--skip-inprocess] [--baseline DIR ...]
                          [--rounds N] [--pin]

--pin adds `serve --pin-cpus` rows: one process on memory, and --workers 2 on sqlite: and redis://.

--rounds N runs every server N times, interleaved (WireMock first in each round), and reports the median
req/s and the median of each round's ratio to that round's WireMock: on a shared machine the speed drifts.

--baseline DIR adds one process on memory and `--workers 2` on `sqlite:` and `redis://` from another source
tree (an older revision, extracted with `git archive REV emulator | tar -x -C DIR`), to compare across revisions.

Needs wrk, redis-server, and for WireMock a JVM and the jar (see bench/README.md, bench/engines.py).
"""
from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from _common import free_port, usage  # noqa: E402
from engines import run_wiremock, stop, wait_ready, wiremock_jar, wrk  # noqa: E402
from store_ops import start_redis  # noqa: E402
from throughput import pick_event  # noqa: E402

AUTH = "Bearer bench:bench"
# What a client that follows Strigo's document sends (without Accept, every call is also a recorded
# contract violation: one more store append).
HEADERS = {"Authorization": AUTH, "Accept": "application/json"}
NOW = "2026-01-15T00:00:00Z"  # one fixed clock: every server serves the same bytes
SCENARIO = {"name": "bench", "strigo": {"rate_limit": 100_000_000}}
CREDENTIALS = ["--credential", "strigo.org_id=bench", "--credential", "strigo.api_key=bench"]


def load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def put_scenario(base: str) -> None:
    request = urllib.request.Request(f"{base}/_emulator/scenario", data=json.dumps(SCENARIO).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        response.read()


def get(url: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=HEADERS)) as response:
        return response.read()




def start_serve(state: str, workers: int, source: str | None = None, *extra: str) -> tuple[subprocess.Popen, str]:
    """`serve` from this checkout, or from another source tree (source); extra: more flags."""
    port = free_port()
    command = [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--state", state, "--workers", str(workers),
               *extra]
    env = {**os.environ, "PYTHONPATH": source} if source else None
    proc = subprocess.Popen([*command, "--clock", "manual", "--now", NOW, *CREDENTIALS], cwd=source or None, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/_emulator/health", proc)
    put_scenario(base)
    return proc, base


def redis_db(url: str, number: int) -> str:
    """The same server, another database: each configuration starts on an empty one."""
    return f"{url.rsplit('/', 1)[0]}/{number}"


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def reference_report() -> tuple[str, int, bytes]:
    """(path, rows, body) of the report every server serves: the Strigo event exercises report of the
    event closest to 20 rows, as `serve` on `memory` answers it."""
    proc, base = start_serve("memory", 1)
    try:
        event_id, rows = pick_event(base, AUTH)
        path = f"/api/v1/events/{event_id}/reports/exercises"
        return path, rows, get(base + path)
    finally:
        stop(proc)


def wrk_part(seconds: int, folder: str, redis_url: str, baselines: list[str], rounds: int = 1, pin: bool = False) -> None:
    path, rows, body = reference_report()
    digest = hashlib.sha256(body).hexdigest()[:12]
    print(f"GET {path}: {rows} rows, {len(body)} bytes (sha256 {digest}); wrk -t1 -c16 -d{seconds}s; "
          f"{os.cpu_count()} cores")
    jar = wiremock_jar()
    if not (jar and shutil.which("java")):
        print("  WireMock: no jar found (set WIREMOCK_JAR, or npm install wiremock@3 in /tmp/wiremock)")
    configs = [("memory", 1, "memory"), ("sqlite", 1, f"sqlite:{folder}/w1.db"),
               ("sqlite", 2, f"sqlite:{folder}/w2.db"), ("redis", 1, redis_db(redis_url, 1)),
               ("redis", 2, redis_db(redis_url, 2))]
    # Each baseline next to the rows it compares with: one process on memory, 2 workers on sqlite: and redis://.
    configs = [(name, workers, state, None) for name, workers, state in configs]
    if pin:  # --pin: the same with serve --pin-cpus, each next to the row it compares with
        configs.insert(1, ("memory --pin-cpus", 1, "memory", None))
        configs.insert(4, ("sqlite --pin-cpus", 2, f"sqlite:{folder}/p2.db", None))
        configs.append(("redis --pin-cpus", 2, redis_db(redis_url, 8), None))
    for n, b in enumerate(baselines):
        configs.insert(1 + n, (f"baseline {b} memory workers=1", 1, "memory", b))
        configs.append((f"baseline {b} sqlite workers=2", 2, f"sqlite:{folder}/b{n}.db", b))
        configs.append((f"baseline {b} redis workers=2", 2, redis_db(redis_url, 3 + n), b))
    rounds_results: list[list[tuple[str, dict, str]]] = []
    for round_number in range(rounds):
        if rounds > 1:
            print(f"round {round_number + 1} of {rounds}")
        results = []
        if jar and shutil.which("java"):
            before = load()
            result = run_wiremock(jar, path, body, seconds, os.path.join(folder, f"wiremock{round_number}"))
            results.append(("wiremock static stub", result, before))
            print(f"  {'wiremock static stub':34}: {result['rps']:7.0f} req/s  latency {result['latency']:>8}"
                  f"  non-2xx {result['non2xx']}  load {before}", flush=True)
        for name, workers, state, source in configs:
            if state.startswith("sqlite:"):
                state = f"{state[:-3]}-{round_number}.db"  # a fresh file every round
            if state.startswith("redis"):
                flush_redis(state)
            pinned = name.endswith("--pin-cpus")
            proc, base = start_serve(state, workers, source, *(["--pin-cpus"] if pinned else []))
            try:
                same = get(base + path) == body
                url = base + path
                wrk(url, 3)  # warm-up: every worker has started and served
                before = load()
                used = usage(proc.pid)
                result = wrk(url, seconds)
                used = [b - a for a, b in zip(used, usage(proc.pid))]
            finally:
                stop(proc)
            calls = max(1.0, result["rps"] * seconds)
            result["cpu_us"] = (used[0] + used[1]) / calls * 1e6  # every process of the server, every thread
            result["switches"] = used[2] / calls
            label = name if name.startswith("baseline") else f"serve {name} workers={workers}"
            results.append((label, result, before))
            print(f"  {label:34}: {result['rps']:7.0f} req/s  latency {result['latency']:>8}  non-2xx {result['non2xx']}"
                  f"  CPU {result['cpu_us']:,.0f} us/req  {result['switches']:.1f} thread switches/req"
                  f"  same bytes {'yes' if same else 'NO'}  load {before} {result['socket_errors']}", flush=True)
        rounds_results.append(results)
    print()
    if rounds == 1:
        results = rounds_results[0]
        reference = results[0][1]["rps"] if results and results[0][0].startswith("wiremock") else None
        print("| server | req/s | vs WireMock | mean latency | non-2xx | load average before |")
        print("|---|---:|---:|---:|---:|---|")
        for label, result, before in results:
            ratio = f"{result['rps'] / reference:.2f}x" if reference else "-"
            print(f"| {label} | {result['rps']:,.0f} | {ratio} | {result['latency']} | {result['non2xx']} | {before} |")
    else:
        # Each server against the WireMock run of its own round, then the median over the rounds: the
        # machine's speed drifts between rounds, a ratio within one round much less.
        print(f"| server | req/s, median of {rounds} rounds | vs WireMock, median of the rounds' ratios | ratios by round | "
              "CPU per request, median | thread switches per request, median | non-2xx |")
        print("|---|---:|---:|---|---:|---:|---:|")
        for i, (label, _, _) in enumerate(rounds_results[0]):
            rps = [r[i][1]["rps"] for r in rounds_results]
            ratios = [r[i][1]["rps"] / r[0][1]["rps"] for r in rounds_results if r[0][0].startswith("wiremock")]
            shown = " / ".join(f"{x:.2f}" for x in ratios) or "-"
            median_ratio = f"{statistics.median(ratios):.2f}x" if ratios else "-"
            cpu = [r[i][1]["cpu_us"] for r in rounds_results if "cpu_us" in r[i][1]]
            switches = [r[i][1]["switches"] for r in rounds_results if "switches" in r[i][1]]
            cpu_shown = f"{statistics.median(cpu):,.0f} us" if cpu else "-"
            switches_shown = f"{statistics.median(switches):.1f}" if switches else "-"
            print(f"| {label} | {statistics.median(rps):,.0f} | {median_ratio} | {shown} | {cpu_shown} | {switches_shown} | "
                  f"{sum(r[i][1]['non2xx'] for r in rounds_results)} |")
    by = {label: statistics.median(r[i][1]["rps"] for r in rounds_results)
          for i, (label, _, _) in enumerate(rounds_results[0])}
    for name in ("sqlite", "redis"):
        one, two = by.get(f"serve {name} workers=1"), by.get(f"serve {name} workers=2")
        if one and two:
            print(f"  {name}: 1 -> 2 workers {two / one:.2f}x")
    print()


# --- in-process: store round trips and the profile --------------------------------------------------

STORE_METHODS = ["get", "get_many", "put", "put_if_absent", "delete", "update", "incr", "window_hit", "map_get",
                 "map_put", "map_take", "map_delete", "map_all", "log_append", "log_items", "log_clear"]


def make_client(state: str, scenario_path: str):
    from emulator.app import create_app
    from emulator.settings import Settings

    settings = Settings(host="127.0.0.1", port=0, scenarios=[scenario_path], state=state, clock="manual",
                        now=datetime.fromisoformat(NOW.replace("Z", "+00:00")),
                        credentials={"strigo": {"org_id": "bench", "api_key": "bench"}})
    app = create_app(settings)
    return app, app.test_client()


def wrap_store(store) -> dict:
    """Count and time every store method on this instance (each call is one round trip, except redis's
    optimistic `update`, which is WATCH/GET/MULTI...EXEC and may retry)."""
    stats = {}
    for name in STORE_METHODS:
        original = getattr(store, name)

        def timed(*args, _original=original, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                entry = stats.setdefault(_name, [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - started

        setattr(store, name, timed)
    return stats


def loopback_rtt_us(redis_url: str, n: int = 2000) -> float:
    """A raw PING to the redis-server and its answer, no client library: what the network alone costs."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(redis_url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        for _ in range(n):
            sock.sendall(b"PING\r\n")
            sock.recv(64)
        return (time.perf_counter() - started) / n * 1e6


def store_part(requests: int, folder: str, redis_url: str, scenario_path: str, path: str) -> None:
    print(f"store cost per Strigo report request, in-process (Flask test client), {requests} requests per backend")
    print("| backend | store calls per request | by method (calls per request, us each) | us in the store per request"
          " | us per request in all |")
    print("|---|---:|---|---:|---:|")
    for backend, state in [("memory", "memory"), ("sqlite", f"sqlite:{folder}/inproc.db"),
                           ("redis", redis_db(redis_url, 3))]:
        if backend == "redis":
            flush_redis(state)
        app, client = make_client(state, scenario_path)
        store = app.extensions["emulator"].store
        for _ in range(200):  # warm-up: the world, the contract's schemas, the snapshot
            assert client.get(path, headers=HEADERS).status_code == 200
        stats = wrap_store(store)
        redis_client = None
        if backend == "redis":
            import redis

            redis_client = redis.Redis.from_url(state)
            redis_client.config_resetstat()
        started = time.perf_counter()
        for _ in range(requests):
            response = client.get(path, headers=HEADERS)
            assert response.status_code == 200, response.status_code
        elapsed = time.perf_counter() - started
        calls = sum(c for c, _ in stats.values())
        spent = sum(t for _, t in stats.values())
        by_method = ", ".join(f"{name} {c / requests:g} x {t / c * 1e6:.0f}" for name, (c, t) in sorted(stats.items()))
        print(f"| {backend} | {calls / requests:g} | {by_method} | {spent / requests * 1e6:.0f} | "
              f"{elapsed / requests * 1e6:.0f} |")
        if redis_client is not None:
            commands = {k.removeprefix("cmdstat_"): v["calls"] for k, v in redis_client.info("commandstats").items()}
            commands.pop("config|resetstat", None)
            commands.pop("info", None)
            print(f"|   redis-server counted | {sum(commands.values()) / requests:g} commands per request "
                  "(commands inside a script counted too) | "
                  + ", ".join(f"{k} {v / requests:g}" for k, v in sorted(commands.items())) + " | | |")
            redis_client.close()
        store.close()
    print(f"a raw PING round trip to redis-server over 127.0.0.1 (no client library): {loopback_rtt_us(redis_url):.0f} us")
    print()


GROUPS = ["Flask/Werkzeug (routing, request, response, hooks)", "contract check",
          "scenario, faults, journal, rate limit, clock, store", "the view and serialisation",
          "test client (not part of serving)", "other"]


def classify(filename: str) -> str | None:
    f = filename.replace("\\", "/")
    if "/werkzeug/test.py" in f or "/flask/testing.py" in f or f.endswith("bench/scale.py"):
        return GROUPS[4]
    if "/flask/json/" in f:
        return GROUPS[3]
    if any(p in f for p in ("/flask/", "/werkzeug/", "/blinker/", "/itsdangerous/", "/markupsafe/")):
        return GROUPS[0]
    if f.endswith(("core/contract.py", "core/openapi.py", "/contract.py")) and "/emulator/" in f:
        return GROUPS[1]
    if "/marshmallow/" in f:
        return GROUPS[1]
    if "/emulator/core/store/" in f or any(f.endswith(f"/emulator/{m}") for m in (
            "core/faults.py", "core/scenarios.py", "core/journal.py", "core/ratelimit.py", "core/limits.py",
            "core/registry.py", "core/clock.py", "core/scheduler.py", "core/jobs.py", "app.py", "request_log.py",
            "settings.py")):
        return GROUPS[2]
    if "/emulator/" in f:
        return GROUPS[3]
    return None  # builtins and the standard library: charged to whoever called them


def profile_part(requests: int, scenario_path: str, path: str) -> None:
    app, client = make_client("memory", scenario_path)
    for _ in range(200):
        client.get(path, headers=HEADERS)
    started = time.perf_counter()
    for _ in range(requests):
        client.get(path, headers=HEADERS)
    plain = (time.perf_counter() - started) / requests
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(path, headers=HEADERS)
    profiler.disable()
    raw = pstats.Stats(profiler).stats  # func -> (cc, nc, tottime, cumtime, callers)
    memo: dict = {}

    def shares(func, depth=0) -> dict[str, float]:
        """How func's self time splits between groups: its own file's group, or its callers'."""
        if func in memo:
            return memo[func]
        group = classify(func[0])
        if group is not None:
            result = {group: 1.0}
        elif depth > 30:
            result = {GROUPS[5]: 1.0}
        else:
            memo[func] = {GROUPS[5]: 1.0}  # a cycle: other
            callers = raw[func][4]
            total = sum(v[2] for v in callers.values()) or sum(v[1] for v in callers.values())
            result = {}
            if not callers or not total:
                result = {GROUPS[5]: 1.0}
            else:
                for caller, v in callers.items():
                    weight = (v[2] if sum(x[2] for x in callers.values()) else v[1]) / total
                    for g, s in shares(caller, depth + 1).items():
                        result[g] = result.get(g, 0.0) + weight * s
        memo[func] = result
        return result

    totals = {g: 0.0 for g in GROUPS}
    for func, (cc, nc, tt, ct, callers) in raw.items():
        for g, s in shares(func).items():
            totals[g] += tt * s
    profiled = sum(totals.values())
    print(f"where one request's time goes: cProfile, {requests} test-client requests on memory; "
          f"{plain * 1e6:.0f} us per request unprofiled, {profiled / requests * 1e6:.0f} us profiled "
          f"(self time; builtins and the standard library charged to their callers)")
    print("| part | us per request (profiled) | share of serving |")
    print("|---|---:|---:|")
    serving = profiled - totals[GROUPS[4]]
    for g in GROUPS:
        share = "-" if g == GROUPS[4] else f"{totals[g] / serving:.0%}"
        print(f"| {g} | {totals[g] / requests * 1e6:.0f} | {share} |")
    print()
    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    print("top self time: " + "; ".join(f"{os.path.basename(f[0])}:{f[2]} {v[2] / requests * 1e6:.0f} us"
                                        for f, v in top))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--requests", type=int, default=2000, help="test-client requests (store cost, profile)")
    parser.add_argument("--skip-wrk", action="store_true")
    parser.add_argument("--baseline", action="append", default=[], metavar="DIR",
                        help="also one process on memory from another source tree, e.g. an older revision: "
                             "git archive REV emulator | tar -x -C DIR (repeatable)")
    parser.add_argument("--skip-inprocess", action="store_true")
    parser.add_argument("--pin", action="store_true", help="also one process and --workers 2 with --pin-cpus")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every server (WireMock included) this many times, interleaved; report medians")
    args = parser.parse_args()
    if not args.skip_wrk and not shutil.which("wrk"):
        raise SystemExit("needs wrk (Debian package `wrk`)")
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load average {load()}")
    folder = tempfile.mkdtemp(prefix="bench-scale-")
    redis_proc, redis_url = start_redis(folder)
    try:
        if not args.skip_wrk:
            wrk_part(args.seconds, folder, redis_url, [os.path.abspath(b) for b in args.baseline], args.rounds, args.pin)
        if not args.skip_inprocess:
            scenario_path = os.path.join(folder, "bench.json")
            with open(scenario_path, "w") as fh:
                json.dump(SCENARIO, fh)
            # The same event as the wrk part: pick it on a short-lived in-process app.
            from emulator.app import create_app  # noqa: F401  (imported once, outside the timings)

            app, client = make_client("memory", scenario_path)
            best = None
            for event in client.get("/_emulator/world").get_json()["strigo"]["events"]:
                body = client.get(f"/api/v1/events/{event['id']}/reports/exercises",
                                  headers=HEADERS).get_json()
                rows = len(body["data"] if isinstance(body, dict) else body)
                if best is None or abs(rows - 20) < abs(best[1] - 20):
                    best = (event["id"], rows)
            path = f"/api/v1/events/{best[0]}/reports/exercises"
            print(f"in-process: GET {path} ({best[1]} rows); load average {load()}")
            store_part(args.requests // 4, folder, redis_url, scenario_path, path)
            profile_part(args.requests, scenario_path, path)
    finally:
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
