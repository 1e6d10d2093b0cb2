"""The pytest fixture's costs: session start, reset, stop (targets 0.3 s / 5 ms / 50 ms).

Session start is measured twice: as pytest times the fixture's setup in a real session (what a user
waits for; pytest has already imported much of the standard library), and in a bare interpreter.

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


PYTEST_FILE = "def test_one(report_emulator):\n    assert report_emulator.url\n"


def pytest_session_setup(runs: int) -> list[float]:
    """The session fixture's setup as pytest itself times it (--durations), in a fresh session each run."""
    import re
    import tempfile
    from pathlib import Path

    times = []
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "test_one.py").write_text(PYTEST_FILE)
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=1",
                                  "--durations-min=0", "test_one.py"], cwd=folder, capture_output=True, text=True).stdout
            found = re.search(r"([0-9.]+)s setup", out)
            if found:
                times.append(float(found.group(1)))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    in_pytest = pytest_session_setup(args.runs)
    if in_pytest:
        print(f"fixture session start inside pytest (its --durations): {summary(in_pytest)}")
    starts, resets, stops = [], [], []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", ONE_RUN], capture_output=True, text=True, check=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        starts.append(run["start"])
        resets.extend(run["resets"])
        stops.append(run["stop"])
    print(f"fixture session start, bare interpreter: {summary(starts)}")
    print(f"fixture reset:         {summary(resets, 'ms', 1000)}")
    print(f"fixture stop:          {summary(stops, 'ms', 1000)}")


if __name__ == "__main__":
    main()
