"""The SQLite store (the standard library's sqlite3, WAL mode): survives restarts, shared by the
processes of one machine.

One connection per thread and process (sqlite3 connections are neither thread- nor fork-safe).
Writes that read first run in `BEGIN IMMEDIATE`, which takes SQLite's one write lock, so a
check-then-act is atomic across processes. Generated files live in a folder next to the database
(`state.db.files/`). The file carries an application id and a schema version: a database that
belongs to another program, or was written by a newer emulator, is refused and never touched.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from typing import Any, Callable

from . import (DELETE, GENERATION, OPERATION_TIMEOUT_SECONDS, SCHEMA_VERSION, VERSION, Store, StoreError,
               new_version, outages_answered)

APPLICATION_ID = 0x52454D55  # "REMU": marks the file as report-emulator's
# How long a call waits for another process's lock; past it the store is out (503, see Store.outage).
BUSY_TIMEOUT_MS = int(OPERATION_TIMEOUT_SECONDS * 1000)
# Before the server answers anyone (several workers setting up one new file at once, on a busy
# machine), a call may wait this long: a start-up that gives up would stop the server.
STARTUP_BUSY_TIMEOUT_MS = 10_000
# A writer that finds another process holding SQLite's write lock tries again this often, until the
# busy timeout. SQLite's own busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between its tries, so
# two busy workers lost most of their time asleep while the lock was free.
WRITE_RETRY_SECONDS = 0.0002
FILE_MODE = 0o600  # state.db, its -wal and -shm, and report files: the link secret is in them
FOLDER_MODE = 0o700  # state.db.files/

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map (ns TEXT NOT NULL, name TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
                                PRIMARY KEY (ns, name, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, name TEXT NOT NULL,
                                size INTEGER NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS log_by_name ON log (ns, name, seq);
CREATE TABLE IF NOT EXISTS log_size (ns TEXT NOT NULL, name TEXT NOT NULL, items INTEGER NOT NULL, bytes INTEGER NOT NULL,
                                     PRIMARY KEY (ns, name)) WITHOUT ROWID;
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def private_file(path: str) -> None:
    """Create path readable by its user only, or make an existing one so (whatever the umask)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


