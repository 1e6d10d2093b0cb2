"""The pytest fixture's costs: session start, reset, stop (targets 0.3 s / 5 ms / 50 ms).

Measured in a fresh interpreter per run, exactly as the fixture does it: import, create_app, start the
waitress thread, first request; then resets (after a request so there is state to clear); then stop.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import summary

ONE_RUN = r"""
import json, time, urllib.request
t0 = time.perf_counter()
from emulator.pytest_plugin import ReportEmulator
from emulator.app import create_app
from emulator.core.clock import wall_now
from emulator.server import ServerThread
from emulator.settings import Settings
server = ServerThread(create_app(Settings(port=0, clock="manual", now=wall_now().replace(microsecond=0))), "127.0.0.1", 0).start()
handle = ReportEmulator(server)
urllib.request.urlopen(handle.url + "/_emulator/health").read()
start = time.perf_counter() - t0
resets = []
for _ in range(200):
    try:
        urllib.request.urlopen(handle.url + "/api/v1/events/x/reports/exercises").read()
    except Exception:
        pass
    t = time.perf_counter(); handle.reset(); resets.append(time.perf_counter() - t)
t = time.perf_counter(); server.stop(); stop = time.perf_counter() - t
print(json.dumps({"start": start, "resets": resets, "stop": stop}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    starts, resets, stops = [], [], []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", ONE_RUN], capture_output=True, text=True, check=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        starts.append(run["start"])
        resets.extend(run["resets"])
        stops.append(run["stop"])
    print(f"fixture session start: {summary(starts)}")
    print(f"fixture reset:         {summary(resets, 'ms', 1000)}")
    print(f"fixture stop:          {summary(stops, 'ms', 1000)}")


if __name__ == "__main__":
    main()
