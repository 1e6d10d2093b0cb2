"""`python -m emulator serve ...` in a subprocess on a free port, for tests that need a real process
(restarts, kill -9, replicas on one store). Imported by test modules as `from servers import ...`."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmulatorProcess:
    """Started on a free port; ready once /_emulator/health answers (workers may still be starting)."""

    def __init__(self, *args: str, seconds: float = 30):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", str(self.port), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + seconds
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.stdout.read()}")
            try:
                requests.get(f"{self.url}/_emulator/health", timeout=2)
                return
            except requests.RequestException:  # not listening yet, or workers still starting
                if time.monotonic() > deadline:
                    raise AssertionError("server never answered") from None
                time.sleep(0.05)

    def banner(self) -> str:
        """The start-up banner, up to its `state:` line."""
        lines: list[str] = []
        while not lines or "state:" not in lines[-1]:
            lines.append(self.proc.stdout.readline())
        return "".join(lines)

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
