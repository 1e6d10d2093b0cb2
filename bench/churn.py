"""Echo360 churn: 3,000 report requests submitted (in batches of 1,000, the most a scenario lets be
Pending at once), then one 15-day clock advance over them.

Measures the advance (the call that moves the clock), listing the requests afterwards (time and
bytes), and the process's memory; then one more advance past the listing time shows how many
requests the store still keeps. In-process through Flask's test client, so it measures the emulator,
not the network. `--compare REV` runs the same script on another revision (a temporary git
worktree) in the same run, for a before/after ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

REPORTING = "/public/api/v1/reporting"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(count: int) -> dict:
    from emulator.app import create_app
    from emulator.settings import Settings, parse_instant

    app = create_app(Settings(clock="manual", now=parse_instant("2026-01-15T00:00:00Z"), seed=1))
    emulator = app.extensions["emulator"]
    emulator.load_scenario({"name": "churn", "echo360": {"processing_seconds": 120, "max_in_flight": 1000, "rate_limit": 1000000}})
    client = app.test_client()
    creds = client.get("/_emulator/credentials").json["echo360"]
    token = client.post("/oauth2/access_token", query_string={"grant_type": "client_credentials", **creds}).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    body = {"parameters": {"start": "2026-01-10", "end": "2026-01-11"}, "output": {"compression": True}}
    rss_start = rss_mb()
    started = time.perf_counter()
    for n in range(count):
        # One day of "confused" events: a small file, so the churn is in the requests, not the rows.
        answer = client.post(f"{REPORTING}/requests/confused", json=body, headers=auth)
        assert answer.status_code == 200, answer.json
        if n % 1000 == 999:  # the in-flight limit is at most 1000: let a batch finish (120 s of clock)
            client.post("/_emulator/clock/advance", json={"seconds": 121})
    submit_s = time.perf_counter() - started
    started = time.perf_counter()
    client.post("/_emulator/clock/advance", json={"seconds": 15 * 86400})
    advance_s = time.perf_counter() - started
    # A new token: the first expired an hour into the advance.
    token = client.post("/oauth2/access_token", query_string={"grant_type": "client_credentials", **creds}).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    listing = client.get(f"{REPORTING}/requests", headers=auth)
    list_s = time.perf_counter() - started
    listed = listing.json["requests"]
    client.post("/_emulator/clock/advance", json={"seconds": 30 * 86400})
    token = client.post("/oauth2/access_token", query_string={"grant_type": "client_credentials", **creds}).json["access_token"]
    later = client.get(f"{REPORTING}/requests", headers={"Authorization": f"Bearer {token}"})
    return {
        "requests": count, "submit_s": round(submit_s, 3), "advance_15d_s": round(advance_s, 4),
        "list_s": round(list_s, 4), "list_kb": round(len(listing.data) / 1024, 1), "listed": len(listed),
        "listed_statuses": sorted({r["status"] for r in listed}), "listed_after_45d": len(later.json["requests"]),
        "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(rss_mb(), 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--compare", metavar="REV", help="also run on this git revision, side by side")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one run, JSON out (for --compare)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(run(args.requests)))
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = [("this tree", root)]
    worktree = None
    if args.compare:
        worktree = tempfile.mkdtemp(prefix="churn-")
        subprocess.run(["git", "-C", root, "worktree", "add", "-q", "--detach", worktree, args.compare], check=True)
        trees.insert(0, (args.compare, worktree))
    try:
        for name, tree in trees:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--json", "--requests", str(args.requests)],
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": tree}, cwd=tree)
            result = json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.strip().splitlines()[-1:]}
            print(f"{name:>10}: {json.dumps(result)}", flush=True)
    finally:
        if worktree:
            subprocess.run(["git", "-C", root, "worktree", "remove", "--force", worktree], check=False)


if __name__ == "__main__":
    main()
