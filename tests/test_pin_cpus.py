"""`serve --pin-cpus`: each process, every thread of it, kept on one of the CPUs the server may use
(worker i on the i-th), read back from Linux's own record of each thread (/proc/PID/task/TID/status)."""
from __future__ import annotations

import os
import sys
import time

import pytest
import requests
from servers import EmulatorProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU affinity is read from /proc")
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def cpus_of(pid: int) -> set[str]:
    """Each thread's allowed CPUs (as Linux lists them, "0" or "0-1"), as a set over the process's threads."""
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as fh:
                found |= {line.split()[1] for line in fh if line.startswith("Cpus_allowed_list:")}
        except OSError:  # a thread that ended meanwhile
            pass
    return found


def everything() -> set[str]:
    with open("/proc/self/status") as fh:
        return {line.split()[1] for line in fh if line.startswith("Cpus_allowed_list:")}


def test_one_process_is_kept_on_the_first_cpu_it_may_use():
    server = EmulatorProcess("--pin-cpus")
    try:
        assert "each kept on one CPU" in server.banner()
        assert requests.get(f"{server.url}/_emulator/health").status_code == 200
        assert cpus_of(server.proc.pid) == {str(CPUS[0])}
    finally:
        server.stop()


def test_workers_are_kept_each_on_its_own_cpu_and_serve(tmp_path):
    server = EmulatorProcess("--workers", "2", "--state", f"sqlite:{tmp_path / 'state.db'}", "--pin-cpus")
    try:
        workers = server.worker_pids(2)
        assert len(workers) == 2, workers
        deadline = time.monotonic() + 30  # a worker is pinned first thing, once it has started
        while not all(len(cpus_of(pid)) == 1 and cpus_of(pid) != everything() for pid in workers):
            assert time.monotonic() < deadline, [cpus_of(pid) for pid in workers]
            time.sleep(0.1)
        kept = [cpus_of(pid) for pid in workers]
        assert sorted(kept, key=sorted) == sorted([{str(CPUS[0])}, {str(CPUS[1 % len(CPUS)])}], key=sorted)
        assert cpus_of(server.proc.pid) == everything()  # the main process only watches: it is left alone
        for _ in range(10):
            assert requests.get(f"{server.url}/_emulator/health").status_code == 200
    finally:
        server.stop()


def test_without_the_flag_nothing_is_pinned(tmp_path):
    server = EmulatorProcess("--workers", "2", "--state", f"sqlite:{tmp_path / 'state.db'}")
    try:
        workers = server.worker_pids(2)
        assert len(workers) == 2 and all(cpus_of(pid) == everything() for pid in workers)
    finally:
        server.stop()


def test_the_flag_and_the_variable_set_it(monkeypatch):
    from emulator.__main__ import parse_settings

    assert parse_settings([]).pin_cpus is False
    assert parse_settings(["--pin-cpus"]).pin_cpus is True
    monkeypatch.setenv("EMULATOR_PIN_CPUS", "yes")
    assert parse_settings([]).pin_cpus is True
