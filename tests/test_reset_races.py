"""A reset is one step for every other call, on every store (issue 16, section 3).

First the store's own promise, on each backend: `new_generation` replaces the whole state at once,
and a write that carries the replaced generation fails and changes nothing (also from another
connection, as another process would hold).

Real `serve` processes on each store (memory; `--workers 2` on one SQLite file; two replicas on one
real redis-server) take Echo360 traffic from several client threads (tokens, refresh grants,
submissions, listings, clock moves, downloads) while another thread resets about every 0.5 s. Then:
no token or request id was issued twice; nothing received before a reset was sent works after that
reset answered (old tokens 401, old request ids 404, old links 403, never listed); the in-flight
limit of 3 Pending requests held in every listing; a download was the whole file or AccessDenied;
and no call answered 5xx.
"""
from __future__ import annotations

import contextvars
import gzip
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest
import requests
from servers import EmulatorProcess

from emulator.core.store import StaleGeneration, open_store

NOW = "2026-01-15T00:00:00Z"
REPORTING = "/public/api/v1/reporting"
TRAFFIC_SECONDS = 6.0
MAX_SECONDS = 15.0
RESET_EVERY = 0.5  # seconds between resets
IN_FLIGHT_LIMIT = 3
REPORT = {"parameters": {"start": "2026-01-13", "end": "2026-01-14"}}  # assetbydate, one day: a small file


@pytest.fixture
def stores(request, tmp_path):
    """Two store objects on one fresh backend (two connections, as two processes hold; memory: one object)."""
    backend = request.param
    url = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 'state.db'}"}.get(backend) or request.getfixturevalue("redis_url")
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    first = open_store(url, namespace)
    second = first if backend == "memory" else open_store(url, namespace)
    yield first, second
    for store in {id(first): first, id(second): second}.values():
        store.close()


def writes(store) -> list:
    """Every write method of the store interface, once each."""
    return [lambda: store.put("x", 1), lambda: store.put_if_absent("y", 1), lambda: store.delete("fresh"),
            lambda: store.update("fresh", lambda v: (3, None)), lambda: store.incr("n"),
            lambda: store.window_hit("w", 1.0, 60), lambda: store.map_put("m", "b", 1), lambda: store.map_take("m2", "a"),
            lambda: store.map_delete("m2", ["a"]), lambda: store.log_append("l", {"a": 1}, 10, 1000),
            lambda: store.log_clear("l2")]


@pytest.mark.parametrize("stores", ["memory", "sqlite", "redis"], indirect=True)
def test_a_write_of_a_replaced_generation_fails_and_changes_nothing(stores):
    resetter, writer = stores
    identity = resetter.identity()
    resetter.put("kept", 1)
    resetter.map_put("m", "a", 1)
    resetter.log_append("l", {"a": 1}, 10, 1000)
    first = resetter.new_generation({"fresh": 2, "m2": None})
    assert resetter.get("kept") is None and resetter.map_all("m") == {} and resetter.log_items("l") == []
    assert writer.get("fresh") == 2 and writer.identity() == identity  # meta:* survives

    resetter.map_put("m2", "a", 1)
    resetter.log_append("l2", {"a": 1}, 10, 1000)
    call = contextvars.Context()  # the writer's call: its pin is its own, as a request's is
    call.run(writer.pin_generation, first)
    for write in writes(writer):  # the pinned generation is the current one: every write works
        call.run(write)
    second = resetter.new_generation({"fresh": 2})
    assert second == first + 1
    resetter.map_put("m2", "a", 1)
    resetter.log_append("l2", {"a": 1}, 10, 1000)
    for write in writes(writer):
        with pytest.raises(StaleGeneration):
            call.run(write)
    assert [writer.get(k) for k in ("x", "y", "fresh", "n", "w")] == [None, None, 2, None, None]
    assert writer.map_all("m") == {} and writer.map_all("m2") == {"a": 1}
    assert writer.log_items("l") == [] and writer.log_items("l2") == [{"a": 1}]
    call.run(writer.pin_generation, second)
    for write in writes(writer):
        call.run(write)


