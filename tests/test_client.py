"""EmulatorClient against a real `serve` process, and the fixture against a shared server (issue 18)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest
import requests
from servers import EmulatorProcess

from emulator.client import EmulatorClient, EmulatorError
from emulator.core.scenarios import ScenarioError
from emulator.pytest_plugin import ReportEmulator

NOW = "2026-01-15T00:00:00Z"
START = datetime(2026, 1, 15, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def server():
    process = EmulatorProcess("--clock", "manual", "--now", NOW)
    yield process.url
    process.stop()


@pytest.fixture
def client(server, request):
    made = EmulatorClient(server, tenant=f"client-{request.node.name.split('[')[0][-40:].replace('_', '-')}")
    made.reset()
    yield made
    made.delete_tenant()
    made.close()


def strigo_health(client) -> requests.Response:
    creds = client.credentials["strigo"]
    return requests.get(f"{client.url}/api/v1/health", headers={"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"})


def test_the_fixtures_handle_is_an_emulator_client():
    assert issubclass(ReportEmulator, EmulatorClient)


def test_url_credentials_world_and_time(client, server):
    assert client.url == f"{server}/tenants/{client.tenant}"
    assert set(client.credentials) == {"strigo", "echo360", "falkor", "parkup"}
    assert client.world["strigo"]["events"]
    assert client.now() == client.now == START
    assert client.advance(90) == START + timedelta(seconds=90)
    assert client.set_time("2026-02-01T00:00:00Z") == datetime(2026, 2, 1, tzinfo=timezone.utc)
    assert requests.get(f"{server}/_emulator/clock").json()["now"] == NOW  # the default tenant did not move
    client.reset(seed=5, now="2026-03-01T00:00:00Z")
    assert client.now() == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert client.world != EmulatorClient(server, "someone-else").world
    client.reset()
    assert client.now() == START


def test_scenarios_journal_and_assertions(client, tmp_path):
    scenario = tmp_path / "teapot.yaml"
    scenario.write_text("name: teapot\nrules:\n  - name: teapot\n    match: {path: /api/v1/health}\n"
                        "    times: 1\n    respond: {status: 418, json: {error: teapot}}\n")
    assert client.load_scenario(scenario)["name"] == "teapot"  # a file read where the client runs
    assert strigo_health(client).status_code == 418
    assert strigo_health(client).status_code == 200
    assert client.scenario["rules"][0]["answered"] == 1
    assert [e["status"] for e in client.journal()] == [418, 200]
    assert [e["status"] for e in client.journal(vendor="strigo", method="GET", path="/api/v1/health")] == [418, 200]
    assert client.journal(vendor="echo360") == []
    assert client.count({"path": "/api/v1/health"}) == 2
    assert len(client.assert_called("GET", "/api/v1/health", times=2)) == 2
    with pytest.raises(AssertionError) as failed:
        client.assert_called("POST", "/api/v1/health")
    assert "called 0 times" in str(failed.value) and "near misses:" in str(failed.value)
    assert "GET /api/v1/health -> 418 [rule teapot]" in str(failed.value)
    client.clear_scenario()
    assert client.scenario["scenario"] is None
    client.assert_no_violations()
    client.load_scenario({"name": "dict"})
    assert client.scenario["scenario"]["name"] == "dict"


def test_violations_fail_the_assertion(client):
    requests.post(f"{client.url}/v1/logs/pathway-logs", data="not json",
                  headers={"Authorization": "Basic x", "Content-Type": "text/plain"})
    assert client.violations("falkor")
    with pytest.raises(AssertionError, match="contract violation"):
        client.assert_no_violations()


def test_admin_errors_raise_with_the_servers_message(client, server):
    with pytest.raises(ScenarioError) as refused:
        client.load_scenario({"name": "bad", "rules": [{"match": {"method": 5}}]})
    assert refused.value.errors
    client.load_scenario({"name": "kept"})
    with pytest.raises(ScenarioError):
        client.load_scenario({"name": "bad", "echo360": {"processing_seconds": "soon"}})
    assert client.scenario["scenario"]["name"] == "kept"  # a refused scenario changes nothing
    with pytest.raises(EmulatorError) as bad_advance:
        client.advance(-1)
    assert bad_advance.value.status == 400 and "seconds" in bad_advance.value.errors
    with pytest.raises(EmulatorError, match="ISO 8601"):
        client.set_time("the day after tomorrow")
    with pytest.raises(EmulatorError) as bad_name:
        EmulatorClient(server, tenant="Not_A_Name").reset()
    assert bad_name.value.status == 404 and "1 to 64 characters" in bad_name.value.message
    with pytest.raises(ValueError):  # both are ValueErrors, as in-process
        client.advance(-1)


def test_every_refusal_raises_with_the_servers_message(client, server):
    """Refused snapshots (400), a tenant that is not there (404), past the tenant limit (503), without
    the admin password (401): each raises EmulatorError with the server's status and message."""
    client.advance(60)
    kept = client.snapshot()
    with pytest.raises(EmulatorError) as foreign:
        client.restore({"format": "something-else", "state": {}})
    assert foreign.value.status == 400 and "not a report-emulator snapshot" in foreign.value.message
    with pytest.raises(EmulatorError, match="newer report-emulator"):
        client.restore({**kept, "format_version": 99})
    with pytest.raises(EmulatorError, match="truncated"):
        client.restore(json.dumps(kept).encode()[:200])
    assert client.snapshot()["state"] == kept["state"]  # the tenant stayed as it was
    gone = EmulatorClient(server, tenant="never-made")
    with pytest.raises(EmulatorError) as missing:
        gone.delete_tenant()
    assert missing.value.status == 404 and "never-made" in missing.value.message
    small = EmulatorProcess("--max-tenants", "1", "--admin-auth", "tester:secret")
    try:
        with pytest.raises(EmulatorError) as refused:
            EmulatorClient(small.url, tenant="one").reset()
        assert refused.value.status == 401 and refused.value.message
        EmulatorClient(small.url, tenant="one", auth=("tester", "secret")).reset()
        with pytest.raises(EmulatorError) as full:
            EmulatorClient(small.url.replace("://", "://tester:secret@"), tenant="two").reset()
        assert full.value.status == 503 and "limit of 1 tenants" in full.value.message and "--max-tenants" in full.value.message
    finally:
        small.stop()


