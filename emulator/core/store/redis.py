"""The Redis store (redis-py): shared by replicas on any number of machines.

Every key is `report-emulator:{namespace}:{type}:{name}`, the type being `v` (a JSON value or a
counter), `h` (a map, a Redis hash), `l` (a capped log, a list of JSON) or `n` (a log's byte total),
so a value and a map of the same name never collide and a namespace is one SCAN pattern.

Each method is one atomic operation in as few round trips as possible: plain commands, a small Lua
script where a check-then-act must be atomic (scripts run whole, nothing interleaves), and
WATCH/MULTI/EXEC for `update`, whose function runs in Python. One client with a connection pool
per process: a forked child makes its own (sockets must not be shared across a fork).
Generated report files are regenerated on demand by any replica, so each process keeps its own
temporary folder, as the memory store does.
"""
from __future__ import annotations

import json
import os
import re
import threading
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from . import (DELETE, GENERATION, OPERATION_TIMEOUT_SECONDS, SCHEMA_VERSION, VERSION, Store, StaleGeneration,
               StoreError, new_version, outages_answered)
from .memory import TemporaryFiles

# A server that is gone, or frozen (SIGSTOP: it accepts connections but never answers), fails one
# call within these; the request is answered 503 (an outage, see Store.outage).
CONNECT_TIMEOUT = OPERATION_TIMEOUT_SECONDS
SOCKET_TIMEOUT = OPERATION_TIMEOUT_SECONDS
SCAN_BATCH = 500  # keys per SCAN step and per UNLINK in wipe
# A rate-limit window's key lives this long (real seconds) after its last hit, so the key of a token
# nobody uses any more goes away by itself. It is longer than any window (60 s of emulator time).
WINDOW_LIFETIME_SECONDS = 86400
# Redis's own answers that mean "not now" rather than "wrong": loading, out of memory, a read-only replica...
OUTAGE_REPLIES = ("LOADING", "MISCONF", "OOM", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN")


def _retry(times: int = 1) -> Retry:
    """Retry a command once on a dropped connection (a server restart, an idle socket closed), soon.

    Never on a timeout: a frozen server would make every call wait twice."""
    return Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=times, supported_errors=(redis.ConnectionError,))


# Every script's KEYS[1] is the generation key and ARGV[1] the generation its caller pinned ('' when
# none): a script that finds another generation writes nothing and answers STALE (StaleGeneration).
CHECK = """
if ARGV[1] ~= '' and (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then
  return redis.error_reply('STALE_GENERATION')
end
"""

# A plain command, checked: ARGV[2] is the command; its keys are KEYS[2..], its arguments ARGV[3..].
COMMAND = CHECK + """
local args = {}
for i = 2, #KEYS do args[#args + 1] = KEYS[i] end
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
return redis.call(ARGV[2], unpack(args))
"""

PUT_IF_ABSENT = CHECK + """
redis.call('SET', KEYS[2], ARGV[2], 'NX')
return redis.call('GET', KEYS[2])
"""

# KEYS (after the generation's): the window. ARGV (after the pinned generation): now, seconds, the
# key's lifetime in ms. Stored as `[started,count]`, the JSON the other backends store. `started` is
# kept as the text Python wrote (Lua would round a float it formats itself).
WINDOW_HIT = CHECK + """
local now, seconds = tonumber(ARGV[2]), tonumber(ARGV[3])
local started, count = ARGV[2], 0
local stored = redis.call('GET', KEYS[2])
if stored then
  local text, n = string.match(stored, '^%[([^,]+),(%d+)%]$')
  local t = text and tonumber(text)
  if t and now - t < seconds and now >= t then started, count = text, tonumber(n) end
end
count = count + 1
redis.call('SET', KEYS[2], '[' .. started .. ',' .. string.format('%d', count) .. ']', 'PX', ARGV[4])
return {count, started}
"""

MAP_TAKE = CHECK + """
local value = redis.call('HGET', KEYS[2], ARGV[2])
if value then redis.call('HDEL', KEYS[2], ARGV[2]) end
return value
"""