@outages_answered
class SqliteStore(Store):
    kind = "sqlite"
    shared = True
    files_persist = True  # state.db.files/ next to the database

    def __init__(self, url: str, path: str, namespace: str = "emulator"):
        super().__init__(url, namespace)
        self.path = path
        self._busy_ms = STARTUP_BUSY_TIMEOUT_MS  # until started()
        self._local = threading.local()
        # One writer per process at a time. Threads of one process that all asked SQLite for its write
        # lock would wait in its busy handler, which sleeps in growing steps (up to 100 ms) instead of
        # waking when the lock is free: with 32 threads, most of a busy server's time went there.
        # Waiting here wakes at once; only one thread per process then contends across processes.
        self._writer = threading.Lock()
        # The process's write connection (used under _writer; shared with the tenants' views): SQLite's
        # busy handler is off on it (busy_timeout 0), the lock is waited for in `_begin`.
        self._write_conn: dict[str, Any] = {"conn": None, "pid": None}
        self._check_and_create()
        if os.path.isdir(f"{path}.files"):  # made by an older emulator with the umask's mode
            try:
                os.chmod(f"{path}.files", FOLDER_MODE)
            except OSError:
                pass

    # --- connections -----------------------------------------------------------------------------

    def outage_reason(self, exc: Exception) -> str | None:
        """Locked past the busy timeout, a full disk, an I/O error, a damaged file: the store cannot answer."""
        if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
            return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None

    def started(self) -> None:
        self._busy_ms = BUSY_TIMEOUT_MS
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def _connect(self, busy: int | None = None) -> sqlite3.Connection:
        """A connection whose calls wait `busy` ms (the store's busy timeout by default) for another's lock."""
        busy = self._busy_ms if busy is None else busy
        conn = sqlite3.connect(self.path, timeout=busy / 1000, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {busy}")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across a process crash
        return conn

    @property
    def _db(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = local.conn = self._connect()
            local.pid = os.getpid()
        return conn

    def _check_and_create(self) -> None:
        """Refuse a file that is not ours or is newer; create the schema in a new or empty one."""
        folder = os.path.dirname(self.path) or "."
        if os.path.isdir(self.path):
            raise StoreError(f"--state {self.url}: {self.path} is a folder, not a database file")
        if not os.path.isdir(folder):
            raise StoreError(f"--state {self.url}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK) or (os.path.exists(self.path) and not os.access(self.path, os.W_OK)):
            raise StoreError(f"--state {self.url}: {self.path} is not writable")
        try:
            # SQLite gives its -wal and -shm files the mode of the database file.
            for path in (self.path, f"{self.path}-wal", f"{self.path}-shm"):
                if path == self.path or os.path.exists(path):
                    private_file(path)
        except OSError as exc:
            raise StoreError(f"--state {self.url}: {self.path} cannot be used as a store: {exc.strerror}") from None
        try:
            conn = self._db
            conn.execute("BEGIN IMMEDIATE")
            try:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if app_id != APPLICATION_ID and (app_id != 0 or tables):
                    raise StoreError(f"--state {self.url}: {self.path} is a SQLite database of another program; "
                                     f"name a new file (it was not changed)")
                if version > SCHEMA_VERSION:
                    raise StoreError(f"--state {self.url}: {self.path} was written by a newer report-emulator "
                                     f"(schema {version}, this one knows {SCHEMA_VERSION}); upgrade, or name a new file")
                # Schema 1 is the first: an older one (none exists yet) would be migrated here.
                for statement in SCHEMA.strip().split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"--state {self.url}: {self.path} cannot be used as a store: {exc}") from None

    def _write(self, fn: Callable[[sqlite3.Connection], Any], check: bool = True) -> Any:
        """Run fn inside one write transaction (SQLite's write lock, held across processes), after
        checking the pinned generation in the same transaction (a reset is one such transaction)."""
        started = time.monotonic()
        if not self._writer.acquire(timeout=self._busy_ms / 1000):
            raise sqlite3.OperationalError("database is locked (another thread of this process held the write lock)")
        try:
            conn = self._writer_db()
            self._begin(conn, started + self._busy_ms / 1000)
            return self._write_locked(conn, fn, check)
        finally:
            self._writer.release()

    def _writer_db(self) -> sqlite3.Connection:
        held = self._write_conn
        if held["conn"] is None or held["pid"] != os.getpid():
            held["conn"], held["pid"] = self._connect(busy=0), os.getpid()
        return held["conn"]

    @staticmethod
    def _begin(conn: sqlite3.Connection, deadline: float) -> None:
        """BEGIN IMMEDIATE (SQLite's write lock), trying again every WRITE_RETRY_SECONDS until deadline."""
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # "database is locked", extended codes too
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(WRITE_RETRY_SECONDS)

    def _write_locked(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any], check: bool) -> Any:
        """The rest of a write transaction begun by `_begin`."""
        try:
            pinned = self._pinned.get()
            if check and pinned is not None:
                row = conn.execute("SELECT value FROM kv WHERE ns = ? AND key = ?", (self.namespace, GENERATION)).fetchone()
                current = int(row[0]) if row else 0
                if current != pinned:
                    raise self._stale(current)
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise
        return result

    # --- plain values ----------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM kv WHERE ns = ? AND key = ?", (self.namespace, key)).fetchone()
        return json.loads(row[0]) if row else None

    def get_many(self, keys: list[str]) -> list[Any]:
        marks = ",".join("?" * len(keys))
        rows = dict(self._db.execute(f"SELECT key, value FROM kv WHERE ns = ? AND key IN ({marks})",
                                     (self.namespace, *keys)).fetchall())
        return [json.loads(rows[k]) if k in rows else None for k in keys]

    def put(self, key: str, value: Any) -> None:
        self._write(lambda conn: conn.execute("INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?, ?, ?)",
                                              (self.namespace, key, _dumps(value))))

    def put_if_absent(self, key: str, value: Any) -> Any:
        def run(conn):
            conn.execute("INSERT OR IGNORE INTO kv (ns, key, value) VALUES (?, ?, ?)", (self.namespace, key, _dumps(value)))
            return json.loads(conn.execute("SELECT value FROM kv WHERE ns = ? AND key = ?", (self.namespace, key)).fetchone()[0])

        return self._write(run)

    def delete(self, key: str) -> None:
        self._write(lambda conn: conn.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (self.namespace, key)))

    def update(self, key: str, fn: Callable[[Any], tuple[Any, Any]]) -> Any:
        def run(conn):
            row = conn.execute("SELECT value FROM kv WHERE ns = ? AND key = ?", (self.namespace, key)).fetchone()
            new, result = fn(json.loads(row[0]) if row else None)
            if new is DELETE:
                conn.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (self.namespace, key))
            else:
                conn.execute("INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?, ?, ?)", (self.namespace, key, _dumps(new)))
            return result

        return self._write(run)

    def incr(self, key: str, amount: int = 1) -> int:
        return self._write(lambda conn: self._incr(conn, key, amount))

    def _incr(self, conn: sqlite3.Connection, key: str, amount: int) -> int:
        row = conn.execute(
            "INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value RETURNING value",
            (self.namespace, key, amount)).fetchone()
        return int(row[0])

    def window_hit(self, key: str, now: float, seconds: float) -> tuple[int, float]:
        def run(conn):
            row = conn.execute("SELECT value FROM kv WHERE ns = ? AND key = ?", (self.namespace, key)).fetchone()
            started, count = json.loads(row[0]) if row else (now, 0)
            if now - started >= seconds or now < started:
                started, count = now, 0
            conn.execute("INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?, ?, ?)",
                         (self.namespace, key, _dumps([started, count + 1])))
            return count + 1, started

        return self._write(run)

    # --- maps ------------------------------------------------------------------------------------

    def map_get(self, name: str, field: str) -> Any:
        row = self._db.execute("SELECT value FROM map WHERE ns = ? AND name = ? AND field = ?",
                               (self.namespace, name, field)).fetchone()
        return json.loads(row[0]) if row else None

    def map_put(self, name: str, field: str, value: Any) -> None:
        self._write(lambda conn: conn.execute("INSERT OR REPLACE INTO map (ns, name, field, value) VALUES (?, ?, ?, ?)",
                                              (self.namespace, name, field, _dumps(value))))

    def map_take(self, name: str, field: str) -> Any:
        row = self._write(lambda conn: conn.execute(
            "DELETE FROM map WHERE ns = ? AND name = ? AND field = ? RETURNING value", (self.namespace, name, field)).fetchone())
        return json.loads(row[0]) if row else None

    def map_delete(self, name: str, fields: list[str]) -> None:
        if fields:
            self._write(lambda conn: conn.executemany("DELETE FROM map WHERE ns = ? AND name = ? AND field = ?",
                                                      [(self.namespace, name, f) for f in fields]))

    def map_all(self, name: str) -> dict[str, Any]:
        rows = self._db.execute("SELECT field, value FROM map WHERE ns = ? AND name = ?", (self.namespace, name)).fetchall()
        return {field: json.loads(value) for field, value in rows}

    # --- capped logs -----------------------------------------------------------------------------

    def log_append_many(self, name: str, items: list[dict], max_items: int, max_bytes: int) -> None:
        """Insert, then drop the oldest while over a cap; a running total (log_size) spares a scan per append."""
        texts = [json.dumps(item, separators=(",", ":"), default=str) for item in items]
        added = sum(len(text) for text in texts)

        def run(conn):
            ns = self.namespace
            conn.executemany("INSERT INTO log (ns, name, size, value) VALUES (?, ?, ?, ?)",
                             [(ns, name, len(text), text) for text in texts])
            items, total = conn.execute(
                "INSERT INTO log_size (ns, name, items, bytes) VALUES (?, ?, ?, ?) ON CONFLICT (ns, name) "
                "DO UPDATE SET items = items + excluded.items, bytes = bytes + excluded.bytes RETURNING items, bytes",
                (ns, name, len(texts), added)).fetchone()
            if items <= max_items and total <= max_bytes:
                return
            cut, dropped, dropped_bytes = None, 0, 0
            for seq, size in conn.execute("SELECT seq, size FROM log WHERE ns = ? AND name = ? ORDER BY seq", (ns, name)):
                if items - dropped <= max_items and total - dropped_bytes <= max_bytes:
                    break
                cut, dropped, dropped_bytes = seq, dropped + 1, dropped_bytes + size
            if cut is not None:
                conn.execute("DELETE FROM log WHERE ns = ? AND name = ? AND seq <= ?", (ns, name, cut))
                conn.execute("UPDATE log_size SET items = items - ?, bytes = bytes - ? WHERE ns = ? AND name = ?",
                             (dropped, dropped_bytes, ns, name))

        self._write(run)

    def log_items(self, name: str) -> list[dict]:
        rows = self._db.execute("SELECT value FROM log WHERE ns = ? AND name = ? ORDER BY seq", (self.namespace, name))
        return [json.loads(value) for (value,) in rows]

    def log_clear(self, name: str) -> None:
        def run(conn):
            conn.execute("DELETE FROM log WHERE ns = ? AND name = ?", (self.namespace, name))
            conn.execute("DELETE FROM log_size WHERE ns = ? AND name = ?", (self.namespace, name))

        self._write(run)

    # --- the store as a whole --------------------------------------------------------------------

    def wipe(self, prefixes: list[str] | None = None) -> None:
        def run(conn):
            ns = self.namespace
            if not prefixes:
                conn.execute("DELETE FROM kv WHERE ns = ? AND substr(key, 1, 5) != 'meta:'", (ns,))
                conn.execute("DELETE FROM map WHERE ns = ?", (ns,))
                conn.execute("DELETE FROM log WHERE ns = ?", (ns,))
                conn.execute("DELETE FROM log_size WHERE ns = ?", (ns,))
                return
            for prefix in prefixes:
                n = len(prefix)
                conn.execute("DELETE FROM kv WHERE ns = ? AND substr(key, 1, ?) = ?", (ns, n, prefix))
                conn.execute("DELETE FROM map WHERE ns = ? AND substr(name, 1, ?) = ?", (ns, n, prefix))
                conn.execute("DELETE FROM log WHERE ns = ? AND substr(name, 1, ?) = ?", (ns, n, prefix))
                conn.execute("DELETE FROM log_size WHERE ns = ? AND substr(name, 1, ?) = ?", (ns, n, prefix))

        self._write(run)

    def new_generation(self, values: dict[str, Any], maps: dict[str, dict] | None = None,
                       logs: dict[str, list[dict]] | None = None) -> int:
        def run(conn):
            ns = self.namespace
            generation = self._incr(conn, GENERATION, 1)
            conn.execute("DELETE FROM kv WHERE ns = ? AND substr(key, 1, 5) != 'meta:'", (ns,))
            conn.execute("DELETE FROM map WHERE ns = ? AND substr(name, 1, 5) != 'meta:'", (ns,))
            conn.execute("DELETE FROM log WHERE ns = ? AND substr(name, 1, 5) != 'meta:'", (ns,))
            conn.execute("DELETE FROM log_size WHERE ns = ? AND substr(name, 1, 5) != 'meta:'", (ns,))
            conn.executemany("INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?, ?, ?)",
                             [(ns, key, _dumps(value)) for key, value in {**values, VERSION: new_version()}.items()])
            conn.executemany("INSERT OR REPLACE INTO map (ns, name, field, value) VALUES (?, ?, ?, ?)",
                             [(ns, name, f, _dumps(v)) for name, fields in (maps or {}).items() for f, v in fields.items()])
            for name, items in (logs or {}).items():
                texts = [json.dumps(item, separators=(",", ":"), default=str) for item in items]
                conn.executemany("INSERT INTO log (ns, name, size, value) VALUES (?, ?, ?, ?)",
                                 [(ns, name, len(t), t) for t in texts])
                conn.execute("INSERT OR REPLACE INTO log_size (ns, name, items, bytes) VALUES (?, ?, ?, ?)",
                             (ns, name, len(texts), sum(map(len, texts))))
            return generation

        return self._write(run, check=False)

    def export(self) -> dict:
        db, ns = self._db, self.namespace
        maps: dict[str, dict] = {}
        for name, field, value in db.execute("SELECT name, field, value FROM map WHERE ns = ?", (ns,)):
            maps.setdefault(name, {})[field] = json.loads(value)
        logs: dict[str, list] = {}
        for name, value in db.execute("SELECT name, value FROM log WHERE ns = ? ORDER BY seq", (ns,)):
            logs.setdefault(name, []).append(json.loads(value))
        values = {key: json.loads(value) for key, value in db.execute("SELECT key, value FROM kv WHERE ns = ?", (ns,))}
        return {"values": values, "maps": maps, "logs": logs}

    def drop(self) -> None:
        def run(conn):
            for table in ("kv", "map", "log", "log_size"):
                conn.execute(f"DELETE FROM {table} WHERE ns = ?", (self.namespace,))

        self._write(run, check=False)
        if self.is_view:
            shutil.rmtree(self._folder(), ignore_errors=True)

    def _folder(self) -> str:
        """`state.db.files/` for the store's own namespace; `state.db.tenants/<namespace>/` for a tenant's."""
        if not self.is_view:
            return f"{self.path}.files"
        return os.path.join(f"{self.path}.tenants", self.namespace.replace(":", "-"))

    @property
    def files_dir(self) -> str:
        folder = self._folder()
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=FOLDER_MODE, exist_ok=True)
            os.chmod(folder, FOLDER_MODE)  # the umask may have taken bits away
        return folder

    def close(self) -> None:
        if self.is_view:  # the connections are the parent store's
            return
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local = threading.local()
        with self._writer:
            held = self._write_conn
            if held["conn"] is not None and held["pid"] == os.getpid():
                held["conn"].close()
            held["conn"] = held["pid"] = None
