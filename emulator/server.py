"""Serving the app with waitress (a production WSGI server), in one process and many threads.

One process keeps every piece of state (clock, tokens, counters, journal) the same on every
connection; threads keep a request held by a delay or a slow download from stalling the others.
`ServerThread` runs it in the background (the pytest fixture) and stops without a poll's wait.
"""
from __future__ import annotations

import threading
import warnings

from waitress.server import create_server


def _send_buffering() -> dict:
    """Buffer a response's writes up to 64 KB before sending (waitress sends at every write by
    default): a typical report then goes out in one send, about 15% more requests per second.

    `send_bytes` is deprecated in waitress 3, so it is passed only while waitress still knows it.
    """
    from waitress.adjustments import Adjustments

    return {"send_bytes": 64 * 1024} if any(name == "send_bytes" for name, _ in Adjustments._params) else {}


class ServerThread:
    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = 32):
        self.app = app
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # send_bytes: see _send_buffering
            self.server = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                asyncore_loop_timeout=1,  # stop() wakes the loop through its trigger, so no poll wait
                channel_timeout=120,
                connection_limit=1000,
                clear_untrusted_proxy_headers=True,
                ident="report-emulator",
                **_send_buffering(),
            )
        self.host = host
        self.port = self.server.effective_port
        self._thread = threading.Thread(target=self.server.run, name="report-emulator", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "ServerThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every socket from inside the loop (woken by its trigger), then join."""
        from waitress import wasyncore

        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self._thread.join(timeout=5)
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)


def serve_forever(app, host: str, port: int, threads: int = 32, on_ready=None) -> None:
    """Run in the foreground until interrupted (Ctrl-C) or terminated.

    SIGTERM stops it cleanly too: as a container's PID 1 the process would otherwise ignore
    `docker stop` until the kill that follows ten seconds later.
    """
    import signal
    import sys

    server = ServerThread(app, host, port, threads)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if on_ready:
        on_ready(server)
    try:
        server.server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)


def serve(settings, app, on_ready=None) -> None:
    """Serve `app` as `settings` say until terminated; `on_ready(url)` once listening. A bind failure
    (port in use, unknown host) raises OSError before on_ready. (A thin wrapper of serve_forever.)"""
    serve_forever(app, settings.host, settings.port, settings.threads,
                  on_ready=(lambda server: on_ready(server.url)) if on_ready else None)
