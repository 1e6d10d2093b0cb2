"""Tenants: every path also under /tenants/<tenant>/, each tenant its own emulator (issue 18).

Through real HTTP against real `serve` processes: one process on `memory`, `serve --workers 2` on
SQLite, and two replicas on one real redis-server. Tenant a is always reached through the first URL
and tenant b through the second, so on the shared stores the two tenants also cross processes.
"""
from __future__ import annotations

import contextvars
import threading
import time
import uuid

import pytest
import requests
from servers import EmulatorProcess

from emulator.core.store import StaleGeneration, open_store

NOW = "2026-01-15T00:00:00Z"
REPORTING = "/public/api/v1/reporting"
PARKUP_TOKEN = "/api/v3/business/oauth/access_token"
PARKUP_REPORT = "/api/v3/business/report/event/user"
FALKOR = "/v1/logs/pathway-logs"
NAME_RULE = "a tenant name is 1 to 64 characters of a-z, 0-9 and '-'"


def serve(state: str, *args: str) -> EmulatorProcess:
    return EmulatorProcess("--state", state, "--clock", "manual", "--now", NOW, *args)


@pytest.fixture(params=["memory", "sqlite-workers", "redis-replicas"])
def fleet(request, tmp_path):
    """(url through which tenant a is reached, url for tenant b): the same process on memory, the same
    two-worker server on SQLite, two replicas on one Redis."""
    if request.param == "memory":
        servers = [serve("memory")]
        servers.append(servers[0])
    elif request.param == "sqlite-workers":
        servers = [serve(f"sqlite:{tmp_path / 'state.db'}", "--workers", "2")]
        servers.append(servers[0])
    else:
        import redis

        state = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/5"
        redis.Redis.from_url(state).flushdb()
        servers = [serve(state), serve(state)]
    yield f"{servers[0].url}/tenants/team-a", f"{servers[1].url}/tenants/team-b", servers[0].url
    for server in {id(s): s for s in servers}.values():
        server.stop()


def strigo_headers(url: str) -> dict:
    creds = requests.get(f"{url}/_emulator/credentials").json()["strigo"]
    return {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}


