"""The store's contract, the same for every backend: memory, sqlite:PATH and a real redis-server.

Concurrency is proven with real processes (spawned, so nothing is inherited but the URL) hammering
one key at once: counts are exact and every returned count is distinct, a map field has one taker.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import uuid

import pytest

from emulator.core.store import DELETE, SCHEMA_VERSION, Store, StoreError, open_store

BACKENDS = ["memory", "sqlite", "redis"]
SHARED = ["sqlite", "redis"]


@pytest.fixture
def url_for(request, tmp_path):
    """A function giving the --state URL of a fresh store of the given backend for this test."""

    def url_for(backend: str) -> str:
        if backend == "memory":
            return "memory"
        if backend == "sqlite":
            return f"sqlite:{tmp_path}/state.db"
        return request.getfixturevalue("redis_url")

    return url_for


@pytest.fixture
def make_store(url_for):
    """open_store(url of backend, namespace), closed after the test. Each test has its own namespace,
    so tests sharing the session's redis-server never see each other."""
    opened: list[Store] = []
    test_ns = f"test-{uuid.uuid4().hex[:8]}"

    def make(backend: str, namespace: str = "") -> Store:
        store = open_store(url_for(backend), f"{test_ns}{namespace}")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=BACKENDS)
def store(request, make_store) -> Store:
    return make_store(request.param)


@pytest.fixture(params=SHARED)
def shared_backend(request) -> str:
    return request.param


def size(item) -> int:
    return len(json.dumps(item, separators=(",", ":")))


# --- plain values --------------------------------------------------------------------------------


def test_kind_and_sharing(store):
    assert store.kind in BACKENDS
    assert store.shared == (store.kind != "memory")


def test_values_round_trip(store):
    values = {"dict": {"a": [1, 2.5, None, True], "b": {"c": "ü €"}}, "list": [1, "two", {"three": 3}],
              "text": "héllo \"quoted\"\n", "int": 12345678901234, "float": 0.1, "false": False, "zero": 0}
    for key, value in values.items():
        store.put(key, value)
    for key, value in values.items():
        assert store.get(key) == value
    assert store.get("missing") is None
    assert store.get_many(["int", "missing", "text"]) == [values["int"], None, values["text"]]
    assert store.get_many([]) == []
    store.put("text", "replaced")
    assert store.get("text") == "replaced"
    store.delete("text")
    store.delete("never-there")
    assert store.get("text") is None


def test_put_if_absent_keeps_the_first(store):
    assert store.put_if_absent("k", {"first": 1}) == {"first": 1}
    assert store.put_if_absent("k", {"second": 2}) == {"first": 1}
    assert store.get("k") == {"first": 1}


def test_update_reads_writes_and_returns_the_result(store):
    assert store.update("u", lambda current: ({"n": 1, "was": current}, "made")) == "made"
    assert store.get("u") == {"n": 1, "was": None}
    assert store.update("u", lambda current: ({"n": current["n"] + 1}, current["n"])) == 1
    assert store.get("u") == {"n": 2}


def test_update_honours_delete(store):
    store.put("u", [1, 2])
    assert store.update("u", lambda current: (DELETE, current)) == [1, 2]
    assert store.get("u") is None
    assert store.update("u", lambda current: (DELETE, current)) is None  # deleting nothing is fine


def test_an_exception_in_update_leaves_the_value_unchanged(store):
    store.put("u", {"n": 1})

    def fail(current):
        raise LookupError("no")

    with pytest.raises(LookupError):
        store.update("u", fail)
    assert store.get("u") == {"n": 1}
    with pytest.raises(LookupError):
        store.update("absent", fail)
    assert store.get("absent") is None
    assert store.update("u", lambda current: ({"n": current["n"] + 1}, "ok")) == "ok"  # the store still works
    assert store.get("u") == {"n": 2}


def test_incr(store):
    assert store.incr("c") == 1
    assert store.incr("c") == 2
    assert store.incr("c", 10) == 12
    assert store.incr("c", -5) == 7
    assert store.get("c") == 7
    assert store.incr("other", 3) == 3


