"""Serving the app with waitress (a production WSGI server): one process, or N worker processes on one port.

`serve()` is the one entry point. It binds the port first (so a port in use is an `OSError` before
anything starts), then serves it from this process (workers == 1) or from N waitress processes that
share the one listening socket, each building its own app after it starts (store connections are
not fork-safe). The workers are `multiprocessing` processes started with "spawn", watched by this
process: a worker that dies is replaced; SIGTERM or Ctrl-C is passed on to every worker.

Every process drains on SIGTERM: it stops accepting (new connections are refused once every process
has closed the socket), lets requests already in flight finish for up to `DRAIN_SECONDS`, then exits 0.
Waitress reads requests in its event loop and hands only complete ones to its threads, so slow or
half-sent connections cost no thread; `CHANNEL_TIMEOUT` closes a connection with no traffic for that
long, and `CONNECTION_LIMIT` bounds open connections per process.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import multiprocessing.connection
import resource
import signal
import socket
import threading
import time
import warnings
from typing import Callable

from waitress.server import create_server

log = logging.getLogger(__name__)

# Figures, documented in the README's "Server" section.
from .core.limits import MAX_BODY_BYTES  # the app answers a body above 10 MiB with 413 in the vendor's envelope
# The server refuses a body above 20 MiB (413, waitress's plain text) before reading any of it. It sits
# above the app's figure because waitress reads a whole body before the app sees it: between the two,
# the body is spooled to a temporary file (never held in memory) and the app answers in the envelope.
SERVER_MAX_BODY_BYTES = 2 * MAX_BODY_BYTES
DRAIN_SECONDS = 10.0  # on SIGTERM, in-flight requests get this long to finish
CHANNEL_TIMEOUT = 20  # seconds with no bytes in or out before a connection (idle, or trickling a request) is closed
CLEANUP_INTERVAL = 5  # seconds between waitress's checks for such connections
CONNECTION_LIMIT = 4000  # open connections per process; above it the process stops accepting until some close
THREADS = 32
PARENT_CHECK_SECONDS = 0.5  # how often a worker checks that its main process is alive


def _send_buffering() -> dict:
    """Buffer a response's writes up to 64 KB before sending (waitress sends at every write by
    default): a typical report then goes out in one send, about 15% more requests per second.

    `send_bytes` is deprecated in waitress 3, so it is passed only while waitress still knows it.
    """
    from waitress.adjustments import Adjustments

    return {"send_bytes": 64 * 1024} if any(name == "send_bytes" for name, _ in Adjustments._params) else {}


def _raise_open_file_limit(connections: int) -> None:
    """Each connection is a file descriptor: raise the soft limit (up to the hard one) to fit the cap."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            pass


def bind(host: str, port: int) -> socket.socket:
    """The listening socket; an OSError (port in use, unknown host) surfaces here, before anything starts."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Waitress:
    """One waitress server on a bound socket, with a drain (waitress has no public graceful stop)."""

    def __init__(self, app, sock: socket.socket, threads: int = THREADS, channel_timeout: float = CHANNEL_TIMEOUT,
                 cleanup_interval: float = CLEANUP_INTERVAL, connection_limit: int = CONNECTION_LIMIT):
        _raise_open_file_limit(connection_limit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # send_bytes: see _send_buffering
            self.server = create_server(
                app,
                sockets=[sock],
                threads=threads,
                asyncore_loop_timeout=1,  # stop() wakes the loop through its trigger, so no poll wait
                asyncore_use_poll=True,  # select() cannot watch descriptors above 1024
                channel_timeout=channel_timeout,
                cleanup_interval=cleanup_interval,
                connection_limit=connection_limit,
                max_request_body_size=SERVER_MAX_BODY_BYTES + 1,  # waitress refuses a body of this size or more
                clear_untrusted_proxy_headers=True,
                ident="report-emulator",
                **_send_buffering(),
            )
        self._draining = False

    def run(self) -> None:
        """Serve until stop() or drain() has closed every socket."""
        self.server.run()
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)

    def stop(self) -> None:
        """Close every socket from inside the loop (woken by its trigger); in-flight requests are cut."""
        from waitress import wasyncore

        try:
            self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        except OSError:
            pass  # the trigger is already closed: the loop is closing everything itself

    def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Stop accepting now; close everything once no request is in flight, or after `grace` seconds."""
        if self._draining:
            return
        self._draining = True
        from waitress import wasyncore

        # Close the listening socket only (the server's own close() also closes the loop's trigger).
        self.server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(self.server))
        threading.Thread(target=self._drain, args=(grace,), name="report-emulator-drain", daemon=True).start()

    def _drain(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._in_flight():
            time.sleep(0.05)
        self.stop()

    def _in_flight(self) -> bool:
        """A request is being handled, or its answer is not all sent yet."""
        channels = list(self.server.active_channels.values())
        return any(channel.requests or channel.total_outbufs_len for channel in channels)


class ServerThread:
    """The server in a background thread of this process (the pytest fixture)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = THREADS, **limits):
        self.app = app
        self.host = host
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]
        self.waitress = Waitress(app, self.sock, threads, **limits)
        self.server = self.waitress.server
        self._thread = threading.Thread(target=self.waitress.run, name="report-emulator", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "ServerThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.waitress.stop()
        self._thread.join(timeout=5)

    def drain(self, grace: float = DRAIN_SECONDS) -> None:
        self.waitress.drain(grace)
        self._thread.join(timeout=grace + 5)


def _serve_here(app, sock: socket.socket, threads: int) -> None:
    """Serve on this process's main thread until SIGTERM or Ctrl-C, which drain."""
    server = Waitress(app, sock, threads)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.drain())
    server.run()


