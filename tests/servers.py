"""`python -m emulator serve ...` in a subprocess on a free port, for tests that need a real process
(restarts, kill -9, replicas on one store). Imported by test modules as `from servers import ...`."""
from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The two ways a test runs `serve` when a behaviour must hold in every mode.
MODES = ["one-process", "workers-2"]


def serve_in_mode(mode: str, folder, *args: str) -> "EmulatorProcess":
    """`serve *args` as one process on `memory`, or (`workers-2`) as two workers on an SQLite store in folder."""
    if mode == "workers-2":
        args = (*args, "--workers", "2", "--state", f"sqlite:{folder}/state.db")
    return EmulatorProcess(*args)


class EmulatorProcess:
    """Started on a free port; ready once /_emulator/health answers (workers may still be starting)."""

    def __init__(self, *args: str, seconds: float = 30):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", str(self.port), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The output is read as it comes (a server that logs a lot must never block on a full pipe):
        # readline() hands the lines out in order, output() the rest once the server has stopped.
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + seconds
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.output()}")
            try:
                requests.get(f"{self.url}/_emulator/health", timeout=2)
                return
            except requests.RequestException:  # not listening yet, or workers still starting
                if time.monotonic() > deadline:
                    raise AssertionError("server never answered") from None
                time.sleep(0.05)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # the end

    def readline(self, timeout: float = 30) -> str:
        """The next line of output ("" once the server has exited and everything was read)."""
        line = self._lines.get(timeout=timeout)
        if line == "":
            self._lines.put("")  # stays at the end
        return line

    def output(self) -> str:
        """The output not read yet, once the server has exited (it is stopped first)."""
        self.stop()
        self._reader.join(timeout=10)
        lines = []
        while (line := self.readline(timeout=1)) != "":
            lines.append(line)
        return "".join(lines)

    def banner(self) -> str:
        """The start-up banner, up to its `state:` line."""
        lines: list[str] = []
        while not lines or "state:" not in lines[-1]:
            lines.append(self.readline())
            assert lines[-1], "".join(lines)
        return "".join(lines)

    def worker_pids(self, count: int, seconds: float = 30) -> list[int]:
        """The process ids of `serve --workers N`'s workers (Linux: from /proc), once `count` are running."""
        deadline = time.monotonic() + seconds
        while True:
            found = []
            for task in os.listdir(f"/proc/{self.proc.pid}/task"):
                with open(f"/proc/{self.proc.pid}/task/{task}/children") as fh:
                    found += [int(pid) for pid in fh.read().split()]
            workers = []
            for pid in found:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        if b"spawn_main" in fh.read():
                            workers.append(pid)
                except OSError:  # gone meanwhile
                    pass
            if len(workers) >= count or time.monotonic() > deadline:
                return workers
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9: no exit handler runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
