"""Serving the app with gevent's WSGI server: one process, or N worker processes on one port.

`serve()` is the one entry point. It binds the port first (so a port in use is an `OSError` before
anything starts), then serves it from this process (workers == 1) or from N processes that share the
one listening socket, each building its own app after it starts (store connections are not
fork-safe). The workers are `multiprocessing` processes started with "spawn", watched by this
process: a worker that dies is replaced; SIGTERM or Ctrl-C is passed on to every worker.

Why gevent with a work pool (bench/waits.py and bench/scale.py, figures in docs/performance.md):
each connection is a greenlet in the process's event loop, which reads the request and its body,
writes the answer and does every wait, so a wait costs no thread: a scenario delay or the latency
knob, a dribbled or bandwidth-paced body (the app yields `Wait` items in the body, offered as
`environ["report_emulator.wait"]`), a client slow to send its request or to read its answer. Only
the app's work (Flask, the vendor's logic, the store calls) runs in one of `--threads` work threads
(gevent's ThreadPool), as waitress ran it: gevent is not monkey-patched in, so a blocking store call
holds one work thread and never the loop.

Every process drains on SIGTERM: it stops accepting (new connections are refused once every process
has closed the socket), lets requests already in flight finish for up to `DRAIN_SECONDS`, then exits
0. `CHANNEL_TIMEOUT` closes a connection with no bytes in or out for that long, and
`CONNECTION_LIMIT` bounds open connections per process (above it the process stops accepting). The
loop reads a body up to the app's limit plus one byte, and none of one declared past it: the app
refuses it with 413 in the vendor's own envelope, at any size; the rest is read and dropped, and the
connection closes.
"""
from __future__ import annotations

import io
import logging
import multiprocessing
import os
import multiprocessing.connection
import resource
import signal
import socket
import struct
import tempfile
import threading
import time
from typing import Callable

import gevent
import gevent.event
import gevent.pywsgi
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer
from gevent.threadpool import ThreadPool

log = logging.getLogger(__name__)

# Figures, documented in the README's "Server" section.
from .core.limits import MAX_BODY_BYTES  # noqa: E402  the app answers a body above 10 MiB with 413 in the vendor's envelope
DRAIN_SECONDS = 10.0  # on SIGTERM, in-flight requests get this long to finish
CHANNEL_TIMEOUT = 20  # seconds with no bytes in or out before a connection (idle, or trickling a request) is closed
CONNECTION_LIMIT = 4000  # open connections per process; above it the process stops accepting until some close
THREADS = 32  # --threads: the work pool, the threads that run the app; no wait holds one
BATCH_BYTES = 256 * 1024  # an answer's body is taken from the app (in its work thread) this much at a time
SPOOL_BYTES = 512 * 1024  # a request body above this waits for the app in a temporary file, not in memory
READ_BYTES = 64 * 1024  # a request body is read (or, past the limit, discarded) this much at a time
DISCARD_SECONDS = 30  # after a 413 for a body past the limit, what the client still sends is read and dropped this long,
DISCARD_IDLE_SECONDS = 1  # or until it sends nothing for this long; then the connection closes
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


class Wait:
    """A pause in an answer's body (faults.pause_function yields one): the server waits it out in its
    event loop, holding no thread."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float):
        self.seconds = seconds


def _pull(iterator, result) -> tuple[list, bool]:
    """In a work thread: the body's next items, up to BATCH_BYTES or a Wait; True once it is done (and closed)."""
    items, size = [], 0
    for item in iterator:
        items.append(item)
        if isinstance(item, Wait):
            return items, False
        size += len(item)
        if size >= BATCH_BYTES:
            return items, False
    _close(result)
    return items, True


def _work(app, environ, start_response) -> tuple:
    """In a work thread: the app's answer (status and headers through start_response) and its first items."""
    result = app(environ, start_response)
    try:
        iterator = iter(result)
        items, done = _pull(iterator, result)
    except BaseException:
        _close(result)
        raise
    return result, iterator, items, done


