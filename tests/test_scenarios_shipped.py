"""Each scenario shipped in emulator/scenarios/, loaded through the admin API (a real socket) and exercised."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from emulator.core.scenarios import load

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "emulator" / "scenarios"
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


# -- the knobs' effects, end to end through the vendors ------------------------------------------

REPORTING = "/public/api/v1/reporting"


def echo360_token(report_emulator, http) -> dict[str, str]:
    creds = report_emulator.credentials["echo360"]
    answer = http.post(f"{report_emulator.url}/oauth2/access_token",
                       params={"grant_type": "client_credentials", **creds})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_strigo_rate_limit_answers_429_past_five_a_minute(report_emulator, http):
    put_file(report_emulator, "strigo-rate-limit.yaml")
    creds = report_emulator.credentials["strigo"]
    auth = {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}
    event = report_emulator.world["strigo"]["events"][0]["id"]
    url = f"{report_emulator.url}/api/v1/events/{event}/reports/exercises"
    answers = [http.get(url, headers=auth) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert answers[0].headers["x-ratelimit-limit"] == "5"
    refused = answers[5]
    assert refused.headers["Content-Type"].startswith("text/html")
    assert int(refused.headers["retry-after"]) > 0
    assert refused.text == "Too many requests, please try again later."
    report_emulator.advance(60)  # the window is on the emulator clock
    assert http.get(url, headers=auth).status_code == 200


def test_echo360_slow_and_failing_outcomes_in_order_after_two_hours(report_emulator, http):
    put_file(report_emulator, "echo360-slow-and-failing.yaml")
    auth = echo360_token(report_emulator, http)
    today = report_emulator.now.date()
    payload = {"parameters": {"start": (today - timedelta(days=3)).isoformat(),
                              "end": (today - timedelta(days=1)).isoformat()}}
    submit = f"{report_emulator.url}{REPORTING}/requests/videoview"
    assert http.post(submit, json=payload, headers=auth).status_code == 503  # the first-submission rule
    ids = []
    for _ in range(3):
        answer = http.post(submit, json=payload, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "Pending"
        ids.append(answer.json()["requestId"])

    def statuses():
        auth = echo360_token(report_emulator, http)  # an access token lasts an hour of emulator time
        return [http.get(f"{report_emulator.url}{REPORTING}/requests/{i}", headers=auth).json()["status"] for i in ids]

    report_emulator.advance(7199)
    assert statuses() == ["Pending"] * 3
    report_emulator.advance(1)
    assert statuses() == ["Failed", "Missing", "Failed"]
    auth = echo360_token(report_emulator, http)
    fourth = http.post(submit, json=payload, headers=auth).json()["requestId"]
    report_emulator.advance(7200)
    auth = echo360_token(report_emulator, http)
    detail = http.get(f"{report_emulator.url}{REPORTING}/requests/{fourth}", headers=auth).json()
    assert detail["status"] == "Available" and detail["signedAssets"]


def test_echo360_large_world_is_larger_and_still_serves_reports(report_emulator, http):
    model = report_emulator.emulator.vendors["echo360"]
    normal = model.sizes()
    put_file(report_emulator, "echo360-large-world.yaml")
    large = model.sizes()
    assert (large["students"], large["media"], large["courses"]) == (50000, 20000, 2000)
    assert large["students"] > normal["students"] * 100
    auth = echo360_token(report_emulator, http)
    day = report_emulator.now.date().isoformat()
    start = (report_emulator.now.date() - timedelta(days=1)).isoformat()
    answer = http.post(f"{report_emulator.url}{REPORTING}/requests/notes", headers=auth,
                       json={"parameters": {"start": start, "end": day}})
    assert answer.status_code == 200, answer.text
    report_emulator.advance(60)  # processing_seconds: 60
    detail = http.get(f"{report_emulator.url}{REPORTING}/requests/{answer.json()['requestId']}", headers=auth).json()
    assert detail["status"] == "Available"


def test_a_request_a_rule_answers_never_reaches_the_vendor_rate_limit(report_emulator, http):
    """Rules come before everything of the vendor's, Strigo's rate limiter included (README: Rules)."""
    event = report_emulator.world["strigo"]["events"][0]["id"]
    report_emulator.load_scenario({"name": "answered-first", "strigo": {"rate_limit": 2}, "rules": [
        {"match": {"path_regex": "^/api/v1/events/"}, "times": 3, "respond": {"status": 503, "json": {"down": True}}}]})
    creds = report_emulator.credentials["strigo"]
    auth = {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}
    url = f"{report_emulator.url}/api/v1/events/{event}/reports/exercises"
    answers = [http.get(url, headers=auth) for _ in range(6)]
    assert [a.status_code for a in answers] == [503, 503, 503, 200, 200, 429]
    assert "x-ratelimit-remaining" not in answers[0].headers
    assert [a.headers["x-ratelimit-remaining"] for a in answers[3:]] == ["1", "0", "0"]
    assert [e["status"] for e in report_emulator.journal()] == [503, 503, 503, 200, 200, 429]
