"""A thin APScheduler wrapper: background work (Echo360's report files) in a small thread pool.

No business logic: callers say what to run. The BackgroundScheduler is started lazily on
first use (never at import or app creation, to keep start-up fast); `clear()` only drops queued jobs
(cheap, for resets) and `shutdown()` stops without waiting.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, Callable


class Scheduler:
    def __init__(self, name: str = "emulator", workers: int = 2):
        self.name = name
        self.workers = workers
        self._scheduler = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._scheduler is not None

    def _get(self):
        if self._scheduler is None:
            with self._lock:
                if self._scheduler is None:
                    from apscheduler.executors.pool import ThreadPoolExecutor
                    from apscheduler.schedulers.background import BackgroundScheduler

                    scheduler = BackgroundScheduler(
                        executors={"default": ThreadPoolExecutor(self.workers)},
                        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
                        timezone="UTC",
                        daemon=True,
                    )
                    scheduler.start()
                    self._scheduler = scheduler
                    # Stop before the interpreter's thread pools refuse work at exit (no noise then).
                    register = getattr(threading, "_register_atexit", None)
                    if register is not None:
                        register(self.shutdown)
        return self._scheduler

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run fn(*args) in the background now; the Future holds its result or exception."""
        future: Future = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

        self._get().add_job(run)  # no trigger: run once, now
        return future

    def clear(self) -> None:
        """Drop every queued job (running ones finish or notice their own cancel flag)."""
        if self._scheduler is not None:
            self._scheduler.remove_all_jobs()

    def shutdown(self) -> None:
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