def _caught(fn, *args):
    """In a work thread: fn's result, or the exception it raised, as a value. Raised in the work
    thread, gevent's ThreadPool would print it whole before the loop sees it (Handler.handle_error
    decides what an error is worth in the log)."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - re-raised in the loop
        return None, exc


def _in_pool(pool, fn, *args):
    result, exc = pool.apply(_caught, (fn, *args))
    if exc is not None:
        raise exc
    return result


def _close(result) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


class Handler(WSGIHandler):
    """gevent's handler, with the app's work in a thread of the work pool (`--threads`) and everything
    else in the event loop: reading the request and its body, the waits, writing the answer, a reset."""

    body_unread = False

    def handle(self):
        self.socket.settimeout(self.server.channel_timeout)  # per read or write: an idle or trickling client is let go
        # gevent sends the head and the body in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold the body about 40 ms on a keep-alive connection.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()

    def get_environ(self):
        environ = super().get_environ()
        environ.setdefault("REQUEST_URI", self.path)  # the raw request target, as waitress gave it (the recording proxy reads it)
        environ["wsgi.input_terminated"] = True  # the body is read here (_read_body): Werkzeug may read a chunked one
        environ["report_emulator.wait"] = Wait
        environ["report_emulator.reset"] = self.reset_connection
        return environ

    def handle_one_response(self):
        self.server.in_flight += 1
        try:
            super().handle_one_response()
        finally:
            self.server.in_flight -= 1

    def run_application(self):
        """Read the body here, make the answer in a work thread, then send it here, waiting where it says."""
        pool = self.server.work_pool
        try:
            body = self.environ["wsgi.input"] = self._read_body()
        except (socket.timeout, ConnectionError):  # the client stalled (CHANNEL_TIMEOUT) or left mid-body: no answer
            self.close_connection = True
            return
        done = True
        try:
            self.result, iterator, items, done = _in_pool(pool, _work, self.application, self.environ, self.start_response)
            while True:
                for item in items:
                    if isinstance(item, Wait):
                        gevent.sleep(item.seconds)
                    elif item:
                        self.write(item)
                if done:
                    break
                items, done = _in_pool(pool, _pull, iterator, self.result)
            if self.status and not self.headers_sent:
                self.write(b"")
            if self.response_use_chunked and not self.reset:
                self._sendall(b"0\r\n\r\n")
        finally:
            if not done:
                _in_pool(pool, _close, self.result)
            self.result = None
            body.close()
        if self.body_unread:
            self._discard_body()

    def start_response(self, status, headers, exc_info=None):
        if self.body_unread:  # the answer to a body past the limit (413) says that the connection closes after it
            headers = [*headers, ("Connection", "close")]
        return super().start_response(status, headers, exc_info)

    def _read_body(self):
        """The request's body, read in the event loop (no thread waits for a slow client), at most
        MAX_BODY_BYTES + 1 of it: a larger one is the app's to refuse (413 in the vendor's envelope).

        A declared size past the limit is not read at all: the app refuses it from its Content-Length.
        Up to SPOOL_BYTES it is kept in memory, above that in a temporary file.
        """
        self.body_unread = False
        declared = int(self.environ.get("CONTENT_LENGTH") or 0)  # gevent has checked that it is a number
        chunked = "chunked" in self.environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if declared > MAX_BODY_BYTES:
            self.body_unread = True
            return io.BytesIO()
        if not declared and not chunked:
            return io.BytesIO()
        body = tempfile.SpooledTemporaryFile(SPOOL_BYTES)
        left = MAX_BODY_BYTES + 1
        while left > 0:
            data = self.wsgi_input.read(min(READ_BYTES, left))
            if not data:
                break
            body.write(data)
            left -= len(data)
        self.body_unread = left <= 0
        body.seek(0)
        return body

    def _discard_body(self) -> None:
        """After a 413 for a body left unread: read and drop what the client still sends (for up to
        DISCARD_SECONDS, until it pauses DISCARD_IDLE_SECONDS), so that a client that sends its whole
        body before it reads gets the answer rather than a reset; then close the connection."""
        self.close_connection = True
        try:
            self.socket.settimeout(DISCARD_IDLE_SECONDS)
            with gevent.Timeout(DISCARD_SECONDS, False):
                while self.wsgi_input.read(READ_BYTES):
                    pass
        except OSError:  # the client went away, or broke its chunked encoding
            pass
        try:
            self.socket.shutdown(socket.SHUT_RD)  # anything left reads as the end: gevent's own discard stops at once
        except OSError:
            pass

    @property
    def reset(self) -> bool:
        return getattr(self, "_reset", False)

    def reset_connection(self) -> None:
        """connection_reset (called from the app's work thread): write nothing, and close with
        SO_LINGER 0, which sends RST."""
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._reset = True
        self.close_connection = True

    def write(self, data):
        if self.reset:
            return
        super().write(data)

    def _handle_client_error(self, ex):
        """A client that stalls while sending its request's head (CHANNEL_TIMEOUT) or leaves: the
        connection closes with no answer and no log (gevent would print a traceback for each, and
        50 stalled clients wrote 120 kB). gevent names this method as its hook for subclasses."""
        if isinstance(ex, (socket.timeout, ConnectionError)):
            self.close_connection = True
            return None
        return super()._handle_client_error(ex)

    def handle_error(self, t, v, tb):
        """An answer that fails after its first byte (a stream that stops: core/streaming.py logs why)
        ends with the connection closed, its answer left incomplete, and one log line, not a traceback."""
        if self.response_length:
            log.error("the answer to %s %s stopped after %d bytes: %r", self.command, self.path, self.response_length, v)
            self.close_connection = True
            return
        super().handle_error(t, v, tb)

    def log_request(self):
        pass  # --log-requests logs vendor calls from the app


class Server:
    """gevent's WSGIServer on a bound socket, in the calling thread's own gevent hub; with a drain."""

    def __init__(self, app, sock: socket.socket, threads: int = THREADS, channel_timeout: float = CHANNEL_TIMEOUT,
                 connection_limit: int = CONNECTION_LIMIT):
        _raise_open_file_limit(connection_limit)
        self.sock = sock
        self.app = app
        self.threads = threads
        self.channel_timeout = channel_timeout
        self.connection_limit = connection_limit
        self.server: WSGIServer | None = None
        self.hub = None
        self._draining = False
        self._drain_begun = False

    def run(self) -> None:
        """Serve until stop() or drain() (from any thread) has closed everything."""
        self.hub = gevent.get_hub()
        self.sock.setblocking(False)  # gevent accepts in its loop: a blocking accept would stall it
        self.server = WSGIServer(self.sock, self.app, handler_class=Handler, spawn=Pool(self.connection_limit), log=None,
                                 error_log=log)
        self.server.channel_timeout = self.channel_timeout
        self.server.in_flight = 0
        self.server.work_pool = self.pool = ThreadPool(self.threads)
        self._stopped = gevent.event.Event()
        try:
            self.server.start()
            if self._draining:  # SIGTERM came before the hub was there to take it (drain() had nowhere to send it)
                gevent.spawn(self._drain, DRAIN_SECONDS)
            # Not serve_forever(): once the listener closes (the first step of a drain), it stops the
            # server with gevent's default stop_timeout of 1 s and kills the calls still in flight.
            self._stopped.wait()
        finally:
            self.pool.kill()

    def _call(self, func) -> None:
        """Run func in the server's hub (thread-safe; from a signal handler too)."""
        if self.hub is not None:
            self.hub.loop.run_callback_threadsafe(func)

    def _started(self) -> None:
        """In the hub: wait until the server accepts. A stop or a drain asked for during start-up (a
        SIGTERM right after the banner) is carried out once it does, never before: gevent cannot
        start a server that was closed, and a drain sent before the hub existed would be lost."""
        while self.server is None or not self.server.started:
            gevent.sleep(0.01)

    def stop(self) -> None:
        """Close every socket; requests in flight are cut."""
        def stop():
            self._started()
            self._stop_now()

        self._call(lambda: gevent.spawn(stop))

    def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Stop accepting now; close everything once no request is in flight, or after `grace` seconds."""
        if self._draining:
            return
        self._draining = True
        self._call(lambda: gevent.spawn(self._drain, grace))

    def _drain(self, grace: float) -> None:
        if self._drain_begun:
            return
        self._drain_begun = True
        self._started()
        self.server.close()  # stop accepting (idle keep-alive connections are closed by stop below)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.server.in_flight:
            gevent.sleep(0.05)
        self._stop_now()

    def _stop_now(self) -> None:
        """In the hub: close the listener and every connection (calls still in flight are cut), and end run()."""
        try:
            self.server.stop(timeout=0)
        finally:
            self._stopped.set()


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


def _serve_here(app, sock: socket.socket, threads: int, on_ready=None) -> None:
    """Serve on this process's main thread until SIGTERM or Ctrl-C, which drain (from before the
    banner: a SIGTERM as soon as it is read is a drain too, not the default kill)."""
    server = Server(app, sock, threads)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.drain())
    if on_ready:
        on_ready(url_of(sock))
    server.run()


def _worker(settings, sock: socket.socket, threads: int, built, parent: int, cpus: list[int] | None = None,
            slot: int = 0) -> None:
    """One worker process: its own app (and store connections), serving the shared socket."""
    from .app import create_app

    _keep_on(cpus, slot)
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
    cpus = sorted(os.sched_getaffinity(0)) if getattr(settings, "pin_cpus", False) else None
    sock = bind(settings.host, settings.port)
    if workers <= 1:
        _keep_on(cpus, 0)
        _serve_here(app, sock, threads, on_ready)
        return
    _supervise(settings, sock, workers, threads, on_ready, cpus)


def _keep_on(cpus: list[int] | None, slot: int) -> None:
    """--pin-cpus: keep this process (every thread of it) on the slot-th of the CPUs it may use, wrapping.

    The event loop and the work threads hand each request to each other; between two CPUs each hand-off
    wakes a thread on the other, which on a VM costs as much as a third of a request's CPU
    (bench/layers.py, bench/scale.py --pin: docs/performance.md). The CPUs are the ones this server
    was given (taskset, a container's cpuset), so several servers on one machine need their own.
    """
    if not cpus:
        return
    cpu = {cpus[slot % len(cpus)]}
    # Linux sets it per thread: every thread running now (this one included); the ones started later inherit it.
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), cpu)
        except OSError:  # a thread that ended meanwhile
            pass


def _supervise(settings, sock: socket.socket, workers: int, threads: int, on_ready, cpus: list[int] | None = None) -> None:
    """Start `workers` processes on the socket, replace any that dies, pass SIGTERM/Ctrl-C on, wait for them.

    With --pin-cpus, worker i (and whichever replaces it) is kept on the i-th CPU (`_keep_on`)."""
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    built = {}  # process -> Event set once it has built its app

    def start(slot: int) -> multiprocessing.Process:
        event = spawn.Event()
        process = spawn.Process(target=_worker, args=(settings, sock, threads, event, os.getpid(), cpus, slot),
                                name="report-emulator-worker")
        process.start()
        built[process] = event
        return process

    def stop(*_) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    processes = [start(slot) for slot in range(workers)]
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
            processes[i] = start(i)
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
