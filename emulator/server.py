"""Serving the app with gevent's WSGI server: one process, or N worker processes on one port.

`serve()` is the one entry point. It binds the port first (so a port in use is an `OSError` before
anything starts), then serves it from this process (workers == 1) or from N processes that share the
one listening socket, each building its own app after it starts (store connections are not
fork-safe). The workers are `multiprocessing` processes started with "spawn", watched by this
process: a worker that dies is replaced; SIGTERM or Ctrl-C is passed on to every worker.

Why gevent (bench/engines.py and bench/waits.py, figures in the README's "Performance"): every
connection is a greenlet, not a thread, so whatever waits costs no thread: a scenario delay or the
latency knob (`gevent.sleep`, offered to the app as `environ["report_emulator.sleep"]`), a dribbled
or bandwidth-paced body, a client slow to send its request or to read its answer. The app still
runs one request at a time per process (Python's lock makes that so for threads too), and gevent
is not monkey-patched in: the app's own locks, store clients and threads stay what they are.

Every process drains on SIGTERM: it stops accepting (new connections are refused once every process
has closed the socket), lets requests already in flight finish for up to `DRAIN_SECONDS`, then exits
0. `CHANNEL_TIMEOUT` closes a connection with no bytes in or out for that long, and
`CONNECTION_LIMIT` bounds open connections per process (above it the process stops accepting). The
server reads no body itself: the app refuses one past its limit from its declared size (or as it
reads a chunked one) with 413 in the vendor's own envelope, at any size, and the connection closes.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import multiprocessing.connection
import resource
import signal
import socket
import struct
import threading
import time
from typing import Callable

import gevent
import gevent.pywsgi
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

log = logging.getLogger(__name__)

# Figures, documented in the README's "Server" section.
from .core.limits import MAX_BODY_BYTES  # noqa: E402  the app answers a body above 10 MiB with 413 in the vendor's envelope
DRAIN_SECONDS = 10.0  # on SIGTERM, in-flight requests get this long to finish
CHANNEL_TIMEOUT = 20  # seconds with no bytes in or out before a connection (idle, or trickling a request) is closed
CONNECTION_LIMIT = 4000  # open connections per process; above it the process stops accepting until some close
THREADS = 32  # --threads: kept for the command line; gevent serves each connection in a greenlet
MAX_REQUEST_LINE_BYTES = 256 * 1024  # a longer request line (path and query) is refused with 414
# gevent reads the request line (and each header line) up to this module-wide figure (8 KiB by default).
gevent.pywsgi.MAX_REQUEST_LINE = MAX_REQUEST_LINE_BYTES
PARENT_CHECK_SECONDS = 0.5  # how often a worker checks that its main process is alive


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


class Handler(WSGIHandler):
    """gevent's handler, plus what the app's faults need: a cooperative sleep and a real TCP reset."""

    def handle(self):
        self.socket.settimeout(self.server.channel_timeout)  # per read or write: an idle or trickling client is let go
        # gevent sends the head and the body in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold the body about 40 ms on a keep-alive connection.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()

    def get_environ(self):
        environ = super().get_environ()
        environ.setdefault("REQUEST_URI", self.path)  # the raw request target, as waitress gave it (the recording proxy reads it)
        environ["wsgi.input_terminated"] = True  # gevent's input ends a chunked body itself: Werkzeug may read it
        environ["report_emulator.sleep"] = gevent.sleep
        environ["report_emulator.reset"] = self.reset_connection
        return environ

    def handle_one_response(self):
        self.server.in_flight += 1
        try:
            super().handle_one_response()
        finally:
            self.server.in_flight -= 1

    def run_application(self):
        super().run_application()
        if self.code == 413:
            # Refused unread (the app checks the declared size): close rather than read the rest to discard it.
            self.close_connection = True
            self.wsgi_input = _Unread()

    def reset_connection(self) -> None:
        """connection_reset: write nothing, and close with SO_LINGER 0, which sends RST."""
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._reset = True
        self.close_connection = True

    def write(self, data):
        if getattr(self, "_reset", False):
            return
        super().write(data)

    def log_request(self):
        pass  # --log-requests logs vendor calls from the app


class _Unread:
    """Stands for a request body left unread: nothing to discard (the connection closes)."""

    def _discard(self) -> None:
        pass


class Server:
    """gevent's WSGIServer on a bound socket, in the calling thread's own gevent hub; with a drain."""

    def __init__(self, app, sock: socket.socket, threads: int = THREADS, channel_timeout: float = CHANNEL_TIMEOUT,
                 connection_limit: int = CONNECTION_LIMIT):
        _raise_open_file_limit(connection_limit)
        self.sock = sock
        self.app = app
        self.channel_timeout = channel_timeout
        self.connection_limit = connection_limit
        self.server: WSGIServer | None = None
        self.hub = None
        self._draining = False

    def run(self) -> None:
        """Serve until stop() or drain() (from any thread) has closed everything."""
        self.hub = gevent.get_hub()
        self.sock.setblocking(False)  # gevent accepts in its loop: a blocking accept would stall it
        self.server = WSGIServer(self.sock, self.app, handler_class=Handler, spawn=Pool(self.connection_limit), log=None,
                                 error_log=log)
        self.server.channel_timeout = self.channel_timeout
        self.server.in_flight = 0
        self.server.serve_forever()

    def _call(self, func) -> None:
        """Run func in the server's hub (thread-safe; from a signal handler too)."""
        if self.hub is not None:
            self.hub.loop.run_callback_threadsafe(func)

    def stop(self) -> None:
        """Close every socket; requests in flight are cut."""
        self._call(lambda: gevent.spawn(self.server.stop, timeout=0))

    def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Stop accepting now; close everything once no request is in flight, or after `grace` seconds."""
        if self._draining:
            return
        self._draining = True
        self._call(lambda: gevent.spawn(self._drain, grace))

    def _drain(self, grace: float) -> None:
        self.server.close()  # stop accepting (idle keep-alive connections are closed by stop below)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.server.in_flight:
            gevent.sleep(0.05)
        self.server.stop(timeout=0)


class ServerThread:
    """The server in a background thread of this process (the pytest fixture)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = THREADS, **limits):
        self.app = app
        self.host = host
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]
        self.engine = Server(app, self.sock, threads, **limits)
        self._thread = threading.Thread(target=self.engine.run, name="report-emulator", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "ServerThread":
        self._thread.start()
        while self.engine.server is None and self._thread.is_alive():
            time.sleep(0.001)
        return self

    def stop(self) -> None:
        self.engine.stop()
        self._thread.join(timeout=5)

    def drain(self, grace: float = DRAIN_SECONDS) -> None:
        self.engine.drain(grace)
        self._thread.join(timeout=grace + 5)


def _serve_here(app, sock: socket.socket, threads: int) -> None:
    """Serve on this process's main thread until SIGTERM or Ctrl-C, which drain."""
    server = Server(app, sock, threads)
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