@pytest.mark.parametrize("stores", ["memory", "sqlite", "redis"], indirect=True)
def test_a_reset_keeps_the_stores_identity_and_writes_a_new_random_version(stores):
    """What replicas rely on (core/registry.py): meta:* survives a reset, and meta:version becomes a
    new random token, never a count another copy of the store could reach too."""
    resetter, reader = stores
    identity = resetter.identity()
    resetter.put_if_absent("meta:version", "before")
    serial = resetter.incr("meta:scenario_serial")
    versions = {"before"}
    for _ in range(3):
        resetter.new_generation({"start": {"seed": 1}})
        version = reader.get("meta:version")
        assert isinstance(version, str) and len(version) == 16 and version not in versions
        versions.add(version)
    assert reader.identity() == identity
    assert reader.get("meta:scenario_serial") == serial and reader.get("start") == {"seed": 1}


def test_no_token_or_request_id_is_issued_again_after_a_reset(report_emulator, http):
    """Ids and tokens carry the reset generation: the serial they are drawn with starts again after a
    reset, but nothing issued before one is ever issued again (its old holder could use it)."""
    url = report_emulator.url
    echo, parkup = report_emulator.credentials["echo360"], report_emulator.credentials["parkup"]
    issued: list[str] = []
    for _ in range(4):
        token = http.post(f"{url}/oauth2/access_token", params={"grant_type": "client_credentials", **echo}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        request_id = http.post(f"{url}{REPORTING}/requests/assetbydate", headers=auth, json=REPORT).json()["requestId"]
        parkup_token = http.post(f"{url}/api/v3/business/oauth/access_token",
                                 json={"refresh_token": parkup["refresh_token"], "grant_type": "refresh_token"})
        issued += [token["access_token"], token["refresh_token"], request_id, parkup_token.json()["access_token"]]
        assert http.post(f"{url}/_emulator/reset", json={}).status_code == 200  # the same seed and start each time
        assert http.get(f"{url}{REPORTING}/reports", headers=auth).status_code == 401
    assert len(issued) == 16 and len(set(issued)) == len(issued), issued


@pytest.fixture(params=["memory", "sqlite-workers", "redis-replicas"])
def servers(request, tmp_path):
    """The base URLs that clients spread their calls over (two for two processes)."""
    if request.param == "memory":
        started = [EmulatorProcess("--clock", "manual", "--now", NOW)]
    elif request.param == "sqlite-workers":
        started = [EmulatorProcess("--state", f"sqlite:{tmp_path / 'state.db'}", "--workers", "2",
                                   "--clock", "manual", "--now", NOW)]
    else:
        url = request.getfixturevalue("redis_url")
        import redis

        redis.Redis.from_url(url).flushdb()
        started = [EmulatorProcess("--state", url, "--clock", "manual", "--now", NOW)]
        started.append(EmulatorProcess("--state", url, "--clock", "manual", "--now", NOW))
    yield [s.url for s in started] * (2 // len(started))
    for server in started:
        server.stop()


class Race:
    """What every thread saw: each answer's status, what was issued when, and the resets' times."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.statuses: Counter = Counter()
        self.server_errors: list[str] = []
        self.problems: list[str] = []
        self.resets: list[tuple[float, float]] = []  # (sent, answered), monotonic
        self.issued: dict[str, list] = {"token": [], "request": [], "link": []}  # (value, received)
        self.probed: set[tuple[str, str]] = set()
        creds = requests.get(f"{urls[0]}/_emulator/credentials", timeout=10).json()["echo360"]
        self.client_id, self.client_secret = creds["client_id"], creds["client_secret"]

    def call(self, session: requests.Session, method: str, url: str, **kwargs) -> requests.Response:
        response = session.request(method, url, timeout=30, **kwargs)
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{method} {urlsplit(url).path} -> {response.status_code} {response.text[:300]}")
        return response

    def url(self, n: int) -> str:
        return self.urls[n % len(self.urls)]

    def issue(self, kind: str, value: str, received: float) -> None:
        with self.lock:
            self.issued[kind].append((value, received))

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def reset_since(self, received: float) -> float | None:
        """When the first reset sent after `received` answered (None: none has yet)."""
        with self.lock:
            done = [answered for sent, answered in self.resets if sent > received]
        return min(done) if done else None

    def token(self, session: requests.Session, n: int) -> tuple[str | None, str | None]:
        """An access token (and its refresh token), recorded as issued."""
        response = self.call(session, "POST", f"{self.url(n)}/oauth2/access_token",
                             data={"grant_type": "client_credentials", "client_id": self.client_id,
                                   "client_secret": self.client_secret})
        received = time.monotonic()
        if response.status_code != 200:
            return None, None
        body = response.json()
        self.issue("token", body["access_token"], received)
        self.issue("token", body["refresh_token"], received)
        return body["access_token"], body["refresh_token"]

    def rounds(self, n: int):
        """Until the race stops: (session, n, auth headers) for each round that got a token."""
        session = requests.Session()
        while not self.stop.is_set():
            n += 1
            token, _ = self.token(session, n)
            if token is not None:
                yield session, n, {"Authorization": f"Bearer {token}"}


def take_tokens(race: Race, n: int) -> None:
    """Client credentials, then a refresh grant with the refresh token."""
    session = requests.Session()
    while not race.stop.is_set():
        n += 1
        _, refresh = race.token(session, n)
        if refresh is None:
            continue
        response = race.call(session, "POST", f"{race.url(n + 1)}/oauth2/access_token",
                             data={"grant_type": "refresh_token", "client_id": race.client_id, "refresh_token": refresh})
        received = time.monotonic()
        if response.status_code == 200:
            race.issue("token", response.json()["access_token"], received)
            race.issue("token", response.json()["refresh_token"], received)
        elif response.status_code != 401:  # 401: a reset came between the two grants
            race.problem(f"refresh grant answered {response.status_code}: {response.text[:200]}")


def submit_and_list(race: Race, n: int) -> None:
    """Submit reports, and check every listing: at most 3 Pending, nothing from before a finished reset."""
    for session, n, auth in race.rounds(n):
        for _ in range(4):
            response = race.call(session, "POST", f"{race.url(n)}{REPORTING}/requests/assetbydate", headers=auth,
                                 json=REPORT)
            if response.status_code == 200:
                race.issue("request", response.json()["requestId"], time.monotonic())
            elif response.status_code == 400:
                assert "in-flight limit" in response.json()["error"]
            sent = time.monotonic()
            listing = race.call(session, "GET", f"{race.url(n + 1)}{REPORTING}/requests", headers=auth)
            if listing.status_code != 200:
                break  # the token went with a reset
            listed = listing.json()["requests"]
            pending = [r["requestId"] for r in listed if r["status"] == "Pending"]
            if len(pending) > IN_FLIGHT_LIMIT:
                race.problem(f"{len(pending)} requests Pending at once: {pending}")
            with race.lock:
                old = {value for value, received in race.issued["request"]
                       if any(s > received and a < sent for s, a in race.resets)}
            for r in listed:
                if r["requestId"] in old:
                    race.problem(f"request {r['requestId']} from before a finished reset is listed after it")


def download(race: Race, n: int) -> None:
    """Submit, move the clock past processing, download: the whole file or AccessDenied, never a 5xx."""
    for session, n, auth in race.rounds(n):
        advance = {"seconds": 130}  # past the processing time: frees the in-flight slots, makes reports Available
        race.call(session, "POST", f"{race.url(n + 1)}/_emulator/clock/advance", json=advance)
        response = race.call(session, "POST", f"{race.url(n)}{REPORTING}/requests/assetbydate", headers=auth,
                             json=REPORT)
        if response.status_code != 200:
            continue
        request_id = response.json()["requestId"]
        race.issue("request", request_id, time.monotonic())
        race.call(session, "POST", f"{race.url(n + 1)}/_emulator/clock/advance", json=advance)
        detail = race.call(session, "GET", f"{race.url(n)}{REPORTING}/requests/{request_id}", headers=auth)
        if detail.status_code != 200 or detail.json()["status"] != "Available":
            continue
        link = detail.json()["signedAssets"][0]
        race.issue("link", link, time.monotonic())
        for i in range(6):  # again and again, through either process, until a reset takes it
            got = race.call(session, "GET", link.replace(race.url(n), race.url(n + i)))
            if got.status_code == 200:
                if len(got.content) != int(got.headers["Content-Length"]):
                    race.problem(f"download cut short: {len(got.content)} of {got.headers['Content-Length']} bytes")
                gzip.decompress(got.content)  # the whole gzip member, or this raises
            elif got.status_code != 403 or "<Code>AccessDenied</Code>" not in got.text:
                race.problem(f"download answered {got.status_code}: {got.text[:200]}")
            else:
                break


def reset(race: Race) -> None:
    session = requests.Session()
    n = 0
    while not race.stop.is_set():
        n += 1
        sent = time.monotonic()
        response = race.call(session, "POST", f"{race.url(n)}/_emulator/reset", json={})
        answered = time.monotonic()
        if response.status_code != 200:
            race.problem(f"reset answered {response.status_code}: {response.text[:200]}")
        with race.lock:
            race.resets.append((sent, answered))
        race.stop.wait(RESET_EVERY)


def probe(race: Race, final: bool = False) -> None:
    """Everything received before a reset was sent must be dead once that reset answered."""
    session = requests.Session()
    while True:
        with race.lock:
            due = [(kind, value, received) for kind, items in race.issued.items() for value, received in items
                   if (kind, value) not in race.probed]
        for kind, value, received in due:
            if race.reset_since(received) is None:
                continue
            with race.lock:
                race.probed.add((kind, value))
            if kind == "token":
                got = race.call(session, "GET", f"{race.url(len(race.probed))}{REPORTING}/reports",
                                headers={"Authorization": f"Bearer {value}"})
                if got.status_code != 401:
                    race.problem(f"a token from before a reset answered {got.status_code} after it")
            elif kind == "request":
                fresh, _ = race.token(session, len(race.probed))
                if fresh is None:
                    continue
                got = race.call(session, "GET", f"{race.url(len(race.probed) + 1)}{REPORTING}/requests/{value}",
                                headers={"Authorization": f"Bearer {fresh}"})
                if got.status_code not in (401, 404):  # 401: the fresh token went with a later reset
                    race.problem(f"request {value} from before a reset answered {got.status_code} after it")
            else:
                got = race.call(session, "GET", value)
                if got.status_code != 403:
                    race.problem(f"a link from before a reset answered {got.status_code} after it")
        if final or race.stop.wait(0.2):
            return


def warm_up(race: Race) -> None:
    """One report through each process before the race (the first builds the seeded world), then a reset."""
    session = requests.Session()
    for url in dict.fromkeys(race.urls):
        token, _ = race.token(session, 0)
        auth = {"Authorization": f"Bearer {token}"}
        request_id = race.call(session, "POST", f"{url}{REPORTING}/requests/assetbydate", headers=auth,
                               json=REPORT).json()["requestId"]
        race.call(session, "POST", f"{url}/_emulator/clock/advance", json={"seconds": 130})
        link = race.call(session, "GET", f"{url}{REPORTING}/requests/{request_id}", headers=auth).json()["signedAssets"][0]
        assert race.call(session, "GET", link).status_code == 200
    assert race.call(session, "POST", f"{race.urls[0]}/_emulator/reset", json={}).status_code == 200
    race.issued = {kind: [] for kind in race.issued}


def test_resets_racing_traffic(servers):
    race = Race(servers)
    failures: list[BaseException] = []

    def spawn(target, *args) -> threading.Thread:
        def run():
            try:
                target(race, *args)
            except BaseException as exc:  # an assertion or a broken connection in a client thread
                failures.append(exc)
                race.stop.set()

        return threading.Thread(target=run)

    workers = [spawn(take_tokens, 0), spawn(take_tokens, 1), spawn(submit_and_list, 0), spawn(submit_and_list, 1),
               spawn(download, 0), spawn(reset), spawn(probe)]
    warm_up(race)
    for thread in workers:
        thread.start()
    # TRAFFIC_SECONDS, or longer on a busy machine until enough resets and downloads happened (at most MAX_SECONDS).
    started = time.monotonic()
    while not race.stop.wait(0.2) and time.monotonic() - started < MAX_SECONDS:
        if time.monotonic() - started > TRAFFIC_SECONDS and len(race.resets) >= 8 and len(race.issued["link"]) >= 3:
            break
    race.stop.set()
    for thread in workers:
        thread.join(60)
    # One last reset after every call has been answered: then nothing issued during the race works.
    sent = time.monotonic()
    assert requests.post(f"{servers[0]}/_emulator/reset", json={}, timeout=30).status_code == 200
    race.resets.append((sent, time.monotonic()))
    probe(race, final=True)

    print(f"{len(race.resets)} resets; statuses {dict(race.statuses)}; issued "
          f"{ {kind: len(items) for kind, items in race.issued.items()} }; probed {len(race.probed)}")
    assert not failures, failures
    assert not race.server_errors, race.server_errors[:5]
    assert not race.problems, race.problems[:10]
    for kind in ("token", "request"):
        values = [value for value, _ in race.issued[kind]]
        twice = [value for value, count in Counter(values).items() if count > 1]
        assert not twice, f"{len(twice)} {kind}s issued twice"
    # The race really raced: many resets, and plenty of each kind of call in between.
    assert len(race.resets) >= 8
    assert len(race.issued["token"]) >= 100 and len(race.issued["request"]) >= 10, race.statuses
    assert len(race.issued["link"]) >= 3, race.statuses
    assert all((kind, value) in race.probed for kind, items in race.issued.items()
               for value, received in items if received < sent)  # (the prober's own tokens come after)