def test_window_hit_counts_in_a_fixed_window(store):
    start = 1_768_435_200.123456789  # a float that a careless 14-digit rounding would change
    assert store.window_hit("w", start, 60) == (1, start)
    assert store.window_hit("w", start + 30, 60) == (2, start)
    assert store.window_hit("w", start + 59.5, 60) == (3, start)
    assert store.window_hit("w", start + 60, 60) == (1, start + 60)  # the window ended: a new one starts
    assert store.window_hit("w", start + 61, 60) == (2, start + 60)
    assert store.window_hit("w", start + 10, 60) == (1, start + 10)  # the clock moved back before it
    assert store.window_hit("other", start, 1) == (1, start)


# --- maps ----------------------------------------------------------------------------------------


def test_maps(store):
    assert store.map_get("m", "a") is None
    assert store.map_all("m") == {}
    store.map_put("m", "a", {"v": 1})
    store.map_put("m", "b", [2])
    store.map_put("m", "c", "three")
    store.map_put("m", "a", {"v": 11})
    assert store.map_get("m", "a") == {"v": 11}
    assert store.map_all("m") == {"a": {"v": 11}, "b": [2], "c": "three"}
    store.map_delete("m", ["b", "not-there"])
    store.map_delete("m", [])
    assert store.map_all("m") == {"a": {"v": 11}, "c": "three"}
    assert store.map_all("other") == {}


def test_map_take_gives_the_value_once(store):
    store.map_put("m", "token", {"user": "u1"})
    assert store.map_take("m", "token") == {"user": "u1"}
    assert store.map_take("m", "token") is None
    assert store.map_get("m", "token") is None
    assert store.map_take("never", "x") is None


def test_a_value_and_a_map_of_one_name_do_not_collide(store):
    store.put("same", 1)
    store.map_put("same", "f", 2)
    store.log_append("same", {"i": 3}, 10, 1000)
    assert (store.get("same"), store.map_all("same"), store.log_items("same")) == (1, {"f": 2}, [{"i": 3}])


# --- capped logs ---------------------------------------------------------------------------------


def test_log_keeps_order_and_caps_by_items_keeping_the_newest(store):
    assert store.log_items("j") == []
    for i in range(12):
        store.log_append("j", {"i": i, "path": "/x"}, 5, 1_000_000)
    assert store.log_items("j") == [{"i": i, "path": "/x"} for i in range(7, 12)]