# KEYS (after the generation's): the list, its byte total. ARGV (after the pinned generation): the
# item's JSON, max items, max bytes.
LOG_APPEND = CHECK + """
local max_items, max_bytes = tonumber(ARGV[2]), tonumber(ARGV[3])
local count, added = 0, 0
for i = 4, #ARGV do
  count = redis.call('RPUSH', KEYS[2], ARGV[i])
  added = added + string.len(ARGV[i])
end
local total = redis.call('INCRBY', KEYS[3], added)
if count <= max_items and total <= max_bytes then return count end
while count > 0 and (count > max_items or total > max_bytes) do
  total = total - string.len(redis.call('LPOP', KEYS[2]))
  count = count - 1
end
if count == 0 then redis.call('DEL', KEYS[2], KEYS[3]) else redis.call('SET', KEYS[3], total) end
return count
"""

# A reset or a snapshot's restore, whole, in one script (nothing interleaves): KEYS: the generation
# key. ARGV: the namespace's SCAN pattern, where a key's name starts (past `{type}:`), a JSON object
# {"maps": {key: {field: text}}, "logs": {key: [text]}} to write (empty for a reset), then key/value
# pairs to put (the new meta:version token among them). Every meta:* key stays (schema, instance id,
# link secret, id serials). The namespace holds few keys (maps and capped lists, not one key per
# item), so the scan is short.
NEW_GENERATION = """
local generation = redis.call('INCR', KEYS[1])
local from = tonumber(ARGV[2])
local cursor = '0'
repeat
  local found = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = found[1]
  for _, key in ipairs(found[2]) do
    if string.sub(key, from, from + 4) ~= 'meta:' then redis.call('UNLINK', key) end
  end
until cursor == '0'
local collections = cjson.decode(ARGV[3])
for key, fields in pairs(collections.maps) do
  for field, text in pairs(fields) do redis.call('HSET', key, field, text) end
end
for key, texts in pairs(collections.logs) do
  for _, text in ipairs(texts) do redis.call('RPUSH', key, text) end
end
for i = 4, #ARGV, 2 do redis.call('SET', ARGV[i], ARGV[i + 1]) end
return generation
"""

