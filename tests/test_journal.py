"""The journal as an assertion tool: entries, filters, the cap, and the fixture's assert_called."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
import requests

from emulator.app import BODY_CAP, create_app
from emulator.server import ServerThread
from emulator.settings import Settings

PARKUP = "/api/v3/business/report/event/user"
STRIGO = "/api/v1/events/e-1/reports/exercises"


def test_entry_fields(report_emulator, http):
    report_emulator.set_time("2026-03-01T10:00:00Z")
    http.post(f"{report_emulator.url}{PARKUP}?debug=1", json={"refId": "CB6150"})
    entry = http.get(f"{report_emulator.url}/_emulator/journal").json()["requests"][0]
    assert {"method", "path", "query", "status", "vendor", "at", "wall_at", "duration_ms", "rule", "fault",
            "delay_ms", "body"} <= set(entry)
    assert (entry["method"], entry["path"], entry["query"], entry["vendor"]) == ("POST", PARKUP, "debug=1", "parkup")
    assert isinstance(entry["status"], int)
    assert entry["at"] == "2026-03-01T10:00:00Z"  # the emulator clock
    datetime.fromisoformat(entry["wall_at"].replace("Z", "+00:00"))  # the wall clock
    assert entry["duration_ms"] >= 0
    assert (entry["rule"], entry["fault"], entry["delay_ms"]) == (None, None, 0)
    assert json.loads(entry["body"]) == {"refId": "CB6150"}


def test_entry_keeps_headers_both_ways_masked_and_the_answers_first_kib(report_emulator, http):
    from emulator.core.limits import JOURNAL_HEADER_BYTES, JOURNAL_HEADERS, JOURNAL_RESPONSE_BYTES

    base = report_emulator.url
    creds = report_emulator.credentials["echo360"]
    token = http.post(f"{base}/oauth2/access_token", params={"grant_type": "client_credentials", **creds}).json()
    many = {f"X-Extra-{n}": "v" * (JOURNAL_HEADER_BYTES + 50) for n in range(JOURNAL_HEADERS + 5)}
    http.get(f"{base}/public/api/v1/reporting/reports", headers={"Authorization": f"Bearer {token['access_token']}",
                                                                 "X-Api-Key": "hush", "Cookie": "session=hush", **many})
    issued, listed = report_emulator.journal()
    # the token call's answer holds the tokens: masked, as in a request
    assert token["access_token"] not in json.dumps(issued) and token["refresh_token"] not in json.dumps(issued)
    assert '"access_token":"***"' in issued["response"]["body"].replace(" ", "")
    headers = listed["headers"]
    assert headers["Authorization"] == "Bearer ***"
    assert headers["X-Api-Key"] == "***" and headers["Cookie"] == "***"
    assert len(headers) == JOURNAL_HEADERS and all(len(v) <= JOURNAL_HEADER_BYTES for v in headers.values())
    answer = listed["response"]
    assert answer["headers"]["Content-Type"].startswith("application/json")
    assert len(answer["body"]) == JOURNAL_RESPONSE_BYTES  # the list of reports is longer: its first KiB
    assert json.dumps(listed).count("hush") == 0


def test_a_streamed_answer_is_not_read_and_a_reset_connection_has_no_answer(report_emulator, http):
    import requests as plain

    report_emulator.load_scenario({"rules": [{"match": {"path": "/v1/logs/pathway-logs"}, "fault": "connection_reset"}]})
    with pytest.raises(plain.ConnectionError):
        http.post(f"{report_emulator.url}/v1/logs/pathway-logs", json={})
    assert report_emulator.journal()[-1]["response"] is None
    creds = report_emulator.credentials["strigo"]
    event = report_emulator.world["strigo"]["events"][0]["id"]
    http.get(f"{report_emulator.url}/api/v1/events/{event}/reports/exercises", params={"output": "csv"},
             headers={"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"})
    answer = report_emulator.journal()[-1]["response"]
    assert answer["headers"]["Content-Type"].startswith("text/csv")
    assert answer["body"] is None or answer["body"].startswith("event_id")  # streamed: not read; else its head


def test_body_is_capped(report_emulator, http):
    http.post(f"{report_emulator.url}{PARKUP}", data="x" * (BODY_CAP * 3), headers={"Content-Type": "text/plain"})
    assert len(report_emulator.journal()[0]["body"]) == BODY_CAP


def test_filters_by_vendor_method_path_prefix_and_rule(report_emulator, http):
    url = report_emulator.url
    report_emulator.load_scenario({"rules": [{"name": "teapot", "match": {"path": "/v1/teapot"}, "respond": {"status": 418}}]})
    http.post(f"{url}{PARKUP}", json={})
    http.get(f"{url}{STRIGO}")
    http.post(f"{url}{STRIGO}")
    http.get(f"{url}/v1/teapot")

    def paths(**params) -> list[tuple[str, str]]:
        entries = http.get(f"{url}/_emulator/journal", params=params).json()["requests"]
        return [(e["method"], e["path"]) for e in entries]

    assert paths(vendor="strigo") == [("GET", STRIGO), ("POST", STRIGO)]
    assert paths(method="post") == [("POST", PARKUP), ("POST", STRIGO)]
    assert paths(path=STRIGO, method="GET") == [("GET", STRIGO)]
    assert paths(path_prefix="/api/v") == [("POST", PARKUP), ("GET", STRIGO), ("POST", STRIGO)]
    assert paths(rule="teapot") == [("GET", "/v1/teapot")]
    assert paths(vendor="echo360") == []


def test_delete_clears(report_emulator, http):
    http.get(f"{report_emulator.url}{STRIGO}")
    assert http.delete(f"{report_emulator.url}/_emulator/journal").json() == {"requests": []}
    assert report_emulator.journal() == []


def test_the_cap_keeps_the_newest_entries():
    server = ServerThread(create_app(Settings(port=0, clock="manual", journal_cap=3)), "127.0.0.1", 0).start()
    try:
        for n in range(5):
            requests.get(f"{server.url}/api/v1/call-{n}")
        entries = requests.get(f"{server.url}/_emulator/journal").json()["requests"]
        assert [e["path"] for e in entries] == ["/api/v1/call-2", "/api/v1/call-3", "/api/v1/call-4"]
    finally:
        server.stop()


def test_assert_called(report_emulator, http):
    http.post(f"{report_emulator.url}{PARKUP}", json={})
    http.post(f"{report_emulator.url}{PARKUP}", json={})
    assert len(report_emulator.assert_called("post", PARKUP)) == 2
    report_emulator.assert_called("POST", PARKUP, times=2)
    report_emulator.assert_called("GET", PARKUP, times=0)
    with pytest.raises(AssertionError, match=r"expected POST .* 3 times, but it was called 2 times"):
        report_emulator.assert_called("POST", PARKUP, times=3)


def test_assert_called_lists_near_misses(report_emulator, http):
    url = report_emulator.url
    http.get(f"{url}{PARKUP}?refId=CB6150")  # wrong method
    http.post(f"{url}/api/v3/business/report/event/users", json={})  # a slip in the path
    http.get(f"{url}/v1/logs/pathway-logs")  # unrelated
    with pytest.raises(AssertionError) as info:
        report_emulator.assert_called("POST", PARKUP)
    message = str(info.value)
    assert "called 0 times" in message
    assert f"GET {PARKUP}?refId=CB6150 ->" in message
    assert "POST /api/v3/business/report/event/users ->" in message
    assert "pathway-logs" not in message


def test_assert_called_on_an_empty_journal(report_emulator):
    with pytest.raises(AssertionError, match="the journal is empty"):
        report_emulator.assert_called("GET", STRIGO)


def test_assert_called_in_a_client_project(pytester):
    pytester.makepyfile(
        """
        import requests

        PATH = "/api/v1/events/e-1/reports/exercises"

        def test_passes(report_emulator):
            requests.get(report_emulator.url + PATH)
            report_emulator.assert_called("GET", PATH, times=1)

        def test_fails_with_near_misses(report_emulator):
            requests.post(report_emulator.url + PATH)
            requests.get(report_emulator.url + PATH + "x")
            report_emulator.assert_called("GET", PATH)

        def test_scenario_and_journal(report_emulator):
            report_emulator.load_scenario({"rules": [{"name": "boom", "match": {"path": PATH}, "fault": "connection_reset"}]})
            try:
                requests.get(report_emulator.url + PATH)
            except requests.ConnectionError:
                pass
            [entry] = report_emulator.assert_called("GET", PATH)
            assert entry["rule"] == "boom" and entry["status"] is None
        """
    )
    result = pytester.runpytest_inprocess("-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*expected GET /api/v1/events/e-1/reports/exercises to be called at least once, but it was called 0 times*",
        "*near misses:*",
        "*POST /api/v1/events/e-1/reports/exercises -> *",
        "*GET /api/v1/events/e-1/reports/exercisesx -> *",
    ])


@pytest.mark.parametrize(
    "path, params, field, message",
    [
        ("/_emulator/journal", {"vendor": "nope"}, "vendor", "unknown vendor; one of strigo, echo360, falkor, parkup"),
        ("/_emulator/journal", {"vendr": "strigo"}, "vendr", "unknown filter; did you mean 'vendor'?"),
        ("/_emulator/journal", {"path-prefix": "/api"}, "path-prefix", "did you mean 'path_prefix'?"),
        ("/_emulator/violations", {"vendor": "nope"}, "vendor", "unknown vendor; one of strigo, echo360, falkor, parkup"),
        ("/_emulator/violations", {"method": "GET"}, "method", "unknown filter; filters: vendor"),
    ],
)
def test_a_filter_typo_is_a_400_naming_the_field_not_an_empty_list(report_emulator, http, path, params, field, message):
    """As the dashboard's own query (/_emulator/ui/state) answers: a typo must not read as "no calls"."""
    http.get(f"{report_emulator.url}{STRIGO}")
    answer = http.get(f"{report_emulator.url}{path}", params=params)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert any(message in text for text in body["errors"][field]), body
    assert field in body["error"]
    assert len(report_emulator.journal()) == 1  # a refused read changes nothing
    # The same query with the right name and value answers.
    assert http.get(f"{report_emulator.url}{path}", params={"vendor": "strigo"}).status_code == 200