def _worker(settings, sock: socket.socket, threads: int, built, parent: int) -> None:
    """One worker process: its own app (and store connections), serving the shared socket."""
    from .app import create_app

    _die_with(parent)
    app = create_app(settings)
    built.set()
    _serve_here(app, sock, threads)


def _die_with(parent: int) -> None:
    """Drain and exit when the main process is gone (killed with -9: it could pass nothing on).

    A thread checks every PARENT_CHECK_SECONDS whether this process's parent is still `parent`
    (an orphan is adopted by init or a subreaper), then sends this process SIGTERM: it drains as on
    a plain stop and frees the port. Portable, and blind to PID namespaces, unlike a signal on death."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        log.warning("report-emulator: the main process %s is gone; worker %s stops", parent, os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="report-emulator-parent-watch", daemon=True).start()


def serve(settings, app, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve `settings.host:settings.port` until SIGTERM or Ctrl-C, then drain and return.

    `app` serves directly with one worker; with more, each worker process builds its own.
    Raises OSError when the port cannot be bound, before anything else starts.
    """
    workers = getattr(settings, "workers", 1)
    threads = getattr(settings, "threads", THREADS)
    sock = bind(settings.host, settings.port)
    if workers <= 1:
        if on_ready:
            on_ready(url_of(sock))
        _serve_here(app, sock, threads)
        return
    _supervise(settings, sock, workers, threads, on_ready)


def _supervise(settings, sock: socket.socket, workers: int, threads: int, on_ready) -> None:
    """Start `workers` processes on the socket, replace any that dies, pass SIGTERM/Ctrl-C on, wait for them."""
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    built = {}  # process -> Event set once it has built its app

    def start() -> multiprocessing.Process:
        event = spawn.Event()
        process = spawn.Process(target=_worker, args=(settings, sock, threads, event, os.getpid()),
                                name="report-emulator-worker")
        process.start()
        built[process] = event
        return process

    def stop(*_) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    processes = [start() for _ in range(workers)]
    if on_ready:
        on_ready(url_of(sock))
    failure = None
    while not stopping.is_set():
        multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
        for i, process in enumerate(processes):
            if process.exitcode is None or stopping.is_set():
                continue
            if not built[process].is_set():
                # It could not build its app (its traceback is above): another would fail the same way.
                failure = f"report-emulator: a worker exited during start-up (exit code {process.exitcode})"
                stopping.set()
                break
            log.warning("worker %s exited with %s; starting another", process.pid, process.exitcode)
            processes[i] = start()
    sock.close()  # the workers close theirs as they drain; then the port refuses connections
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: the worker drains
    deadline = time.monotonic() + DRAIN_SECONDS + 5
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
    if failure:
        raise SystemExit(failure)


def serve_forever(app, host: str, port: int, threads: int = THREADS, on_ready=None) -> None:
    """The former entry point, kept for the command line until it calls `serve()`: one process."""
    from types import SimpleNamespace

    settings = SimpleNamespace(host=host, port=port, threads=threads, workers=1)
    serve(settings, app, (lambda url: on_ready(SimpleNamespace(url=url))) if on_ready else None)