def echo_token(url: str) -> str:
    creds = requests.get(f"{url}/_emulator/credentials").json()["echo360"]
    response = requests.post(f"{url}/oauth2/access_token", params={"grant_type": "client_credentials", **creds})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def parkup_token(url: str) -> str:
    creds = requests.get(f"{url}/_emulator/credentials").json()["parkup"]
    response = requests.post(f"{url}{PARKUP_TOKEN}", json={"refresh_token": creds["refresh_token"],
                                                           "grant_type": "refresh_token"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def parkup_report(url: str, token: str) -> requests.Response:
    user = requests.get(f"{url}/_emulator/world").json()["parkup"]["users"][0]
    body = {"customerId": user["customerId"], "refId": user["refId"],
            "from": "2000-01-01T00:00:00.000Z", "until": "2100-01-01T00:00:00.000Z"}
    return requests.post(f"{url}{PARKUP_REPORT}", json=body, headers=bearer(token))


def falkor(url: str) -> requests.Response:
    creds = requests.get(f"{url}/_emulator/credentials").json()["falkor"]
    return requests.post(f"{url}{FALKOR}", json={}, headers={"Authorization": f"Basic {creds['token']}"})


def test_admin_calls_act_on_one_tenant_only(fleet):
    a, b, default = fleet
    for url in (a, b, default):
        assert requests.post(f"{url}/_emulator/reset", json={}).status_code == 200
    # the clock
    assert requests.post(f"{a}/_emulator/clock/advance", json={"seconds": 3600}).json()["now"] == "2026-01-15T01:00:00Z"
    assert requests.get(f"{b}/_emulator/clock").json()["now"] == NOW
    assert requests.get(f"{default}/_emulator/clock").json()["now"] == NOW
    requests.post(f"{b}/_emulator/clock", json={"now": "2026-02-01T00:00:00Z"})
    assert requests.get(f"{a}/_emulator/clock").json()["now"] == "2026-01-15T01:00:00Z"
    # the world: a reset with another seed changes one tenant's world only
    world_b = requests.get(f"{b}/_emulator/world").json()
    assert requests.post(f"{a}/_emulator/reset", json={"seed": 99}).json()["seed"] == 99
    assert requests.get(f"{a}/_emulator/world").json() != world_b
    assert requests.get(f"{b}/_emulator/world").json() == world_b
    # the scenario and its rule counters
    scenario = {"name": "teapot", "rules": [{"name": "teapot", "match": {"path": "/api/v1/health"},
                                             "respond": {"status": 418, "json": {"error": "teapot"}}}]}
    assert requests.put(f"{a}/_emulator/scenario", json=scenario).status_code == 200
    assert requests.get(f"{b}/_emulator/scenario").json()["scenario"] is None
    assert requests.get(f"{a}/api/v1/health", headers=strigo_headers(a)).status_code == 418
    assert requests.get(f"{b}/api/v1/health", headers=strigo_headers(b)).status_code == 200
    assert requests.get(f"{a}/_emulator/scenario").json()["rules"][0]["matched"] == 1
    # the journal: each tenant records its own calls, with the path as the vendor sees it
    journal_a = requests.get(f"{a}/_emulator/journal").json()["requests"]
    journal_b = requests.get(f"{b}/_emulator/journal").json()["requests"]
    assert [(e["path"], e["status"]) for e in journal_a] == [("/api/v1/health", 418)]
    assert [(e["path"], e["status"]) for e in journal_b] == [("/api/v1/health", 200)]
    assert requests.get(f"{default}/_emulator/journal").json()["requests"] == []
    assert requests.post(f"{a}/_emulator/journal/count", json={"path": "/api/v1/health"}).json() == {"count": 1}
    requests.delete(f"{a}/_emulator/journal")
    assert len(requests.get(f"{b}/_emulator/journal").json()["requests"]) == 1
    # violations (a strict scenario in b only)
    requests.put(f"{b}/_emulator/scenario", json={"name": "strict", "strict": True})
    assert requests.get(f"{b}/_emulator/violations").json()["strict"] is True
    assert requests.get(f"{a}/_emulator/violations").json()["strict"] is False
    requests.post(f"{b}{FALKOR}", data="not json", headers={"Authorization": "Basic x", "Content-Type": "text/plain"})
    assert requests.get(f"{b}/_emulator/violations").json()["violations"]
    assert requests.get(f"{a}/_emulator/violations").json()["violations"] == []
    requests.delete(f"{b}/_emulator/violations")
    assert requests.get(f"{b}/_emulator/violations").json()["violations"] == []
    # near misses, snapshots and clearing a scenario see one tenant
    misses_a = requests.post(f"{a}/_emulator/journal/near-misses", json={"method": "POST", "path": "/api/v1/health"}).json()
    misses_b = requests.post(f"{b}/_emulator/journal/near-misses", json={"method": "POST", "path": "/api/v1/health"}).json()
    assert misses_a == {"near_misses": []} and len(misses_b["near_misses"]) == 1
    snap_a = requests.get(f"{a}/_emulator/snapshot").json()
    assert snap_a["tenant"] == "team-a" and snap_a["now"] == NOW  # (reset with seed 99 above)
    assert requests.get(f"{b}/_emulator/snapshot").json()["now"] == "2026-02-01T00:00:00Z"
    requests.delete(f"{b}/_emulator/scenario")
    assert requests.get(f"{a}/_emulator/scenario").json()["scenario"]["name"] == "teapot"
    # a reset of one leaves the other
    requests.post(f"{b}/_emulator/reset", json={})
    assert requests.get(f"{a}/_emulator/scenario").json()["scenario"]["name"] == "teapot"
    assert requests.get(f"{a}/_emulator/world").json() != requests.get(f"{b}/_emulator/world").json()  # seed 99 kept
    # a snapshot of b restored into a makes a b's copy, and leaves b as it was
    snap_b = requests.get(f"{b}/_emulator/snapshot").content
    requests.post(f"{b}/_emulator/clock/advance", json={"seconds": 60})
    assert requests.put(f"{a}/_emulator/snapshot", data=snap_b, headers={"Content-Type": "application/json"}).status_code == 200
    assert requests.get(f"{a}/_emulator/clock").json()["now"] == NOW
    assert requests.get(f"{b}/_emulator/clock").json()["now"] == "2026-01-15T00:01:00Z"
    assert requests.get(f"{a}/_emulator/scenario").json()["scenario"] is None
    # the dashboard and the docs are served under the prefix too, with relative links
    page = requests.get(f"{a}/_emulator/ui")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    state_a, state_b = requests.get(f"{a}/_emulator/ui/state").json(), requests.get(f"{b}/_emulator/ui/state").json()
    assert state_a != state_b
    assert requests.get(f"{a}/_emulator/echo360/requests").status_code == 200
    assert requests.get(f"{a}/_emulator/openapi/echo360.json").status_code == 200
    assert requests.get(f"{a}/_emulator/openapi/admin.json").status_code == 200
    assert requests.get(f"{a}/_emulator/docs").status_code == 200


def test_vendor_state_is_the_tenants_own(fleet):
    a, b, default = fleet
    for url in (a, b):
        requests.post(f"{url}/_emulator/reset", json={})
    # Strigo answers the same world in both (same start-up settings), on the same credentials
    event = requests.get(f"{a}/_emulator/world").json()["strigo"]["events"][0]["id"]
    path = f"/api/v1/events/{event}/reports/exercises"
    one, two = requests.get(f"{a}{path}", headers=strigo_headers(a)), requests.get(f"{b}{path}", headers=strigo_headers(b))
    assert one.status_code == two.status_code == 200 and one.content == two.content
    # rate-limit windows: a's limit of 2 calls a minute leaves b's calls alone
    requests.put(f"{a}/_emulator/scenario", json={"name": "limited", "falkor": {"rate_limit": 2}})
    assert [falkor(a).status_code for _ in range(3)][-1] == 429  # (an empty body is refused, and counted)
    assert 429 not in [falkor(b).status_code for _ in range(3)]
    # Echo360: a token, a request and its signed link of a open nothing in b
    token_a = echo_token(a)
    assert requests.get(f"{a}{REPORTING}/reports", headers=bearer(token_a)).status_code == 200
    assert requests.get(f"{b}{REPORTING}/reports", headers=bearer(token_a)).status_code == 401
    assert requests.get(f"{default}{REPORTING}/reports", headers=bearer(token_a)).status_code == 401
    body = {"parameters": {"start": "2026-01-10", "end": "2026-01-11"}, "output": {"compression": True}}
    submitted = requests.post(f"{a}{REPORTING}/requests/confused", json=body, headers=bearer(token_a))
    assert submitted.status_code == 200, submitted.text
    request_id = submitted.json()["requestId"]
    token_b = echo_token(b)
    assert requests.get(f"{b}{REPORTING}/requests", headers=bearer(token_b)).json()["requests"] == []
    assert requests.get(f"{b}{REPORTING}/requests/{request_id}", headers=bearer(token_b)).status_code == 404
    requests.post(f"{a}/_emulator/clock/advance", json={"seconds": 600})
    detail = requests.get(f"{a}{REPORTING}/requests/{request_id}", headers=bearer(token_a)).json()
    assert detail["status"] == "Available"
    link = detail["signedAssets"][0]
    assert link.startswith(f"{a}/s3/"), link  # the link carries its tenant's prefix
    download = requests.get(link)
    assert download.status_code == 200 and download.content[:2] == b"\x1f\x8b"
    requests.post(f"{b}/_emulator/clock/advance", json={"seconds": 600})
    assert requests.get(link.replace(a, b)).status_code == 403
    assert requests.get(link.replace(a, default)).status_code == 403
    # ParkUp: an access token of a is refused in b
    token_p = parkup_token(a)
    assert parkup_report(a, token_p).status_code == 200
    assert parkup_report(b, token_p).status_code == 401
    # Echo360's refresh token of a is refused in b (and still works in a afterwards: single use, a's own)
    creds = requests.get(f"{a}/_emulator/credentials").json()["echo360"]
    refresh = requests.post(f"{a}/oauth2/access_token", data={"grant_type": "client_credentials", **creds}).json()["refresh_token"]
    grant = {"grant_type": "refresh_token", "client_id": creds["client_id"], "refresh_token": refresh}
    assert requests.post(f"{b}/oauth2/access_token", data=grant).status_code == 401
    assert requests.post(f"{a}/oauth2/access_token", data=grant).status_code == 200
    # Echo360's limit of 3 requests in flight counts each tenant's own
    requests.post(f"{a}/_emulator/reset", json={})
    requests.post(f"{b}/_emulator/reset", json={})
    token_a, token_b = echo_token(a), echo_token(b)
    for _ in range(3):
        assert requests.post(f"{a}{REPORTING}/requests/confused", json=body, headers=bearer(token_a)).status_code == 200
    refused = requests.post(f"{a}{REPORTING}/requests/confused", json=body, headers=bearer(token_a))
    assert refused.status_code == 400 and "at most 3" in refused.text, refused.text
    assert requests.post(f"{b}{REPORTING}/requests/confused", json=body, headers=bearer(token_b)).status_code == 200


def test_the_tenant_list_and_removing_one(fleet):
    a, b, default = fleet
    token = echo_token(a)
    requests.get(f"{b}/_emulator/health")
    requests.post(f"{a}/_emulator/clock/advance", json={"seconds": 60})
    listed = {t["tenant"]: t for t in requests.get(f"{default}/_emulator/tenants").json()["tenants"]}
    assert {"default", "team-a", "team-b"} <= set(listed)
    assert listed["team-a"]["last_used"].endswith("Z") and listed["team-a"]["created"].endswith("Z")
    removed = requests.delete(f"{b}/_emulator/tenants/team-a")  # from another tenant, on another process
    assert removed.status_code == 200 and removed.json() == {"removed": "team-a"}
    assert "team-a" not in {t["tenant"] for t in requests.get(f"{default}/_emulator/tenants").json()["tenants"]}
    # its next call makes it again, fresh: the old token opens nothing, the clock is back at the start
    assert requests.get(f"{a}{REPORTING}/reports", headers=bearer(token)).status_code == 401
    assert requests.get(f"{a}/_emulator/clock").json()["now"] == NOW
    missing = requests.delete(f"{default}/_emulator/tenants/nobody-here")
    assert missing.status_code == 404 and "nobody-here" in missing.json()["error"]
    refused = requests.delete(f"{default}/_emulator/tenants/default")
    assert refused.status_code == 400 and "default" in refused.json()["error"]


@pytest.fixture(scope="module")
def small_server():
    server = serve("memory", "--max-tenants", "2")
    yield server.url
    server.stop()


@pytest.mark.parametrize("name", ["Team-A", "team_a", "a" * 65, "caf%C3%A9", "a.b"])
def test_a_name_outside_the_rule_is_404_naming_it(small_server, name):
    for path in ("/_emulator/clock", "/api/v1/health", f"{REPORTING}/reports"):
        response = requests.get(f"{small_server}/tenants/{name}{path}")
        assert response.status_code == 404
        assert NAME_RULE in response.json()["error"] and response.json()["errors"] == {"tenant": [NAME_RULE]}
    response = requests.delete(f"{small_server}/_emulator/tenants/{name}")
    assert response.status_code == 404 and NAME_RULE in response.json()["error"]


def test_past_the_limit_503_in_the_vendors_envelope(small_server):
    url = small_server
    for name in ("one", "two"):
        assert requests.get(f"{url}/tenants/{name}/_emulator/health").status_code == 200
    strigo = requests.get(f"{url}/tenants/three/api/v1/health")
    assert strigo.status_code == 503
    assert "limit of 2 tenants" in strigo.text and "--max-tenants" in strigo.text
    echo = requests.get(f"{url}/tenants/three{REPORTING}/reports")
    assert echo.status_code == 503 and set(echo.json()) == {"error"} and "2 tenants" in echo.json()["error"]
    strigo_body = strigo.json()
    assert strigo_body["result"] == "failure" and "--max-tenants" in strigo_body["error"]["message"]
    falkor_answer = requests.post(f"{url}/tenants/three{FALKOR}", json={})
    assert falkor_answer.status_code == 503 and falkor_answer.json()["status"] == "error"
    assert "2 tenants" in falkor_answer.json()["message"]
    parkup_answer = requests.post(f"{url}/tenants/three{PARKUP_REPORT}", json={})
    assert parkup_answer.status_code == 503 and "error" in parkup_answer.json()
    assert "2 tenants" in parkup_answer.json()["error"] + parkup_answer.headers.get("X-Emulator-Error", "")
    admin = requests.get(f"{url}/tenants/three/_emulator/clock")
    assert admin.status_code == 503 and "2 tenants" in admin.json()["error"]
    assert "three" not in {t["tenant"] for t in requests.get(f"{url}/_emulator/tenants").json()["tenants"]}
    # the default tenant and the existing ones still answer; removing one makes room
    assert requests.get(f"{url}/_emulator/health").status_code == 200
    assert requests.get(f"{url}/tenants/one/_emulator/health").status_code == 200
    requests.delete(f"{url}/_emulator/tenants/one")
    assert requests.get(f"{url}/tenants/three/_emulator/health").status_code == 200
    requests.delete(f"{url}/_emulator/tenants/two")
    requests.delete(f"{url}/_emulator/tenants/three")


def test_an_idle_tenant_is_removed():
    """The sweep itself, on the app (it runs every few minutes on wall time; no test waits a day)."""
    from emulator.app import create_app
    from emulator.settings import Settings

    app = create_app(Settings(clock="manual", tenant_idle_hours=1))
    client = app.test_client()
    client.post("/tenants/busy/_emulator/clock/advance", json={"seconds": 60})
    client.get("/tenants/idle/_emulator/health")
    tenants = app.extensions["tenants"]
    assert tenants.remove_idle(time.time() + 1800) == []
    tenants._last_written.clear()  # the next call records its use again (throttled to once a minute)
    tenants.index.map_put("last_used", "busy", time.time() + 3000)
    assert tenants.remove_idle(time.time() + 3700) == ["idle"]
    names = {t["tenant"] for t in client.get("/_emulator/tenants").json["tenants"]}
    assert names == {"default", "busy"}


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_each_tenants_namespace_has_its_own_generation(backend, tmp_path, request):
    """The store's promise behind tenants: a reset (new_generation) of one namespace is one step in it
    alone; a call of another tenant, pinned to its own generation, writes on, and its pin is its own."""
    url = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 'state.db'}"}.get(backend) or request.getfixturevalue("redis_url")
    root = open_store(url, f"test-{uuid.uuid4().hex[:8]}")
    a, b = root.namespaced(f"tenant:a-{uuid.uuid4().hex[:8]}"), root.namespaced(f"tenant:b-{uuid.uuid4().hex[:8]}")
    try:
        b.put("kept", 1)
        b.map_put("echo360:requests", "r1", {"status": "Pending"})
        b.log_append("journal", {"path": "/x"}, 10, 1000)
        call_a, call_b = contextvars.Context(), contextvars.Context()  # one request in each tenant
        call_a.run(a.pin_generation, a.get("meta:generation") or 0)
        call_b.run(b.pin_generation, b.get("meta:generation") or 0)
        assert a.new_generation({"clock": 1}) == 1 and a.new_generation({"clock": 2}) == 2
        with pytest.raises(StaleGeneration):  # a's call belongs to a's old world
            call_a.run(a.put, "late", 1)
        assert a.get("late") is None
        call_b.run(b.put, "written", 2)  # b's call is not a's: it writes on
        call_b.run(b.map_put, "echo360:requests", "r2", {"status": "Pending"})
        assert (b.get("kept"), b.get("written"), b.get("meta:generation")) == (1, 2, None)
        assert set(b.map_all("echo360:requests")) == {"r1", "r2"} and b.log_items("journal") == [{"path": "/x"}]
        assert b.pinned_generation is None and a.pinned_generation is None  # pins live in each call's context
        assert call_b.run(lambda: (b.pinned_generation, a.pinned_generation, root.pinned_generation)) == (0, None, None)
        assert b.new_generation({}) == 1 and a.get("clock") == 2  # and back: b's reset leaves a
    finally:
        for store in (a, b):
            store.drop()
        root.close()


def test_a_reset_of_one_tenant_never_touches_another(fleet):
    """Tenant a is reset over and over while tenant b works: every call of b answers as if a did not
    exist (its token, requests and journal stay; nothing of b is answered again or refused)."""
    a, b, _ = fleet
    for url in (a, b):
        requests.post(f"{url}/_emulator/reset", json={})
    token = echo_token(b)
    stop, resets = threading.Event(), []

    def reset_a():
        while not stop.is_set():
            resets.append(requests.post(f"{a}/_emulator/reset", json={}).status_code)
            requests.post(f"{a}/_emulator/clock/advance", json={"seconds": 60})

    resetter = threading.Thread(target=reset_a)
    resetter.start()
    try:
        body = {"parameters": {"start": "2026-01-10", "end": "2026-01-11"}}
        made, calls = [], 0
        while calls < 100 and (calls < 20 or len(resets) < 10):  # within Echo360's 120 calls a minute
            if len(made) < 3:
                submitted = requests.post(f"{b}{REPORTING}/requests/confused", json=body, headers=bearer(token))
                assert submitted.status_code == 200, submitted.text
                made.append(submitted.json()["requestId"])
            else:
                listed = requests.get(f"{b}{REPORTING}/requests", headers=bearer(token))
                assert listed.status_code == 200, listed.text
                assert sorted(r["requestId"] for r in listed.json()["requests"]) == sorted(made)
            calls += 1
    finally:
        stop.set()
        resetter.join()
    assert set(resets) == {200} and len(resets) >= 3
    assert requests.get(f"{b}/_emulator/clock").json()["now"] == NOW  # a's clock moves never moved b's
    journal = requests.get(f"{b}/_emulator/journal").json()["requests"]
    assert len(journal) == calls + 1  # each call once (and the token's)