SHARED_TESTS = '''
import pytest
import requests

def health(emulator):
    creds = emulator.credentials["strigo"]
    return requests.get(f"{emulator.url}/api/v1/health",
                        headers={"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"})

@pytest.mark.parametrize("n", range(6))
def test_own_tenant_clock_and_journal(report_emulator, n):
    assert "/tenants/pytest-" in report_emulator.url
    assert report_emulator.now().isoformat() == "2026-01-15T00:00:00+00:00"  # the ini option, reset before each test
    for step in range(1, 6):
        report_emulator.advance(60)
        assert health(report_emulator).status_code == 200
        assert len(report_emulator.journal()) == step  # nobody else's calls
    assert report_emulator.now().isoformat() == "2026-01-15T00:05:00+00:00"

@pytest.mark.report_emulator(seed=7, scenario={"name": "teapot", "rules": [
    {"match": {"path": "/api/v1/health"}, "respond": {"status": 418, "json": {"error": "teapot"}}}]})
@pytest.mark.parametrize("n", range(3))
def test_marker(report_emulator, n):
    assert report_emulator.scenario["scenario"]["name"] == "teapot"
    assert health(report_emulator).status_code == 418
    report_emulator.assert_called("GET", "/api/v1/health", times=1)

@pytest.mark.parametrize("n", range(3))
def test_no_scenario_left_over(report_emulator, n):
    assert report_emulator.scenario["scenario"] is None
    assert report_emulator.journal() == []
'''


def test_two_pytest_sessions_with_xdist_share_one_server(pytester, monkeypatch):
    """Two pytest sessions (pytester's), each with -n 2, at once against one `serve` process (started
    with a real clock: the fixture makes its tenants' clocks manual); every tenant is removed at the end."""
    server = EmulatorProcess("--clock", "real")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # this suite's own, when it runs under xdist
    try:
        runs = []
        for name in ("one", "two"):
            folder = pytester.mkdir(name)
            (folder / "test_shared.py").write_text(SHARED_TESTS)
            (folder / "pytest.ini").write_text(textwrap.dedent(f"""\
                [pytest]
                report_emulator_url = {server.url if name == 'one' else 'http://127.0.0.1:9/unused'}
                report_emulator_now = 2026-01-15T00:00:00Z
                """))
            if name == "two":
                monkeypatch.setenv("REPORT_EMULATOR_URL", server.url)  # the environment wins over the ini option
            runs.append(pytester.popen([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:randomly",
                                        "-p", "no:cacheprovider"], cwd=folder, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True))
        outputs = [run.communicate(timeout=300)[0] for run in runs]
        for run, output in zip(runs, outputs):
            assert run.returncode == 0, output
            assert "12 passed" in output, output
        tenants = [t["tenant"] for t in requests.get(f"{server.url}/_emulator/tenants").json()["tenants"]]
        assert tenants == ["default"]  # each pytest process removed its tenant
        assert requests.get(f"{server.url}/_emulator/journal").json()["requests"] == []
    finally:
        server.stop()
