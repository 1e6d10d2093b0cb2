"""Snapshots: GET/PUT /_emulator/snapshot and `serve --snapshot FILE` (issue 18), through real HTTP
against real `serve` processes: a round trip on one server, and a snapshot taken on `memory`
restored on `sqlite:` and on `redis://`."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import uuid

import pytest
import requests
from servers import EmulatorProcess
from test_tenants import fleet  # noqa: F401 (memory; sqlite --workers 2; two replicas on one Redis)

from emulator.core.store import open_store

NOW = "2026-01-15T00:00:00Z"
REPORTING = "/public/api/v1/reporting"
PARKUP_TOKEN = "/api/v3/business/oauth/access_token"
PARKUP_REPORT = "/api/v3/business/report/event/user"
SCENARIO = {"name": "counted", "echo360": {"processing_seconds": 600, "outcomes": ["Failed", "Available"]},
            "rules": [{"name": "first-two", "match": {"path": "/api/v1/health"}, "times": 2,
                       "respond": {"status": 503, "json": {"error": "busy"}}}]}


def serve(state: str = "memory", *args: str) -> EmulatorProcess:
    return EmulatorProcess("--state", state, "--clock", "manual", "--now", NOW, *args)


@pytest.fixture(scope="module")
def memory_server():
    server = serve()
    yield server.url
    server.stop()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def strigo_headers(url: str) -> dict:
    creds = requests.get(f"{url}/_emulator/credentials").json()["strigo"]
    return {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}


def build_state(url: str) -> dict:
    """Echo360 requests in every status, a scenario half-way through its counters, tokens, a moved clock."""
    assert requests.post(f"{url}/_emulator/reset", json={}).status_code == 200
    assert requests.put(f"{url}/_emulator/scenario", json=SCENARIO).status_code == 200
    assert requests.get(f"{url}/api/v1/health", headers=strigo_headers(url)).status_code == 503  # 1 of 2 answered
    creds = requests.get(f"{url}/_emulator/credentials").json()
    echo = requests.post(f"{url}/oauth2/access_token",
                         params={"grant_type": "client_credentials", **creds["echo360"]}).json()["access_token"]
    body = {"parameters": {"start": "2026-01-10", "end": "2026-01-11"}, "output": {"compression": True}}
    for report in ("confused", "confused"):  # Failed, then Available
        assert requests.post(f"{url}{REPORTING}/requests/{report}", json=body, headers=bearer(echo)).status_code == 200
    requests.post(f"{url}/_emulator/clock/advance", json={"seconds": 900})
    assert requests.post(f"{url}{REPORTING}/requests/confused", json=body, headers=bearer(echo)).status_code == 200  # Pending
    parkup = requests.post(f"{url}{PARKUP_TOKEN}", json={"refresh_token": creds["parkup"]["refresh_token"],
                                                         "grant_type": "refresh_token"}).json()["access_token"]
    return {"echo360": echo, "parkup": parkup}


def answers(url: str, tokens: dict, journal: bool = True) -> dict:
    """Every answer a client sees: clock, scenario counters, Echo360 lists, statuses, downloads, ParkUp
    (and the journal as it was before these calls)."""
    recorded = requests.get(f"{url}/_emulator/journal").json()["requests"]
    listed = requests.get(f"{url}{REPORTING}/requests", headers=bearer(tokens["echo360"]))
    assert listed.status_code == 200, listed.text
    details, downloads = [], []
    for item in listed.json()["requests"]:
        detail = requests.get(f"{url}{REPORTING}/requests/{item['requestId']}", headers=bearer(tokens["echo360"])).json()
        for link in detail.get("signedAssets", []):
            assert link.startswith(url)
            got = requests.get(link)
            downloads.append((link[len(url):], got.status_code, got.content))
        detail["signedAssets"] = [link[len(url):] for link in detail.get("signedAssets", [])]  # the host differs
        details.append(detail)
    user = requests.get(f"{url}/_emulator/world").json()["parkup"]["users"][0]
    parkup = requests.post(f"{url}{PARKUP_REPORT}", headers=bearer(tokens["parkup"]),
                           json={"customerId": user["customerId"], "refId": user["refId"],
                                 "from": "2000-01-01T00:00:00.000Z", "until": "2100-01-01T00:00:00.000Z"})
    found = {"clock": requests.get(f"{url}/_emulator/clock").json(),
             "scenario": requests.get(f"{url}/_emulator/scenario").json(),
             "requests": listed.json(), "details": details, "downloads": downloads,
             "parkup": (parkup.status_code, parkup.content)}
    if journal:
        found["journal"] = [(e["method"], e["path"], e["query"], e["status"], e["at"]) for e in recorded]
    return found


def change_everything(url: str, tokens: dict) -> None:
    requests.post(f"{url}/_emulator/clock/advance", json={"seconds": 86400 * 20})  # every request expires
    requests.get(f"{url}/api/v1/health", headers=strigo_headers(url))  # the rule's second answer
    requests.put(f"{url}/_emulator/scenario", json={"name": "other", "seed": 9})  # another world, vendor state gone
    requests.post(f"{url}/_emulator/reset", json={"seed": 3})


def statuses(found: dict) -> list[str]:
    return sorted(d["status"] for d in found["details"])


def through_the_other_process(fleet) -> str:
    """Tenant a's URL on the fleet's second process (the same one on memory and SQLite workers)."""
    a, b, _ = fleet
    return a.replace(a.split("/tenants/")[0], b.split("/tenants/")[0])


def test_round_trip(fleet):
    """On every store: take, change everything, restore (through another replica on Redis), and every
    answer is as it was."""
    url = fleet[0]
    tokens = build_state(url)
    before = answers(url, tokens, journal=False)
    assert statuses(before) == ["Available", "Failed", "Pending"]
    assert [d[1] for d in before["downloads"]] == [200] and gzip.decompress(before["downloads"][0][2])
    assert before["scenario"]["rules"][0]["answered"] == 1
    snapshot = requests.get(f"{url}/_emulator/snapshot?journal=1")
    assert snapshot.status_code == 200 and snapshot.headers["Content-Type"] == "application/json"
    document = snapshot.json()
    assert (document["format"], document["format_version"], document["tenant"]) == ("report-emulator-snapshot", 1, "team-a")
    journal_before = requests.get(f"{url}/_emulator/journal").json()["requests"]
    change_everything(url, tokens)
    assert requests.get(f"{url}/_emulator/clock").json() != before["clock"]
    assert requests.get(f"{url}{REPORTING}/requests", headers=bearer(tokens["echo360"])).status_code == 401
    restored = requests.put(f"{through_the_other_process(fleet)}/_emulator/snapshot", data=snapshot.content,
                            headers={"Content-Type": "application/json"})
    assert restored.status_code == 200, restored.text
    assert restored.json()["now"] == before["clock"]["now"]
    assert requests.get(f"{url}/_emulator/journal").json()["requests"] == journal_before
    assert answers(url, tokens, journal=False) == before  # every answer (lists, statuses, downloads, counters, clock)
    # the restored scenario goes on counting from where it was: its second answer, then the real one
    assert [requests.get(f"{url}/api/v1/health", headers=strigo_headers(url)).status_code for _ in range(2)] == [503, 200]


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_a_new_generation_holds_exactly_an_exported_state(backend, tmp_path, request):
    """The store step a restore takes (new_generation with maps and logs): the namespace becomes exactly
    the exported state, its own bookkeeping (meta:*) kept and its generation moved on."""
    url = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 'state.db'}"}.get(backend) or request.getfixturevalue("redis_url")
    root = open_store(url, f"test-{uuid.uuid4().hex[:8]}")
    source, target = root.namespaced("tenant:source"), root.namespaced("tenant:target")
    try:
        source.put("clock", {"now": 1})
        source.incr("echo360:serial", 5)
        source.map_put("echo360:requests", "r1", {"status": "Available", "links": ["/s3/x"]})
        for n in range(3):
            source.log_append("journal", {"n": n, "path": "/é"}, 10, 10_000)
        target.put("gone", 1)
        target.map_put("gone-map", "f", 1)
        target.log_append("gone-log", {"n": 1}, 10, 1000)
        target.put("meta:instance", "target's")
        state = source.export()
        generation = target.new_generation(state["values"], state["maps"], state["logs"])
        assert generation == 1 and target.get("meta:generation") == 1
        exported = target.export()
        assert {k: v for k, v in exported["values"].items() if not k.startswith("meta:")} == {"clock": {"now": 1}, "echo360:serial": 5}
        assert exported["maps"] == state["maps"] and exported["logs"] == state["logs"]
        assert exported["values"]["meta:instance"] == "target's"  # not in the state given: kept
        assert target.incr("echo360:serial") == 6  # a counter goes on counting
        for n in range(3, 12):  # a restored log keeps its caps (10 items)
            target.log_append("journal", {"n": n, "path": "/é"}, 10, 10_000)
        assert [item["n"] for item in target.log_items("journal")] == list(range(2, 12))
    finally:
        for store in (source, target):
            store.drop()
        root.close()


def test_a_restore_is_one_step_for_every_other_call(fleet):
    """Restores of two snapshots, one after the other, while other calls list the tenant's Echo360
    requests with a token both hold: every listing is one snapshot's whole, never a mix, an empty list
    or a refused token (on the shared stores, restored through one process and read through another);
    and another tenant's listing never moves."""
    a, b, _ = fleet
    tokens = build_state(a)  # a token and 3 requests (Failed, Available, Pending)
    listed_3 = requests.get(f"{a}{REPORTING}/requests", headers=bearer(tokens["echo360"])).json()
    three = requests.get(f"{a}/_emulator/snapshot").content
    requests.post(f"{a}/_emulator/clock/advance", json={"seconds": 900})  # the Pending one completes
    body = {"parameters": {"start": "2026-01-10", "end": "2026-01-11"}}
    assert requests.post(f"{a}{REPORTING}/requests/confused", json=body, headers=bearer(tokens["echo360"])).status_code == 200
    listed_4 = requests.get(f"{a}{REPORTING}/requests", headers=bearer(tokens["echo360"])).json()
    four = requests.get(f"{a}/_emulator/snapshot").content
    assert len(listed_3["requests"]) == 3 and len(listed_4["requests"]) == 4
    requests.post(f"{b}/_emulator/reset", json={})
    token_b = requests.post(f"{b}/oauth2/access_token", params={"grant_type": "client_credentials",
                                                              **requests.get(f"{b}/_emulator/credentials").json()["echo360"]}).json()["access_token"]
    assert requests.post(f"{b}{REPORTING}/requests/confused", json=body, headers=bearer(token_b)).status_code == 200
    listed_b = requests.get(f"{b}{REPORTING}/requests", headers=bearer(token_b)).json()
    stop, seen, restores = threading.Event(), [], []
    restore_url = through_the_other_process(fleet)

    def restore():
        for n in range(16):
            restores.append(requests.put(f"{restore_url}/_emulator/snapshot", data=(three, four)[n % 2],
                                         headers={"Content-Type": "application/json"}).status_code)
        stop.set()

    def read(url, token):
        for _ in range(50):  # two readers stay within Echo360's 120 calls a minute per token
            if stop.is_set():
                break
            answer = requests.get(f"{url}{REPORTING}/requests", headers=bearer(token))
            seen.append((url, answer.status_code, answer.json() if answer.status_code == 200 else answer.text))

    threads = [threading.Thread(target=restore), threading.Thread(target=read, args=(a, tokens["echo360"])),
               threading.Thread(target=read, args=(a, tokens["echo360"])), threading.Thread(target=read, args=(b, token_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert restores == [200] * 16
    in_a = [(status, found) for url, status, found in seen if url == a]
    assert in_a and all(status == 200 for status, _ in in_a), [x for x in in_a if x[0] != 200][:3]
    assert all(found in (listed_3, listed_4) for _, found in in_a), [f for _, f in in_a if f not in (listed_3, listed_4)][:1]
    assert all(found == listed_b for url, _, found in seen if url == b)
    assert requests.get(f"{a}{REPORTING}/requests", headers=bearer(tokens["echo360"])).json() == listed_4  # the last one


def test_gzip_and_journal_on_request(memory_server):
    url = f"{memory_server}/tenants/gzip-one"
    build_state(url)
    raw = requests.get(f"{url}/_emulator/snapshot", headers={"Accept-Encoding": "gzip"}, stream=True).raw.read()
    assert raw[:2] == b"\x1f\x8b"
    document = json.loads(gzip.decompress(raw))
    assert "journal" not in document["state"]["logs"] and document["journal"] is False
    with_journal = requests.get(f"{url}/_emulator/snapshot", params={"journal": "1"}).json()
    assert with_journal["state"]["logs"]["journal"]
    # a gzip body restores too; without a journal in it, the journal starts empty
    assert requests.put(f"{url}/_emulator/snapshot", data=raw, headers={"Content-Type": "application/json"}).status_code == 200
    assert requests.get(f"{url}/_emulator/journal").json()["requests"] == []


@pytest.mark.parametrize("target", ["sqlite", "redis"])
def test_a_snapshot_from_memory_restores_on_sqlite_and_redis(memory_server, target, tmp_path, request):
    source = f"{memory_server}/tenants/from-memory-{target}"
    tokens = build_state(source)
    document = requests.get(f"{source}/_emulator/snapshot", params={"journal": "1"}).content
    before = answers(source, tokens)
    if target == "sqlite":
        servers = [serve(f"sqlite:{tmp_path / 'state.db'}", "--workers", "2")]
    else:
        import redis

        state = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/6"
        redis.Redis.from_url(state).flushdb()
        servers = [serve(state), serve(state)]
    try:
        for tenant in ("default", "golden"):
            put_url = servers[0].url if tenant == "default" else f"{servers[0].url}/tenants/golden"
            read_url = servers[-1].url if tenant == "default" else f"{servers[-1].url}/tenants/golden"
            response = requests.put(f"{put_url}/_emulator/snapshot", data=document, headers={"Content-Type": "application/json"})
            assert response.status_code == 200, response.text
            after = answers(read_url, tokens)  # tokens and links issued on memory work here, on another process too
            assert after == before
    finally:
        for server in servers:
            server.stop()


BAD = {
    "not json": (b"this is not a snapshot", "not valid JSON"),
    "foreign": (json.dumps({"format": "localstack-pod", "state": {}}).encode(), "not a report-emulator snapshot"),
    "newer": (None, "newer report-emulator"),
    "incomplete": (None, "lacks clock"),
    "malformed clock": (None, "malformed"),
    "a list": (b"[1, 2]", "JSON object"),
    "empty": (b"", "empty"),
}


# A hand-edited world: the same field checks and bounds as a scenario's `world` (each failed on first use before).
BAD_WORLDS = {
    "world echo360 cannot make": ({"echo360": {"courses": 0}}, "world.echo360.courses"),
    "world past its bound": ({"falkor": {"pathway_count": 1_000_000}}, "world.falkor.pathway_count"),
    "world of the wrong type": ({"parkup": {"customer_count": "many"}}, "world.parkup.customer_count"),
}


@pytest.mark.parametrize("case", [*BAD, *BAD_WORLDS, "truncated", "truncated gzip", "bad scenario"])
def test_a_bad_snapshot_is_400_naming_the_problem_and_changes_nothing(memory_server, case):
    url = f"{memory_server}/tenants/refusals"
    build_state(url)
    good = requests.get(f"{url}/_emulator/snapshot", params={"journal": "1"})
    document = good.json()
    body, named = BAD.get(case, (None, None))
    if case == "newer":
        body = json.dumps({**document, "format_version": 99, "emulator_version": "9.0.0"}).encode()
    elif case == "incomplete":
        state = {**document["state"], "values": {k: v for k, v in document["state"]["values"].items() if k != "clock"}}
        body = json.dumps({**document, "state": state}).encode()
    elif case == "malformed clock":
        values = {**document["state"]["values"], "clock": {"mode": "sideways"}}
        body = json.dumps({**document, "state": {**document["state"], "values": values}}).encode()
    elif case == "bad scenario":
        values = {**document["state"]["values"], "scenario": {"serial": 1, "data": {"rules": [{"match": {"method": 5}}]}}}
        body, named = json.dumps({**document, "state": {**document["state"], "values": values}}).encode(), "rules[0]"
    elif case in BAD_WORLDS:
        overrides, named = BAD_WORLDS[case]
        world = {**document["state"]["values"]["world"], "overrides": overrides}
        values = {**document["state"]["values"], "world": world}
        body = json.dumps({**document, "state": {**document["state"], "values": values}}).encode()
    elif case == "truncated":
        body, named = good.content[: len(good.content) // 2], "truncated"
    elif case == "truncated gzip":
        packed = gzip.compress(good.content)
        body, named = packed[: len(packed) // 2], "truncated"
    response = requests.put(f"{url}/_emulator/snapshot", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert named in response.json()["error"] and response.json()["errors"]
    if case == "newer":
        assert "upgrade" in response.json()["error"]
    assert requests.get(f"{url}/_emulator/snapshot", params={"journal": "1"}).json()["state"] == document["state"]
    assert requests.get(f"{url}/_emulator/clock").json()["now"] == document["now"]


def test_serve_starts_every_tenant_from_a_snapshot(memory_server, tmp_path):
    url = f"{memory_server}/tenants/golden-source"
    tokens = build_state(url)
    before = answers(url, tokens, journal=False)
    path = tmp_path / "golden.json.gz"
    path.write_bytes(gzip.compress(requests.get(f"{url}/_emulator/snapshot").content))
    server = EmulatorProcess("--snapshot", str(path))
    try:
        assert answers(server.url, tokens, journal=False) == before
        assert answers(f"{server.url}/tenants/another", tokens, journal=False) == before
    finally:
        server.stop()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    result = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0", "--snapshot", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--snapshot" in result.stderr and "not a report-emulator snapshot" in result.stderr
