"""Bounded memory at any scale (issue 17): each vendor's largest answer at --scale 1, 100, 1000.

For each scale and each vendor, a fresh `report-emulator serve` process (manual clock, fixed seed) answers
one request, the vendor's largest answer, and the script prints: the server's peak RSS (VmHWM from
/proc, start-up included), the time to the first byte of the body, the total time and the bytes. Also,
per scale: the start-up time (start to the first 200) and the first `GET /_emulator/world`, first for
Strigo, Falkor and ParkUp alone (`?vendor=`), then whole; and whole as the first call of a fresh server.

The largest answers:
- Falkor: `POST /v1/logs/pathway-logs` for the pathway with the most users (chosen among the first six
  at scale 1; their IDs are the same at every scale, and each holds --scale times the users).
- Strigo: `POST /api/v1/events/<event>/reports/user-activity` over the whole history of the first event
  (Strigo's reports are per event or course, whose size --scale does not change).
- ParkUp: `POST /api/v3/business/report/event/user` for the first user over the widest window.
- Echo360: a 1-day `videoview` report (gzip CSV): submitted, the clock advanced, the signed file downloaded.
  Its rows grow with --scale.

    python bench/memory.py [--scales 1,100,1000] [--vendors falkor,strigo,parkup,echo360] [--baseline DIR]
           [--timeout 600]

--baseline DIR runs the same against another source tree (`git archive REV emulator | tar -x -C DIR`),
side by side. A request that takes longer than --timeout seconds is reported as such.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import urllib.request
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import start_server, stop_server  # noqa: E402

NOW = "2026-01-15T00:00:00Z"
SEED = "1"


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def call(base: str, method: str, path: str, body=None, headers=None, timeout: float = 600):
    """(status, seconds to the first body byte, total seconds, bytes, body if small)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    head = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
    started = time.perf_counter()
    conn.request(method, path, body=data, headers=head)
    response = conn.getresponse()
    first = response.read(1)
    ttfb = time.perf_counter() - started
    size, kept = len(first), [first]
    while True:
        chunk = response.read(256 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size < 4 * 1024 * 1024:
            kept.append(chunk)
    total = time.perf_counter() - started
    conn.close()
    return response.status, ttfb, total, size, b"".join(kept) if size < 4 * 1024 * 1024 else None


def get_json(base: str, path: str, method: str = "GET", body=None, headers=None):
    status, _, _, _, data = call(base, method, path, body, headers)
    return json.loads(data)


def falkor(base: str, creds: dict, pick: dict):
    return call(base, "POST", "/v1/logs/pathway-logs", {"pathway": pick["falkor"]},
                {"Authorization": f"Basic {creds['falkor']['token']}"})


def strigo(base: str, creds: dict, pick: dict):
    auth = {"Authorization": f"Bearer {creds['strigo']['org_id']}:{creds['strigo']['api_key']}", "Accept": "application/json"}
    return call(base, "POST", f"/api/v1/events/{pick['strigo']}/reports/user-activity",
                {"from": "2025-01-16T00:00:00Z", "to": NOW}, auth)


def parkup(base: str, creds: dict, pick: dict):
    users = get_json(base, "/_emulator/world?vendor=parkup&limit=1")["parkup"]["users"]
    body = {"refId": users[0]["refId"], "customerId": users[0]["customerId"],
            "from": "2025-01-16T00:00:00.000Z", "until": "2026-01-14T23:59:59.000Z"}
    return call(base, "POST", "/api/v3/business/report/event/user", body,
                {"Authorization": f"Bearer {creds['parkup']['token']}"})


def echo360(base: str, creds: dict, pick: dict):
    e = creds["echo360"]
    token = get_json(base, f"/oauth2/access_token?grant_type=client_credentials&client_id={e['client_id']}"
                           f"&client_secret={e['client_secret']}", "POST")["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    api = "/public/api/v1/reporting"
    submitted = get_json(base, f"{api}/requests/videoview", "POST",
                         {"parameters": {"start": "2026-01-13", "end": "2026-01-14"}}, auth)
    get_json(base, "/_emulator/clock/advance", "POST", {"seconds": 120})
    for _ in range(6000):  # the file is written in the background
        detail = get_json(base, f"{api}/requests/{submitted['requestId']}", headers=auth)
        if detail.get("status") == "Available":
            break
        time.sleep(0.1)
    link = urlsplit(detail["signedAssets"][0])
    return call(base, "GET", f"{link.path}?{link.query}")


VENDORS = {"falkor": falkor, "strigo": strigo, "parkup": parkup, "echo360": echo360}


def pick_requests(source: str | None) -> dict:
    """The request each vendor's largest answer comes from, found at scale 1."""
    proc, base, _ = serve(1, source)
    try:
        world = get_json(base, "/_emulator/world?vendor=falkor,strigo")
        creds = get_json(base, "/_emulator/credentials")
        sizes = [(falkor(base, creds, {"falkor": p["ID"]})[3], p["ID"]) for p in world["falkor"]["pathways"][:6]]
        return {"falkor": max(sizes)[1], "strigo": world["strigo"]["events"][0]["id"]}
    finally:
        stop_server(proc)


def serve(scale: int, source: str | None):
    env = {"PYTHONPATH": source} if source else None
    return start_server("--scale", str(scale), "--seed", SEED, "--clock", "manual", "--now", NOW, env=env)


def measure(scale: int, vendors: list[str], source: str | None, pick: dict, label: str) -> list[dict]:
    rows = []
    proc, base, startup = serve(scale, source)
    try:
        # First without Echo360, then the whole world.
        for path in ("/_emulator/world?vendor=strigo,falkor,parkup", "/_emulator/world"):
            started = time.perf_counter()
            status, _, _, size, _ = call(base, "GET", path)
            rows.append({"tree": label, "scale": scale, "what": "GET " + path.replace("vendor=", ""), "status": status,
                         "seconds": time.perf_counter() - started, "bytes": size, "startup": startup,
                         "rss_mb": peak_rss_mb(proc.pid)})
    finally:
        stop_server(proc)
    proc, base, startup = serve(scale, source)
    try:  # the whole world as the first call of a fresh server
        started = time.perf_counter()
        status, _, _, size, _ = call(base, "GET", "/_emulator/world")
        rows.append({"tree": label, "scale": scale, "what": "GET /_emulator/world, first call", "status": status,
                     "seconds": time.perf_counter() - started, "bytes": size, "startup": startup,
                     "rss_mb": peak_rss_mb(proc.pid)})
    finally:
        stop_server(proc)
    worlds = rows[:]
    for vendor in vendors:
        proc, base, _ = serve(scale, source)
        try:
            creds = get_json(base, "/_emulator/credentials")
            try:
                status, ttfb, total, size, _ = VENDORS[vendor](base, creds, pick)
            except OSError as exc:  # a timeout
                status, ttfb, total, size = f"failed: {exc!r}", float("nan"), float("nan"), 0
            rows.append({"tree": label, "scale": scale, "what": vendor, "status": status, "ttfb": ttfb,
                         "seconds": total, "bytes": size, "rss_mb": peak_rss_mb(proc.pid)})
        finally:
            stop_server(proc)
        print_row(rows[-1])
    for row in worlds:
        print_row(row)
    return rows


def print_row(row: dict) -> None:
    if row["what"].startswith("GET"):
        print(f"{row['tree']:>9} scale {row['scale']:>5}  {row['what']:<44} {row['status']}  {row['seconds']:8.2f} s  "
              f"{row['bytes'] / 1e6:9.2f} MB  start-up {row['startup']:.2f} s  peak RSS {row['rss_mb']:7.0f} MB", flush=True)
    else:
        print(f"{row['tree']:>9} scale {row['scale']:>5}  {row['what']:<22} {row['status']}  first byte {row['ttfb']:7.3f} s  "
              f"total {row['seconds']:8.2f} s  {row['bytes'] / 1e6:9.2f} MB  peak RSS {row['rss_mb']:7.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,100,1000")
    parser.add_argument("--vendors", default="falkor,strigo,parkup,echo360")
    parser.add_argument("--baseline", action="append", default=[], help="another source tree, side by side")
    args = parser.parse_args()
    vendors = [v for v in args.vendors.split(",") if v]
    with open("/proc/loadavg") as fh:
        print("load average:", " ".join(fh.read().split()[:3]))
    trees = [(None, "this")] + [(path, os.path.basename(path.rstrip("/")) or path) for path in args.baseline]
    picks = {label: pick_requests(source) for source, label in trees}
    print("requests:", json.dumps(picks))
    for scale in (int(s) for s in args.scales.split(",")):
        for source, label in trees:
            measure(scale, vendors, source, picks[label], label)


if __name__ == "__main__":
    main()
