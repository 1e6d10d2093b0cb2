"""Several emulator processes on one shared store behave as one emulator (issue: past one core).

Each guarantee is proved through real HTTP against real `serve` processes: two replicas on one
SQLite file, two replicas on one real redis-server, and `serve --workers 2` on SQLite (the server
itself, faults and drain included, is covered by tests/test_workers.py).
"""
from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from servers import EmulatorProcess

NOW = "2026-01-15T00:00:00Z"
REPORTING = "/public/api/v1/reporting"


class Replica(EmulatorProcess):
    def __init__(self, state: str, *args: str):
        super().__init__("--state", state, "--clock", "manual", "--now", NOW, *args)


JOURNAL_CAP = 20  # every replica is started with --journal-cap 20


@pytest.fixture(params=["sqlite", "redis", "workers"])
def fleet(request, tmp_path):
    """Two replicas sharing one store (SQLite or Redis), or one `serve --workers 2` on SQLite (both
    URLs are the same server, whose two workers take connections in turn); reset before the test."""
    if request.param == "redis":
        state = request.getfixturevalue("redis_url")
        import redis

        redis.Redis.from_url(state).flushdb()
    else:
        state = f"sqlite:{tmp_path / 'state.db'}"
    if request.param == "workers":
        servers = [Replica(state, "--workers", "2", "--journal-cap", str(JOURNAL_CAP))]
        servers.append(servers[0])
    else:
        servers = [Replica(state, "--journal-cap", str(JOURNAL_CAP)), Replica(state, "--journal-cap", str(JOURNAL_CAP))]
    requests.post(f"{servers[0].url}/_emulator/reset", json={})
    yield servers[0].url, servers[1].url
    for server in servers:
        server.stop()


def token(url: str) -> str:
    creds = requests.get(f"{url}/_emulator/credentials").json()["echo360"]
    return requests.post(f"{url}/oauth2/access_token", params={"grant_type": "client_credentials", **creds}).json()["access_token"]


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def test_one_clock(fleet):
    a, b = fleet
    moved = requests.post(f"{a}/_emulator/clock/advance", json={"seconds": 3600}).json()
    assert requests.get(f"{b}/_emulator/clock").json() == moved
    requests.post(f"{b}/_emulator/clock", json={"now": "2026-02-01T00:00:00Z"})
    assert requests.get(f"{a}/_emulator/clock").json()["now"] == "2026-02-01T00:00:00Z"


def test_a_reset_through_one_is_seen_by_all(fleet):
    a, b = fleet
    old = token(a)
    assert requests.get(f"{b}{REPORTING}/reports", headers=bearer(old)).status_code == 200
    requests.post(f"{a}/_emulator/clock/advance", json={"seconds": 60})
    assert requests.post(f"{b}/_emulator/reset", json={}).status_code == 200
    assert requests.get(f"{a}/_emulator/clock").json()["now"] == NOW
    assert requests.get(f"{a}{REPORTING}/reports", headers=bearer(old)).status_code == 401


def test_one_scenario_whose_times_are_exact_across_replicas(fleet):
    a, b = fleet
    scenario = {"name": "once", "rules": [{"name": "once", "match": {"path": "/api/v1/health"}, "times": 1,
                                           "respond": {"status": 418, "json": {"error": "teapot"}}}]}
    assert requests.put(f"{a}/_emulator/scenario", json=scenario).status_code == 200
    assert requests.get(f"{b}/_emulator/scenario").json()["scenario"]["name"] == "once"
    org = requests.get(f"{a}/_emulator/credentials").json()["strigo"]
    headers = {"Authorization": f"Bearer {org['api_key']}", "x-strigo-org-id": org["org_id"]}
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda n: requests.get(f"{(a, b)[n % 2]}/api/v1/health", headers=headers).status_code,
                                 range(40)))
    assert statuses.count(418) == 1
    rules = requests.get(f"{b}/_emulator/scenario").json()["rules"]
    assert (rules[0]["matched"], rules[0]["answered"]) == (40, 1)


def test_one_rate_limit_window_counted_across_replicas(fleet):
    a, b = fleet
    requests.put(f"{a}/_emulator/scenario", json={"name": "limited", "falkor": {"rate_limit": 5}})
    creds = requests.get(f"{a}/_emulator/credentials").json()["falkor"]
    headers = {"Authorization": f"Basic {creds['token']}", "Content-Type": "application/json"}
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda n: requests.post(f"{(a, b)[n % 2]}/v1/logs/pathway-logs", json={},
                                                         headers=headers).status_code, range(12)))
    assert statuses.count(429) == 7


def test_one_journal_in_order_of_arrival_and_capped(fleet):
    a, b = fleet
    for n in range(JOURNAL_CAP + 5):
        requests.get(f"{(a, b)[n % 2]}/api/v1/health", params={"n": n})
    entries = requests.get(f"{b}/_emulator/journal").json()["requests"]
    assert [e["query"] for e in entries] == [f"n={n}" for n in range(5, JOURNAL_CAP + 5)]  # the newest, in order
    assert requests.get(f"{a}/_emulator/journal").json()["requests"] == entries


def test_echo360_across_replicas(fleet):
    a, b = fleet
    shared = token(a)  # a token from one replica works on the other
    body = {"parameters": {"start": "2026-01-10", "end": "2026-01-11"}, "output": {"compression": True}}

    def submit(n: int) -> int:
        return requests.post(f"{(a, b)[n % 2]}{REPORTING}/requests/confused", json=body, headers=bearer(shared)).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(submit, range(10)))
    assert statuses.count(200) == 3 and statuses.count(400) == 7  # the in-flight limit of 3 holds across replicas
    listed_a = requests.get(f"{a}{REPORTING}/requests", headers=bearer(shared)).json()["requests"]
    listed_b = requests.get(f"{b}{REPORTING}/requests", headers=bearer(shared)).json()["requests"]
    assert listed_a == listed_b and len(listed_a) == 3
    requests.post(f"{b}/_emulator/clock/advance", json={"seconds": 600})
    request_id = listed_a[0]["requestId"]
    link = requests.get(f"{a}{REPORTING}/requests/{request_id}", headers=bearer(shared)).json()["signedAssets"][0]
    from_a = requests.get(link)
    from_b = requests.get(link.replace(a, b))
    assert from_a.status_code == from_b.status_code == 200
    assert from_a.content == from_b.content and gzip.decompress(from_a.content)