def test_log_caps_by_bytes_keeping_the_newest(store):
    items = [{"i": i, "pad": "x" * 50} for i in range(10, 30)]
    each = size(items[0])
    for item in items:
        store.log_append("j", item, 1000, 3 * each + each // 2)  # room for three and a half
    assert store.log_items("j") == items[-3:]
    store.log_append("j", {"pad": "y" * (4 * each)}, 1000, 3 * each)  # larger than the cap alone
    assert store.log_items("j") == []
    store.log_append("j", items[0], 1000, 3 * each)  # the byte count starts again from nothing
    store.log_append("j", items[1], 1000, 3 * each)
    assert store.log_items("j") == items[:2]


def test_log_byte_cap_counts_only_what_is_kept(store):
    """After items were dropped by count, the byte cap applies to the items left, not to all ever added."""
    item = {"pad": "z" * 100}
    for _ in range(50):
        store.log_append("j", item, 3, 10 * size(item))
    assert len(store.log_items("j")) == 3
    for _ in range(3):
        store.log_append("j", item, 10, 10 * size(item))
    assert len(store.log_items("j")) == 6


def test_log_clear(store):
    store.log_append("j", {"i": 1}, 10, 1000)
    store.log_append("k", {"i": 2}, 10, 1000)
    store.log_clear("j")
    assert store.log_items("j") == []
    assert store.log_items("k") == [{"i": 2}]
    store.log_append("j", {"i": 3}, 10, 1000)
    assert store.log_items("j") == [{"i": 3}]


# --- the store as a whole ------------------------------------------------------------------------


def test_identity_is_made_once_and_kept(store):
    identity = store.identity()
    assert len(identity["instance"]) == 16 and len(identity["secret"]) == 64
    assert store.identity() == identity


def fill(store: Store) -> None:
    for prefix in ("echo360:", "parkup:", "clock"):
        store.put(f"{prefix}value", 1)
        store.map_put(f"{prefix}map", "f", 2)
        store.log_append(f"{prefix}log", {"i": 3}, 10, 1000)


def contents(store: Store) -> list:
    return [(store.get(f"{p}value"), store.map_all(f"{p}map"), store.log_items(f"{p}log"))
            for p in ("echo360:", "parkup:", "clock")]


def test_wipe_keeps_meta_and_identity(store):
    identity = store.identity()
    store.put("meta:generation", 4)
    fill(store)
    store.wipe()
    assert contents(store) == [(None, {}, [])] * 3
    assert store.identity() == identity
    assert store.get("meta:generation") == 4
    fill(store)  # usable after a wipe
    assert contents(store) == [(1, {"f": 2}, [{"i": 3}])] * 3


def test_wipe_with_prefixes_removes_only_those(store):
    fill(store)
    store.wipe(["echo360:", "parkup:"])
    assert contents(store) == [(None, {}, []), (None, {}, []), (1, {"f": 2}, [{"i": 3}])]


def test_files_dir_is_a_writable_folder(store):
    folder = store.files_dir
    assert os.path.isdir(folder) and store.files_dir == folder
    with open(os.path.join(folder, "report.csv"), "w") as f:
        f.write("a,b\n")


def test_a_redis_store_keeps_files_in_a_temporary_folder_removed_on_close(make_store):
    store = make_store("redis")
    folder = store.files_dir
    assert os.path.isdir(folder)
    store.close()
    assert not os.path.exists(folder)


def test_a_second_store_on_the_same_url_sees_the_same_state(make_store, shared_backend):
    one, two = make_store(shared_backend), make_store(shared_backend)
    one.put("k", {"v": 1})
    one.map_put("m", "f", 2)
    one.log_append("j", {"i": 3}, 10, 1000)
    assert (two.get("k"), two.map_get("m", "f"), two.log_items("j")) == ({"v": 1}, 2, [{"i": 3}])
    assert two.identity() == one.identity()


def test_namespaces_isolate_two_stores_on_one_database(make_store, shared_backend):
    a, b = make_store(shared_backend, "-a"), make_store(shared_backend, "-b")
    fill(a)
    assert contents(b) == [(None, {}, [])] * 3
    assert a.identity() != b.identity()
    fill(b)
    b.put("only-b", True)
    a.wipe()
    assert contents(a) == [(None, {}, [])] * 3
    assert contents(b) == [(1, {"f": 2}, [{"i": 3}])] * 3
    assert a.get("only-b") is None and b.get("only-b") is True


def test_a_redis_namespace_with_glob_characters_is_matched_literally(make_store):
    """wipe SCANs with a pattern: a namespace `x*` must not wipe the namespace `xy`."""
    star, other = make_store("redis", "*[a]"), make_store("redis", "-a")
    other.put("k", 1)
    star.put("k", 2)
    star.wipe()
    assert (star.get("k"), other.get("k")) == (None, 1)


# --- real processes ------------------------------------------------------------------------------

WORKERS = 4
ROUNDS = 60
FIELDS = [f"token-{i}" for i in range(300)]


def hammer(url: str, namespace: str, barrier, results) -> None:
    """One process: many increments, window hits and updates on the same keys as the others, then
    every process takes the same map fields in the same order."""
    store = open_store(url, namespace)
    barrier.wait()
    counts, hits, updates, taken = [], [], [], []
    for _ in range(ROUNDS):
        counts.append(store.incr("counter"))
        hits.append(store.window_hit("window", 1000.5, 3600)[0])
        updates.append(store.update("dict", lambda d: ({"n": (d or {"n": 0})["n"] + 1}, (d or {"n": 0})["n"] + 1)))
    barrier.wait()
    for field in FIELDS:
        if store.map_take("tokens", field) is not None:
            taken.append(field)
    store.close()
    results.put((counts, hits, updates, taken))


def test_processes_hammering_one_key_get_exact_counts_and_one_taker(make_store, url_for, shared_backend):
    store = make_store(shared_backend)
    for field in FIELDS:
        store.map_put("tokens", field, {"field": field})
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=hammer, args=(url_for(shared_backend), store.namespace, barrier, results))
             for _ in range(WORKERS)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0

    total = WORKERS * ROUNDS
    every = list(range(1, total + 1))
    assert sorted(c for counts, _, _, _ in outcomes for c in counts) == every  # no lost or doubled increment
    assert sorted(h for _, hits, _, _ in outcomes for h in hits) == every
    assert sorted(u for _, _, updates, _ in outcomes for u in updates) == every
    assert store.get("counter") == total
    assert store.window_hit("window", 1000.5, 3600) == (total + 1, 1000.5)
    assert store.get("dict") == {"n": total}
    taken = [field for _, _, _, fields in outcomes for field in fields]
    assert sorted(taken) == sorted(FIELDS)  # each field taken exactly once
    assert store.map_all("tokens") == {}


