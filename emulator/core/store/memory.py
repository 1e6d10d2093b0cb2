"""The memory store: plain dicts behind one lock, for one process (the pytest fixture's default).

Generated files go to a temporary folder named after this process, removed at exit; folders left
by a process that died (kill -9) are removed by the next memory store that starts on this machine.
"""
from __future__ import annotations

import atexit
import fcntl
import json
import os
import shutil
import tempfile
import threading
from collections import deque
from typing import Any, Callable

from . import DELETE, GENERATION, VERSION, Store, new_version

FOLDER_PREFIX = "report-emulator-files-"


class TemporaryFiles:
    """`files_dir` for stores whose report files any process regenerates (memory, redis): a temporary
    folder of this process, made on first use and removed at exit or by `close_files()`."""

    _files: str | None = None
    _files_lock = threading.Lock()

    @property
    def files_dir(self) -> str:
        with self._files_lock:
            # Made again if something removed it meanwhile (a tmp cleaner): files are regenerated on demand.
            if self._files is None or not os.path.isdir(self._files):
                self._files = temporary_files_dir()
            return self._files

    def close_files(self) -> None:
        if self._files:
            shutil.rmtree(self._files, ignore_errors=True)
            self._files = None


class MemoryStore(TemporaryFiles, Store):
    kind = "memory"
    shared = False

    def __init__(self, url: str = "memory", namespace: str = "emulator"):
        super().__init__(url, namespace)
        self._lock = threading.RLock()
        self._values: dict[str, Any] = {}
        self._maps: dict[str, dict[str, Any]] = {}
        self._logs: dict[str, tuple[deque, list[int]]] = {}  # name -> (entries as (size, item), [total bytes])

    def _check(self) -> None:
        """Under the lock: refuse a write of a generation that a reset has replaced."""
        pinned = self._pinned.get()
        if pinned is not None and pinned != self._values.get(GENERATION, 0):
            raise self._stale(self._values.get(GENERATION))

    def get(self, key: str) -> Any:
        return self._values.get(key)

    def get_many(self, keys: list[str]) -> list[Any]:
        values = self._values
        return [values.get(k) for k in keys]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._check()
            self._values[key] = value

    def put_if_absent(self, key: str, value: Any) -> Any:
        with self._lock:
            self._check()
            return self._values.setdefault(key, value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._check()
            self._values.pop(key, None)

    def update(self, key: str, fn: Callable[[Any], tuple[Any, Any]]) -> Any:
        with self._lock:
            self._check()
            new, result = fn(self._values.get(key))
            if new is DELETE:
                self._values.pop(key, None)
            else:
                self._values[key] = new
            return result

    def incr(self, key: str, amount: int = 1) -> int:
        with self._lock:
            self._check()
            value = self._values.get(key, 0) + amount
            self._values[key] = value
            return value

    def window_hit(self, key: str, now: float, seconds: float) -> tuple[int, float]:
        with self._lock:
            self._check()
            started, count = self._values.get(key) or (now, 0)
            if now - started >= seconds or now < started:
                started, count = now, 0
            self._values[key] = (started, count + 1)
            return count + 1, started

    def map_get(self, name: str, field: str) -> Any:
        return self._maps.get(name, {}).get(field)

    def map_put(self, name: str, field: str, value: Any) -> None:
        with self._lock:
            self._check()
            self._maps.setdefault(name, {})[field] = value

    def map_take(self, name: str, field: str) -> Any:
        with self._lock:
            self._check()
            return self._maps.get(name, {}).pop(field, None)

    def map_delete(self, name: str, fields: list[str]) -> None:
        with self._lock:
            self._check()
            found = self._maps.get(name)
            for field in fields if found else ():
                found.pop(field, None)

    def map_all(self, name: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._maps.get(name, {}))

    def log_append_many(self, name: str, items: list[dict], max_items: int, max_bytes: int) -> None:
        sized = [(len(json.dumps(item, separators=(",", ":"), default=str)), item) for item in items]
        with self._lock:
            self._check()
            entries, total = self._logs.setdefault(name, (deque(), [0]))
            entries.extend(sized)
            total[0] += sum(size for size, _ in sized)
            while entries and (len(entries) > max_items or total[0] > max_bytes):
                total[0] -= entries.popleft()[0]

    def log_items(self, name: str) -> list[dict]:
        with self._lock:
            found = self._logs.get(name)
            return [item for _, item in found[0]] if found else []

    def log_clear(self, name: str) -> None:
        with self._lock:
            self._check()
            self._logs.pop(name, None)

    def wipe(self, prefixes: list[str] | None = None) -> None:
        def doomed(name: str) -> bool:
            return name.startswith(tuple(prefixes)) if prefixes else not name.startswith("meta:")

        with self._lock:
            self._check()
            self._values = {k: v for k, v in self._values.items() if not doomed(k)}
            self._maps = {k: v for k, v in self._maps.items() if not doomed(k)}
            self._logs = {k: v for k, v in self._logs.items() if not doomed(k)}

    def new_generation(self, values: dict[str, Any], maps: dict[str, dict] | None = None,
                       logs: dict[str, list[dict]] | None = None) -> int:
        fresh = json.loads(json.dumps({"values": values, "maps": maps or {}, "logs": logs or {}}))  # nothing shared with the caller
        with self._lock:
            kept = {k: v for k, v in self._values.items() if k.startswith("meta:")}
            generation = kept[GENERATION] = kept.get(GENERATION, 0) + 1
            kept[VERSION] = new_version()
            kept.update(fresh["values"])
            # Readers take no lock: the maps and logs go first, the values (which hold the generation
            # a request pins) last, so a reader that sees the new generation sees nothing of the old world.
            self._maps = {k: v for k, v in self._maps.items() if k.startswith("meta:")} | fresh["maps"]
            self._logs = {k: v for k, v in self._logs.items() if k.startswith("meta:")}
            for name, items in fresh["logs"].items():
                sizes = [len(json.dumps(item, separators=(",", ":"), default=str)) for item in items]
                self._logs[name] = (deque(zip(sizes, items)), [sum(sizes)])
            self._values = kept
            return generation

    def namespaced(self, namespace: str) -> "MemoryStore":
        """Another namespace of this process: a store of its own (nothing is shared between processes)."""
        view = MemoryStore(self.url, namespace)
        view.is_view = True
        return view

    def export(self) -> dict:
        with self._lock:
            return json.loads(json.dumps({
                "values": self._values, "maps": self._maps,
                "logs": {name: [item for _, item in entries] for name, (entries, _) in self._logs.items()}}, default=list))

    def drop(self) -> None:
        with self._lock:
            self._values, self._maps, self._logs = {}, {}, {}
        self.close_files()

    def close(self) -> None:
        self.close_files()


OWNER_FILE = ".owner"  # locked (flock) by the process that owns the folder, for as long as it lives
_owned: list = []  # the open owner files of this process's folders (closing one would free its lock)


def temporary_files_dir() -> str:
    """A new temporary folder for generated files, removed at exit (memory and redis stores: any
    process regenerates a file it does not have).

    The folder's owner file stays locked while this process lives, so a later process can tell an
    orphan (its lock is free: the owner was killed) from a folder in use, whatever PID namespace
    (container, `unshare`) either runs in: a process id could not tell them apart.
    """
    _remove_orphans()
    folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
    os.chmod(folder, 0o700)  # private to its user whatever the umask (mkdtemp's mode is only ever narrowed by it)
    owner = open(os.path.join(folder, OWNER_FILE), "w")
    fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _owned.append(owner)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _remove_orphans() -> None:
    """Remove file folders whose owner is gone (killed before its exit handler ran)."""
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if not name.startswith(FOLDER_PREFIX):
            continue
        folder = os.path.join(root, name)
        try:
            fd = os.open(os.path.join(folder, OWNER_FILE), os.O_RDWR)
        except OSError:  # being made right now (no owner file yet), or already gone
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # locked: its owner is alive
            continue
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
