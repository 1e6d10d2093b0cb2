"""The server's own limits through real sockets: bind errors, half-sent and trickling connections, body size."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests

from emulator.app import create_app
from emulator.server import CONNECTION_LIMIT, MAX_BODY_BYTES, ServerThread, bind, serve
from emulator.settings import Settings

PARKUP = "/api/v3/business/report/event/user"


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(port=0))


def test_a_port_in_use_is_an_oserror_from_serve_before_anything_starts(app):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(host="127.0.0.1", port=taken.getsockname()[1])
        ready = []
        with pytest.raises(OSError):
            serve(settings, app, ready.append)
        assert ready == []


def test_an_unknown_host_is_an_oserror():
    with pytest.raises(OSError):
        bind("no-such-host.invalid", 0)


def test_half_sent_connections_beyond_the_old_cap_do_not_block_new_clients(app):
    """1,050 connections each holding half a request (the old cap was 1,000): a new client is still served."""
    server = ServerThread(app).start()
    held = []
    try:
        for _ in range(1050):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n")
            held.append(sock)
        assert CONNECTION_LIMIT > len(held)
        assert requests.get(f"{server.url}/_emulator/health", timeout=10).json() == {"status": "ok"}
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_a_trickling_connection_is_closed(app):
    """One byte at a time, slower than the idle timeout (shrunk here from 20 s to 1 s): the server hangs up."""
    server = ServerThread(app, channel_timeout=1).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            closed = False
            for byte in b"GET /_emulator/health HTTP/1.1\r\n":
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    closed = True
                    break
                time.sleep(2)
                sock.setblocking(False)
                try:
                    closed = sock.recv(1) == b""
                except BlockingIOError:
                    pass
                except OSError:
                    closed = True
                sock.setblocking(True)
                if closed:
                    break
            assert closed
        assert requests.get(f"{server.url}/_emulator/health", timeout=10).status_code == 200
    finally:
        server.stop()


def test_a_body_stalled_midway_is_closed_without_an_answer_and_a_bad_chunk_is_400(app, caplog):
    """The event loop reads a body before the app runs: a client that stops halfway costs no work
    thread, and after the idle timeout (shrunk to 1 s) its connection closes with nothing sent and
    nothing logged as an error. A broken chunked encoding gets 400. The server serves on, with one
    work thread (`threads=1`), while the stalled client waits."""
    server = ServerThread(app, threads=1, channel_timeout=1).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
            stalled.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 100\r\n\r\n{\"from\":" % PARKUP.encode())
            assert requests.get(f"{server.url}/_emulator/health", timeout=10).status_code == 200  # meanwhile
            assert stalled.recv(1024) == b""  # closed, with no answer
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as broken:
            broken.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" % PARKUP.encode())
            assert broken.recv(1024).startswith(b"HTTP/1.1 400 ")
        assert requests.get(f"{server.url}/_emulator/health", timeout=10).status_code == 200
        assert not [r for r in caplog.records if "Traceback" in r.getMessage() or r.exc_info]
    finally:
        server.stop()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


SERVE = """
import sys
from emulator.app import create_app
from emulator.server import serve
from emulator.settings import Settings

settings = Settings(host="127.0.0.1", port=0)
serve(settings, create_app(settings), lambda url: print(url, flush=True))
"""


def send_body(port: int, head: bytes, chunks) -> bytes:
    """Send the head and as much of the body as the server takes, then read its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed without reading the rest
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except OSError:
            pass
        return answer


def test_an_oversized_body_is_refused_without_the_server_growing_by_its_size():
    proc = subprocess.Popen([sys.executable, "-c", SERVE], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        port = int(url.rsplit(":", 1)[1])
        assert requests.get(f"{url}/_emulator/health").status_code == 200
        before = rss_kb(proc.pid)
        megabyte = b"x" * (1024 * 1024)
        declared = send_body(port, b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % (PARKUP.encode(), 100 * len(megabyte)), [megabyte] * 100)
        assert declared.startswith(b"HTTP/1.1 413 ")
        assert b'"message"' in declared or b'"error"' in declared  # ParkUp's own envelope, not a server's plain text
        chunked = send_body(port, b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n" % PARKUP.encode(),
                            [b"%x\r\n%s\r\n" % (len(megabyte), megabyte)] * 100)
        assert chunked.startswith(b"HTTP/1.1 413 ")
        grown_mb = (rss_kb(proc.pid) - before) / 1024
        assert grown_mb < 20, f"the server grew by {grown_mb:.0f} MB for two 100 MB bodies"
        # At any declared size (here 1 TB) the answer is the vendor's own 413 envelope, sent before any of the body.
        over_app = requests.post(f"{url}{PARKUP}", data=b" " * (MAX_BODY_BYTES + 1), headers={"Content-Type": "application/json"})
        assert over_app.status_code == 413
        huge = send_body(port, b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (PARKUP.encode(), 2**40), [])
        assert huge.startswith(b"HTTP/1.1 413 ")
        assert huge.split(b"\r\n\r\n", 1)[1] == over_app.content  # the same envelope
        assert requests.get(f"{url}/_emulator/health").status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
