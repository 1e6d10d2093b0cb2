"""Each scenario shipped in scenarios/, loaded through the admin API (a real socket) and exercised."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from emulator.core.scenarios import load

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
FIXTURES = ROOT / "fixtures"
PARKUP = "/api/v3/business/report/event/user"
FALKOR = "/v1/logs/pathway-logs"


def put_file(report_emulator, name: str) -> dict:
    text = (SCENARIOS / name).read_text()
    response = requests.put(f"{report_emulator.url}/_emulator/scenario", data=text.encode(),
                            headers={"Content-Type": "application/yaml"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.y*ml")), ids=lambda p: p.name)
def test_every_shipped_scenario_is_valid_named_and_documented(path):
    scenario = load(path)
    assert scenario["name"] == path.stem
    assert path.read_text().startswith("#")  # opens with a comment that says what it is for


def test_parkup_outage_answers_the_documented_server_error(report_emulator, http):
    put_file(report_emulator, "parkup-outage.yaml")
    documented = json.loads((FIXTURES / "parkup" / "error-500.json").read_text())
    for _ in range(3):
        response = http.post(f"{report_emulator.url}{PARKUP}", json={"refId": "CB6150"},
                             headers={"Authorization": f"Bearer {report_emulator.credentials['parkup']['token']}"})
        assert response.status_code == 500
        assert response.json() == documented
    assert [e["rule"] for e in report_emulator.journal(vendor="parkup")] == ["parkup-down"] * 3
    http.delete(f"{report_emulator.url}/_emulator/scenario")
    assert http.post(f"{report_emulator.url}{PARKUP}", json={"refId": "CB6150"}).status_code != 500


def test_flaky_network_resets_empties_truncates_and_delays(report_emulator, http):
    put_file(report_emulator, "flaky-network.yaml")
    url = f"{report_emulator.url}{FALKOR}"
    body = {"pathway": "Pathway A"}
    with pytest.raises(requests.ConnectionError):
        http.post(url, json=body)
    # Unauthenticated on purpose: the vendor's error envelope is the same bytes every time.
    second = http.post(url, json=body)
    third = http.post(url, json=body)
    assert (third.status_code, third.content) == (200, b"")
    fourth = http.post(url, json=body)
    fifth = http.post(url, json=body)
    assert fourth.content == second.content
    assert 0 < len(fifth.content) < len(second.content) and second.content.startswith(fifth.content)
    entries = report_emulator.journal()
    assert [e["rule"] for e in entries] == ["reset-first-call", None, "empty-third-call", None, "truncated-falkor-logs"]
    assert all(20 <= e["delay_ms"] <= 250 for e in entries)
    assert requests.get(f"{report_emulator.url}/_emulator/health").status_code == 200


def test_echo360_slow_and_failing(report_emulator, http):
    status = put_file(report_emulator, "echo360-slow-and-failing.yaml")
    assert report_emulator.emulator.knobs("echo360") == {
        "processing_seconds": 7200, "outcomes": ["Failed", "Missing", "Failed", "Available"]}
    assert [r["name"] for r in status["rules"]] == ["slow-token", "first-submission-unavailable"]
    submit = f"{report_emulator.url}/public/api/v1/reporting/requests/asset"
    payload = {"parameters": {"start": "2026-01-01", "end": "2026-01-07"}}
    first = http.post(submit, json=payload)
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "30"
    assert http.post(submit, json=payload).status_code != 503  # the retry reaches the vendor
    http.post(f"{report_emulator.url}/oauth2/access_token", params={"grant_type": "client_credentials"})
    token_call = report_emulator.journal(path="/oauth2/access_token")[0]
    assert token_call["rule"] == "slow-token" and token_call["delay_ms"] == 400


def test_strigo_rate_limit(report_emulator, http):
    put_file(report_emulator, "strigo-rate-limit.yaml")
    assert report_emulator.emulator.knobs("strigo") == {"rate_limit": 5}
    assert http.get(f"{report_emulator.url}/_emulator/scenario").json()["scenario"]["name"] == "strigo-rate-limit"


def test_echo360_large_world(report_emulator, http):
    put_file(report_emulator, "echo360-large-world.yaml")
    world = report_emulator.emulator.world
    assert world.seed == 42
    assert world.overrides == {"echo360": {"students": 50000, "media": 20000, "courses": 2000}}
    assert report_emulator.emulator.knobs("echo360") == {"processing_seconds": 60}
    assert http.get(f"{report_emulator.url}/_emulator/world").status_code == 200
    http.post(f"{report_emulator.url}/_emulator/reset")
    assert (report_emulator.emulator.world.seed, report_emulator.emulator.world.overrides) == (1, {})
