"""Helpers shared by the benchmarks: free ports, starting a server process, waiting for it."""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str, float]:
    """Start `report-emulator serve` and return (process, base URL, seconds to the first 200)."""
    port = free_port()
    script = os.path.join(os.path.dirname(sys.executable), "report-emulator")
    started = time.perf_counter()
    proc = subprocess.Popen([script, "serve", "--port", str(port), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_emulator/health", timeout=1) as response:
                if response.status == 200:
                    return proc, url, time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None:
                raise SystemExit("server exited during start-up")
            time.sleep(0.005)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


def summary(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    values = sorted(v * scale for v in values)
    p90 = values[int(len(values) * 0.9) - 1] if len(values) >= 10 else values[-1]
    return f"median {statistics.median(values):.3f} {unit}, min {values[0]:.3f}, p90 {p90:.3f} (n={len(values)})"


def usage(pid: int) -> tuple[float, float, int]:
    """(user CPU seconds, system CPU seconds, context switches) of a process, its threads and its child
    processes (a `serve --workers N`'s workers), so far; from /proc (Linux)."""
    user = system = 0.0
    switches = 0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pids += [int(child) for child in fh.read().split()]
    except OSError:
        pass
    for each in pids:
        try:
            with open(f"/proc/{each}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            user += int(fields[11]) / tick
            system += int(fields[12]) / tick
            for task in os.listdir(f"/proc/{each}/task"):
                with open(f"/proc/{each}/task/{task}/status") as fh:
                    switches += sum(int(line.split()[1]) for line in fh if "ctxt_switches" in line)
        except OSError:  # gone meanwhile
            continue
    return user, system, switches