def forked_child(store: Store) -> None:
    for _ in range(20):
        store.incr("forked")
    store.map_put("m", "child", os.getpid())


def test_a_store_opened_before_a_fork_works_in_parent_and_child(make_store, shared_backend):
    """A forked worker (gunicorn, granian) must not share the parent's sockets or connections."""
    store = make_store(shared_backend)
    assert store.incr("forked") == 1  # the parent's connection is open before the fork
    child = multiprocessing.get_context("fork").Process(target=forked_child, args=(store,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert store.incr("forked") == 22
    assert store.map_get("m", "child") == child.pid


# --- bad input -----------------------------------------------------------------------------------


def one_line_error(url: str, namespace: str = "emulator") -> str:
    with pytest.raises(StoreError) as caught:
        open_store(url, namespace)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_an_unknown_url_is_refused():
    assert "not a store" in one_line_error("postgres://localhost/db")


@pytest.mark.parametrize("url", ["redis://127.0.0.1:port/0", "redis://127.0.0.1:6379/zero",
                                 "redis://[::1/0", "redis://127.0.0.1:6379/0?db=x"])
def test_a_malformed_redis_url_is_refused(url):
    assert "not a valid redis URL" in one_line_error(url)


def test_an_unreachable_redis_is_refused():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert "cannot reach the redis server" in one_line_error(f"redis://127.0.0.1:{port}/0")


def test_a_redis_that_refuses_the_credentials_is_refused(redis_url):
    url = redis_url.replace("redis://", "redis://nobody:wrong-password@")
    message = one_line_error(url)
    assert "refused the credentials" in message
    assert "wrong-password" not in message  # the password is masked


def test_a_redis_namespace_of_a_newer_emulator_is_refused_and_kept(make_store):
    store = make_store("redis")
    store.put("meta:schema", SCHEMA_VERSION + 1)
    store.put("k", "kept")
    assert "newer report-emulator" in one_line_error(store.url, store.namespace)
    assert store.get("meta:schema") == SCHEMA_VERSION + 1 and store.get("k") == "kept"


def test_a_redis_namespace_with_a_foreign_schema_marker_is_refused(make_store):
    store = make_store("redis")
    store.put("meta:schema", "v2-beta")
    assert "another program" in one_line_error(store.url, store.namespace)


def test_a_new_redis_namespace_is_marked_with_the_schema(make_store):
    assert make_store("redis").get("meta:schema") == SCHEMA_VERSION


def test_a_text_file_is_not_a_sqlite_store(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    assert "cannot be used as a store" in one_line_error(f"sqlite:{path}")
    assert path.read_text() == "not a database\n" * 100


def test_a_folder_is_not_a_sqlite_store(tmp_path):
    assert "is a folder" in one_line_error(f"sqlite:{tmp_path}")


def test_a_missing_folder_is_refused(tmp_path):
    assert "does not exist" in one_line_error(f"sqlite:{tmp_path}/nowhere/state.db")


def test_a_path_that_cannot_be_written_is_refused(tmp_path):
    if os.geteuid() == 0:  # root writes through permission bits: use a folder no one can create files in
        url = "sqlite:/proc/report-emulator-state.db"
    else:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        url = f"sqlite:{folder}/state.db"
    message = one_line_error(url)
    assert "not writable" in message or "cannot be used as a store" in message


def test_a_sqlite_database_of_another_program_is_refused_and_untouched(tmp_path):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('ada')")
    before = path.read_bytes()
    assert "another program" in one_line_error(f"sqlite:{path}")
    assert path.read_bytes() == before


def test_a_sqlite_store_of_a_newer_emulator_is_refused_and_untouched(tmp_path):
    path = tmp_path / "state.db"
    store = open_store(f"sqlite:{path}")
    store.put("k", "kept")
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert "newer report-emulator" in one_line_error(f"sqlite:{path}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
        assert conn.execute("SELECT value FROM kv WHERE key = 'k'").fetchone()[0] == '"kept"'
    conn.close()


# --- temporary file folders (memory and redis stores) ---------------------------------------------------


def test_a_killed_process_folder_is_removed_by_the_next_store_and_a_live_one_is_kept(tmp_path):
    """Orphans are told by their owner lock, not a process id: a process in another PID namespace
    (a container, `unshare --pid`) must not take a live process's folder for an orphan."""
    import shutil
    import signal
    import subprocess
    import sys

    from emulator.core.store.memory import MemoryStore

    live = MemoryStore().files_dir
    killed = subprocess.Popen([sys.executable, "-c", "import os, signal, sys\n"
                               "from emulator.core.store.memory import MemoryStore\n"
                               "print(MemoryStore().files_dir, flush=True)\n"
                               "os.kill(os.getpid(), signal.SIGKILL)"], stdout=subprocess.PIPE, text=True)
    orphan = killed.stdout.readline().strip()
    assert killed.wait(timeout=30) == -signal.SIGKILL and os.path.isdir(orphan)
    sweep = "from emulator.core.store.memory import MemoryStore; MemoryStore().files_dir"
    unshare = shutil.which("unshare")
    command = [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", sweep] if unshare and os.geteuid() == 0 \
        else [sys.executable, "-c", sweep]
    subprocess.run(command, check=True, timeout=60)
    assert not os.path.exists(orphan)
    assert os.path.isdir(live)


def test_log_append_many_keeps_order_and_the_caps(store):
    store.log_append_many("j", [{"i": i} for i in range(4)], 10, 1_000_000)
    store.log_append_many("j", [{"i": i} for i in range(4, 9)], 6, 1_000_000)
    assert [e["i"] for e in store.log_items("j")] == [3, 4, 5, 6, 7, 8]


def test_group_commit_writes_the_appends_that_waited_in_one_step(shared_backend, make_store):
    """While one append is being written, the others gather; the next writer stores them all at once."""
    import threading

    from emulator.core.journal import RequestLog

    store = make_store(shared_backend)
    calls: list[int] = []
    first_in, release = threading.Event(), threading.Event()
    plain = store.log_append_many

    def log_append_many(name, items, max_items, max_bytes):
        calls.append(len(items))
        if len(calls) == 1:
            first_in.set()
            release.wait(10)
        return plain(name, items, max_items, max_bytes)

    store.log_append_many = log_append_many
    log = RequestLog(store, "journal", 1000, 1_000_000)
    threads = [threading.Thread(target=log.record, args=({"i": 0},))]
    threads[0].start()
    assert first_in.wait(10)
    threads += [threading.Thread(target=log.record, args=({"i": i},)) for i in range(1, 11)]
    for thread in threads[1:]:
        thread.start()
    while len(log._group._waiting) < 10:  # all ten are waiting behind the first write
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert calls == [1, 10]
    assert sorted(e["i"] for e in log.items()) == list(range(11)) and log.items()[0] == {"i": 0}


def test_group_commit_refuses_a_group_of_a_replaced_generation_whole(shared_backend, make_store):
    from emulator.core.journal import RequestLog
    from emulator.core.store import StaleGeneration

    store = make_store(shared_backend)
    log = RequestLog(store, "journal", 1000, 1_000_000)
    store.pin_generation(0)
    log.record({"i": 1})
    store.pin_generation(None)
    store.new_generation({})
    store.pin_generation(0)  # a call of the old world
    with pytest.raises(StaleGeneration):
        log.record({"i": 2})
    store.pin_generation(None)
    assert log.items() == []  # the reset emptied it, and the stale entry never landed
