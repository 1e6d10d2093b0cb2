"""The app as each benchmarked engine loads it: same settings, built in every worker process."""
from __future__ import annotations

import json
import os
import sys

from emulator.app import create_app
from emulator.settings import Settings

AUTH = "Bearer bench:bench"


def settings(port: int = 0, workers: int = 1) -> Settings:
    """Bench credentials, and a scenario file (read by every worker) that lifts Strigo's rate limit."""
    path = os.environ["BENCH_SCENARIO"]
    result = Settings(host="127.0.0.1", port=port, scenarios=[path],
                      credentials={"strigo": {"org_id": "bench", "api_key": "bench"}})
    result.workers = workers  # Settings gains this field with the new command line
    return result


def make_app():
    """granian's --factory target."""
    return create_app(settings())


def write_scenario(path: str) -> None:
    with open(path, "w") as fh:
        json.dump({"name": "bench", "strigo": {"rate_limit": 100_000_000}}, fh)


def run_gunicorn(port: int, workers: int, worker_class: str) -> None:
    """gunicorn through its public BaseApplication; load() runs in each worker after the fork."""
    from gunicorn.app.base import BaseApplication

    class Emulator(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"127.0.0.1:{port}", "workers": workers, "worker_class": worker_class,
                               "threads": 32, "graceful_timeout": 10, "loglevel": "warning"}.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app(settings())

    Emulator().run()


def run_waitress(port: int, workers: int) -> None:
    from emulator.server import serve

    s = settings(port, workers)
    serve(s, create_app(s))


if __name__ == "__main__":
    engine, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if engine == "waitress":
        run_waitress(port, workers)
    else:
        run_gunicorn(port, workers, sys.argv[4])