SCRIPTS = {"command": COMMAND, "put_if_absent": PUT_IF_ABSENT, "window_hit": WINDOW_HIT, "map_take": MAP_TAKE,
           "log_append": LOG_APPEND, "new_generation": NEW_GENERATION}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _glob_escape(text: str) -> str:
    """Escape Redis's glob characters, so a namespace is matched literally by SCAN MATCH."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@outages_answered
class RedisStore(TemporaryFiles, Store):
    kind = "redis"
    shared = True

    def __init__(self, url: str, namespace: str = "emulator"):
        super().__init__(url, namespace)
        self._prefix = f"report-emulator:{namespace}:"
        self._lock = threading.Lock()
        self._pid = -1
        try:
            self._connect()
            self._check_schema()
        except StoreError:
            self.close()
            raise

    # --- connections -----------------------------------------------------------------------------

    def _connect(self) -> None:
        """A client with its own pool for this process, and the scripts registered on it."""
        try:
            parts = urlsplit(self.url)
            if parts.scheme in ("redis", "rediss") and parts.path in ("", "/"):
                raise ValueError("no /DB: name the database number after the port, e.g. /0")  # as the README's table
            if parts.scheme in ("redis", "rediss") and not re.fullmatch(r"/\d+", parts.path):
                raise ValueError("the database must be a number")  # redis-py would quietly use 0
            client = redis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT,
                                          socket_timeout=SOCKET_TIMEOUT, retry=_retry())
        except (ValueError, TypeError) as exc:
            raise StoreError(f"--state {self.describe()}: not a valid redis URL ({_one_line(exc)}); "
                             f"use redis://[:PASSWORD@]HOST:PORT/DB") from None
        self._client = client
        self._scripts = {name: client.register_script(source) for name, source in SCRIPTS.items()}
        self._pid = os.getpid()

    @property
    def _redis(self) -> redis.Redis:
        if self._pid != os.getpid():  # forked: never use the parent's sockets
            with self._lock:
                if self._pid != os.getpid():
                    self._connect()
        return self._client

    def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of SCRIPTS, checked against the pinned generation (EVALSHA; redis-py loads it again
        if the server lost it)."""
        client = self._redis
        pinned = self._pinned.get()
        try:
            return self._scripts[script](keys=[self._generation_key, *keys],
                                         args=["" if pinned is None else pinned, *args], client=client)
        except redis.ResponseError as exc:
            if str(exc).startswith("STALE_GENERATION"):
                raise self._stale(self._redis.get(self._generation_key)) from None
            raise

    def _command(self, command: str, keys: list[str], *args: Any) -> Any:
        """A plain write: the command itself outside a request, a checked script inside one."""
        if self._pinned.get() is None:
            return self._redis.execute_command(command, *keys, *args)
        return self._run("command", keys, [command, *args])

    def _check_schema(self) -> None:
        """Reach the server and refuse a namespace written by a newer emulator; mark a new one.

        The first contact does not retry, so an unreachable server is reported after one timeout."""
        client = self._client
        client.set_retry(_retry(0))
        try:
            # Unguarded: at start-up an unreachable server is a StoreError, not an outage.
            stored = type(self).put_if_absent.__wrapped__(self, "meta:schema", SCHEMA_VERSION)
        except redis.AuthenticationError as exc:
            raise StoreError(f"--state {self.describe()}: the server refused the credentials ({_one_line(exc)})") from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreError(f"--state {self.describe()}: cannot reach the redis server ({_one_line(exc)})") from None
        except redis.RedisError as exc:
            raise StoreError(f"--state {self.describe()}: the redis server cannot be used as a store ({_one_line(exc)})") from None
        except ValueError:  # not JSON
            stored = "not JSON"
        finally:
            client.set_retry(_retry())
        if not isinstance(stored, int):
            raise StoreError(f"--state {self.describe()}: namespace {self.namespace!r} holds a meta:schema of "
                             f"another program ({stored!r}); use another database or namespace")
        if stored > SCHEMA_VERSION:
            raise StoreError(f"--state {self.describe()}: namespace {self.namespace!r} was written by a newer "
                             f"report-emulator (schema {stored}, this one knows {SCHEMA_VERSION}); upgrade, "
                             f"or use another database")
        # Schema 1 is the first: an older one (none exists yet) would be migrated here.

    def describe(self) -> str:
        """The URL with any password masked (it is printed in the banner)."""
        try:
            parts = urlsplit(self.url)
            if parts.password is None:
                return self.url
            user = parts.username or ""
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return self.url.split("@")[-1] if "@" in self.url else self.url
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))

    def outage_reason(self, exc: Exception) -> str | None:
        if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
            return _one_line(exc)
        if isinstance(exc, redis.ResponseError) and str(exc).startswith(OUTAGE_REPLIES):
            return _one_line(exc)
        return None

    def _key(self, tag: str, name: str) -> str:
        return f"{self._prefix}{tag}:{name}"

    @property
    def _generation_key(self) -> str:
        return self._key("v", GENERATION)

    # --- plain values ----------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        return _loads(self._redis.get(self._key("v", key)))

    def get_many(self, keys: list[str]) -> list[Any]:
        if not keys:
            return []
        return [_loads(text) for text in self._redis.mget([self._key("v", k) for k in keys])]

    def put(self, key: str, value: Any) -> None:
        self._command("SET", [self._key("v", key)], _dumps(value))

    def put_if_absent(self, key: str, value: Any) -> Any:
        return _loads(self._run("put_if_absent", [self._key("v", key)], [_dumps(value)]))

    def delete(self, key: str) -> None:
        self._command("DEL", [self._key("v", key)])

    def update(self, key: str, fn: Callable[[Any], tuple[Any, Any]]) -> Any:
        """WATCH the key, read it, run fn, write in MULTI/EXEC; run again if another writer got there first."""
        name = self._key("v", key)
        pinned = self._pinned.get()

        def attempt(pipe: redis.client.Pipeline) -> Any:
            if pinned is not None:  # the generation key is watched too: a reset after this check fails EXEC
                current = pipe.get(self._generation_key)
                if int(current or 0) != pinned:
                    raise self._stale(current)
            new, result = fn(_loads(pipe.get(name)))  # an exception here aborts: nothing was queued
            pipe.multi()
            if new is DELETE:
                pipe.delete(name)
            else:
                pipe.set(name, _dumps(new))
            return result

        return self._redis.transaction(attempt, name, self._generation_key, value_from_callable=True)

    def incr(self, key: str, amount: int = 1) -> int:
        return int(self._command("INCRBY", [self._key("v", key)], amount))

    def window_hit(self, key: str, now: float, seconds: float) -> tuple[int, float]:
        lifetime = int((max(seconds, 0) + WINDOW_LIFETIME_SECONDS) * 1000)
        count, started = self._run("window_hit", [self._key("v", key)], [_dumps(now), _dumps(seconds), lifetime])
        return count, json.loads(started)

    # --- maps ------------------------------------------------------------------------------------

    def map_get(self, name: str, field: str) -> Any:
        return _loads(self._redis.hget(self._key("h", name), field))

    def map_put(self, name: str, field: str, value: Any) -> None:
        self._command("HSET", [self._key("h", name)], field, _dumps(value))

    def map_take(self, name: str, field: str) -> Any:
        return _loads(self._run("map_take", [self._key("h", name)], [field]))

    def map_delete(self, name: str, fields: list[str]) -> None:
        if fields:
            self._command("HDEL", [self._key("h", name)], *fields)

    def map_all(self, name: str) -> dict[str, Any]:
        return {field: json.loads(value) for field, value in self._redis.hgetall(self._key("h", name)).items()}

    # --- capped logs -----------------------------------------------------------------------------

    def log_append_many(self, name: str, items: list[dict], max_items: int, max_bytes: int) -> None:
        # ASCII JSON (json.dumps's default), so its length in characters is its length in bytes.
        texts = [json.dumps(item, separators=(",", ":"), default=str) for item in items]
        self._run("log_append", [self._key("l", name), self._key("n", name)], [max_items, max_bytes, *texts])

    def log_items(self, name: str) -> list[dict]:
        return [json.loads(text) for text in self._redis.lrange(self._key("l", name), 0, -1)]

    def log_clear(self, name: str) -> None:
        self._command("DEL", [self._key("l", name), self._key("n", name)])

    # --- the store as a whole --------------------------------------------------------------------

    def wipe(self, prefixes: list[str] | None = None) -> None:
        """SCAN the namespace and UNLINK in batches. Not one atomic step: a write racing a wipe may
        survive it (a scenario that changes the world; a reset is `new_generation`, which is atomic)."""
        skip = len(self._prefix) + 2  # past `{type}:`

        def doomed(key: str) -> bool:
            name = key[skip:]
            return name.startswith(tuple(prefixes)) if prefixes else not name.startswith("meta:")

        self._unlink_where(doomed)

    def _unlink_where(self, doomed: Callable[[str], bool]) -> None:
        """SCAN this namespace's keys and UNLINK those `doomed` names, in batches."""
        client = self._redis
        batch: list[str] = []
        for key in client.scan_iter(match=_glob_escape(self._prefix) + "*", count=SCAN_BATCH):
            if doomed(key):
                batch.append(key)
            if len(batch) >= SCAN_BATCH:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)

    def new_generation(self, values: dict[str, Any], maps: dict[str, dict] | None = None,
                       logs: dict[str, list[dict]] | None = None) -> int:
        values = {**values, VERSION: new_version()}
        pairs = [item for key, value in values.items() for item in (self._key("v", key), _dumps(value))]
        collections: dict[str, dict] = {"maps": {}, "logs": {}}
        for name, fields in (maps or {}).items():
            collections["maps"][self._key("h", name)] = {field: _dumps(value) for field, value in fields.items()}
        for name, items in (logs or {}).items():
            texts = [json.dumps(item, separators=(",", ":"), default=str) for item in items]
            if texts:
                collections["logs"][self._key("l", name)] = texts
                pairs += [self._key("n", name), str(sum(map(len, texts)))]
        client = self._redis
        return int(self._scripts["new_generation"](
            keys=[self._generation_key],
            args=[_glob_escape(self._prefix) + "*", len(self._prefix) + 3, json.dumps(collections), *pairs], client=client))

    def namespaced(self, namespace: str) -> "RedisStore":
        view = super().namespaced(namespace)
        view._prefix = f"report-emulator:{namespace}:"
        view._files = None  # a temporary folder of its own, made on first use
        return view

    def export(self) -> dict:
        client = self._redis
        skip = len(self._prefix)
        state: dict = {"values": {}, "maps": {}, "logs": {}}
        for key in client.scan_iter(match=_glob_escape(self._prefix) + "*", count=SCAN_BATCH):
            tag, name = key[skip:skip + 1], key[skip + 2:]
            if tag == "v":
                value = client.get(key)
                if value is not None:
                    state["values"][name] = json.loads(value)
            elif tag == "h":
                state["maps"][name] = {f: json.loads(v) for f, v in client.hgetall(key).items()}
            elif tag == "l":
                state["logs"][name] = [json.loads(t) for t in client.lrange(key, 0, -1)]
        return state

    def drop(self) -> None:
        self._unlink_where(lambda key: True)
        self.close_files()

    def close(self) -> None:
        self.close_files()
        if self.is_view:  # the client is the parent store's
            return
        client = getattr(self, "_client", None)
        if client is not None and self._pid == os.getpid():
            client.close()
