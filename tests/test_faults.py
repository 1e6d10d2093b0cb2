"""Scenario rules at request time, through a real socket: matching, sequences, answers, faults, delays."""
from __future__ import annotations

import json
import threading

import pytest
import requests

PARKUP = "/api/v3/business/report/event/user"
STRIGO = "/api/v1/events/e-1/reports/exercises"
FALKOR = "/v1/logs/pathway-logs"


def load(report_emulator, http, scenario: dict) -> dict:
    response = http.put(f"{report_emulator.url}/_emulator/scenario", json=scenario)
    assert response.status_code == 200, response.text
    return response.json()


def rule(match: dict, **action) -> dict:
    return {"match": match, **action}


TEAPOT = {"status": 418, "json": {"error": "teapot"}}


def test_respond_with_status_json_and_headers(report_emulator, http):
    load(report_emulator, http, {"rules": [rule({"path": PARKUP}, respond={
        "status": 503, "json": {"error": "Service unavailable", "n": [1, 2]}, "headers": {"Retry-After": "7", "X-Extra": "yes"}})]})
    response = http.post(f"{report_emulator.url}{PARKUP}", json={})
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == "7"
    assert response.headers["X-Extra"] == "yes"
    assert list(response.json()) == ["error", "n"]  # key order kept
    assert response.json() == {"error": "Service unavailable", "n": [1, 2]}


def test_respond_with_a_text_body_and_its_own_content_type(report_emulator, http):
    load(report_emulator, http, {"rules": [rule({"path": STRIGO}, respond={
        "status": 429, "body": "Too many requests, please try again later.",
        "headers": {"Content-Type": "text/html; charset=utf-8"}})]})
    response = http.get(f"{report_emulator.url}{STRIGO}")
    assert response.status_code == 429
    assert response.text == "Too many requests, please try again later."
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "match, hit, miss",
    [
        ({"method": "post"}, ("POST", PARKUP, {}, None, {}), ("GET", PARKUP, {}, None, {})),
        ({"path": PARKUP}, ("POST", PARKUP, {}, None, {}), ("POST", PARKUP + "x", {}, None, {})),
        ({"path_regex": r"^/api/v1/events/[^/]+/reports/"}, ("GET", STRIGO, {}, None, {}),
         ("GET", "/api/v1/ondemand-courses/c/reports/exercises", {}, None, {})),
        ({"query": {"output": "csv", "page": 2}}, ("GET", STRIGO, {"output": "csv", "page": "2", "extra": "1"}, None, {}),
         ("GET", STRIGO, {"output": "json", "page": "2"}, None, {})),
        ({"json": {"refId": "CB6150", "filter": {"type": "login"}}},
         ("POST", PARKUP, {}, {"refId": "CB6150", "filter": {"type": "login", "more": 1}, "since": "x"}, {}),
         ("POST", PARKUP, {}, {"refId": "CB6150", "filter": {"type": "logout"}}, {})),
        ({"json": {"limit": 1}}, ("POST", PARKUP, {}, {"limit": 1}, {}), ("POST", PARKUP, {}, {"limit": True}, {})),
        ({"headers": {"x-client": "nightly"}}, ("GET", STRIGO, {}, None, {"X-Client": "nightly"}),
         ("GET", STRIGO, {}, None, {"X-Client": "NIGHTLY"})),
    ],
    ids=["method", "path", "path_regex", "query", "json", "json-bool-is-not-int", "headers"],
)
def test_each_kind_of_match(report_emulator, http, match, hit, miss):
    load(report_emulator, http, {"rules": [rule(match, respond=TEAPOT)]})
    for (method, path, params, body, headers), expected in ((hit, True), (miss, False)):
        response = http.request(method, f"{report_emulator.url}{path}", params=params, json=body, headers=headers)
        assert (response.status_code == 418) is expected, (method, path, params, body, headers)
    status = http.get(f"{report_emulator.url}/_emulator/scenario").json()["rules"][0]
    assert (status["matched"], status["answered"]) == (1, 1)


def test_json_match_does_not_match_a_body_that_is_not_json(report_emulator, http):
    load(report_emulator, http, {"rules": [rule({"json": {"a": 1}}, respond=TEAPOT)]})
    response = http.post(f"{report_emulator.url}{PARKUP}", data="a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code != 418


def test_times_answers_that_many_then_falls_through_to_the_vendor(report_emulator, http):
    load(report_emulator, http, {"rules": [rule({"path": PARKUP}, times=2, respond={"status": 500, "json": {"error": "Internal server error"}})]})
    statuses = [http.post(f"{report_emulator.url}{PARKUP}", json={}).status_code for _ in range(3)]
    assert statuses[:2] == [500, 500]
    assert statuses[2] != 500  # the vendor's own answer
    entries = report_emulator.journal(path=PARKUP)
    assert [e["rule"] for e in entries] == ["rules[0]", "rules[0]", None]
    rules = http.get(f"{report_emulator.url}/_emulator/scenario").json()["rules"]
    assert (rules[0]["matched"], rules[0]["answered"]) == (3, 2)


def test_after_skips_matches_and_rules_make_sequences(report_emulator, http):
    """Succeed (vendor) once, then 503 twice, then 429 once, then the vendor again."""
    load(report_emulator, http, {"rules": [
        {"name": "unavailable", "match": {"path": STRIGO}, "after": 1, "times": 2, "respond": {"status": 503}},
        # Request 1 (skipped by "unavailable") reaches this rule too: after 1 lets it through.
        {"name": "limited", "match": {"path": STRIGO}, "after": 1, "times": 1, "respond": {"status": 429}},
    ]})
    statuses = [http.get(f"{report_emulator.url}{STRIGO}").status_code for _ in range(5)]
    assert statuses[1:4] == [503, 503, 429]
    assert statuses[0] not in (503, 429) and statuses[4] not in (503, 429)
    assert [e["rule"] for e in report_emulator.journal()] == [None, "unavailable", "unavailable", "limited", None]
    rules = http.get(f"{report_emulator.url}/_emulator/scenario").json()["rules"]
    # A rule counts the requests that reach it: "limited" saw requests 1, 4 and 5.
    assert [(r["name"], r["matched"], r["answered"]) for r in rules] == [
        ("unavailable", 5, 2), ("limited", 3, 1)]


def test_first_matching_rule_wins(report_emulator, http):
    load(report_emulator, http, {"rules": [
        rule({"path_regex": "^/api/"}, respond={"status": 401}),
        rule({"path": PARKUP}, respond={"status": 418}),
    ]})
    assert http.post(f"{report_emulator.url}{PARKUP}", json={}).status_code == 401
    rules = http.get(f"{report_emulator.url}/_emulator/scenario").json()["rules"]
    assert [r["matched"] for r in rules] == [1, 0]


def test_admin_paths_are_never_matched(report_emulator, http):
    load(report_emulator, http, {"rules": [rule({}, fault="connection_reset")]})
    assert http.get(f"{report_emulator.url}/_emulator/health").json() == {"status": "ok"}


def test_connection_reset_is_a_connection_error_and_the_server_keeps_serving(report_emulator, http):
    load(report_emulator, http, {"rules": [rule({"path": FALKOR}, times=1, fault="connection_reset")]})
    with pytest.raises(requests.ConnectionError):
        http.post(f"{report_emulator.url}{FALKOR}", json={"pathway": "Pathway A"})
    # Fresh connections and the same session (which must reconnect) are both served.
    assert requests.get(f"{report_emulator.url}/_emulator/health").status_code == 200
    for _ in range(5):
        assert http.post(f"{report_emulator.url}{FALKOR}", json={"pathway": "Pathway A"}).status_code != 0
    entries = report_emulator.journal(path=FALKOR)
    assert entries[0]["status"] is None and entries[0]["fault"] == "connection_reset" and entries[0]["rule"] == "rules[0]"
    assert all(e["status"] is not None for e in entries[1:])


def test_connection_reset_on_a_kept_alive_connection(report_emulator, http):
    """A reset on a connection that already served a request: the next request on it fails, then recovers."""
    load(report_emulator, http, {"rules": [rule({"path": STRIGO}, after=1, times=1, fault="connection_reset")]})
    first = http.get(f"{report_emulator.url}{STRIGO}")
    assert first.status_code != 0
    with pytest.raises(requests.ConnectionError):
        http.get(f"{report_emulator.url}{STRIGO}")
    assert http.get(f"{report_emulator.url}{STRIGO}").status_code == first.status_code


def test_empty_response_is_200_with_no_body(report_emulator, http):
    load(report_emulator, http, {"rules": [rule({"path": PARKUP}, fault="empty_response")]})
    response = http.post(f"{report_emulator.url}{PARKUP}", json={})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"
    with pytest.raises(ValueError):
        response.json()


def test_malformed_body_truncates_the_vendor_answer(report_emulator, http):
    url = f"{report_emulator.url}/api/v1/no-such-report"
    normal = http.get(url)
    assert normal.json()  # the vendor's own (JSON) answer
    load(report_emulator, http, {"rules": [rule({"path": "/api/v1/no-such-report"}, fault="malformed_body")]})
    broken = http.get(url)
    assert broken.status_code == normal.status_code
    assert normal.content.startswith(broken.content) and 0 < len(broken.content) < len(normal.content)
    assert int(broken.headers["Content-Length"]) == len(broken.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert report_emulator.journal()[-1]["fault"] == "malformed_body"


def test_delay_only_rule_then_the_normal_answer(report_emulator, http):
    url = f"{report_emulator.url}/api/v1/no-such-report"
    normal = http.get(url)
    load(report_emulator, http, {"rules": [rule({"path": "/api/v1/no-such-report"}, delay_ms=150)]})
    delayed = http.get(url)
    assert (delayed.status_code, delayed.content) == (normal.status_code, normal.content)
    entry = report_emulator.journal()[-1]
    assert entry["rule"] == "rules[0]" and entry["delay_ms"] == 150
    assert entry["duration_ms"] >= 150  # a sleep never ends early


def test_respond_delay_ms(report_emulator, http):
    load(report_emulator, http, {"rules": [rule({"path": PARKUP}, respond={"status": 504, "delay_ms": 120})]})
    assert http.post(f"{report_emulator.url}{PARKUP}", json={}).status_code == 504
    entry = report_emulator.journal()[-1]
    assert entry["delay_ms"] == 120 and entry["duration_ms"] >= 120


def test_a_delayed_request_does_not_stall_others(report_emulator):
    """16 requests held by a delay, and a 17th answered while they are all still held."""
    load(report_emulator, requests, {"rules": [rule({"path": STRIGO}, delay_ms=3000)]})
    results: list[int] = []

    def slow() -> None:
        results.append(requests.get(f"{report_emulator.url}{STRIGO}").status_code)

    threads = [threading.Thread(target=slow) for _ in range(16)]
    for thread in threads:
        thread.start()
    fast = requests.post(f"{report_emulator.url}{PARKUP}", json={})
    assert fast.status_code != 0
    held = sum(t.is_alive() for t in threads)
    for thread in threads:
        thread.join()
    assert held == 16 and len(results) == 16


def test_latency_is_drawn_from_the_seeded_random_within_range(report_emulator, http):
    scenario = {"latency": {"parkup": {"min_ms": 1, "max_ms": 40}}}

    def draws() -> list[float]:
        report_emulator.reset()
        load(report_emulator, http, scenario)
        for _ in range(5):
            http.post(f"{report_emulator.url}{PARKUP}", json={})
        http.get(f"{report_emulator.url}{STRIGO}")  # another vendor: no latency
        return [e["delay_ms"] for e in report_emulator.journal()]

    first, second = draws(), draws()
    assert first == second
    assert all(1 <= d <= 40 for d in first[:5]) and len(set(first[:5])) > 1
    assert first[5] == 0
    report_emulator.reset(seed=2)
    load(report_emulator, http, scenario)
    http.post(f"{report_emulator.url}{PARKUP}", json={})
    assert report_emulator.journal()[0]["delay_ms"] != first[0]


def test_a_request_answered_by_a_rule_is_in_the_journal_with_its_body(report_emulator, http):
    load(report_emulator, http, {"rules": [{"name": "outage", "match": {"path": PARKUP}, "respond": {"status": 500}}]})
    http.post(f"{report_emulator.url}{PARKUP}?x=1", json={"refId": "CB6150"})
    entry = report_emulator.journal()[0]
    assert (entry["method"], entry["path"], entry["query"], entry["status"], entry["vendor"], entry["rule"]) == (
        "POST", PARKUP, "x=1", 500, "parkup", "outage")
    assert json.loads(entry["body"]) == {"refId": "CB6150"}


def test_malformed_body_cuts_a_streamed_answer_too():
    """Reports and downloads are streamed (a generator): the fault reads the stream whole, then cuts it."""
    from flask import Response

    from emulator.app import create_app
    from emulator.server import ServerThread
    from emulator.settings import Settings

    app = create_app(Settings(port=0, clock="manual"))

    @app.get("/v1/streamed-test-report")
    def streamed():
        return Response((chunk for chunk in (b'{"rows": [', b'"a", "b"', b"]}")), mimetype="application/json")

    app.extensions["emulator"].load_scenario({"rules": [{"match": {"path": "/v1/streamed-test-report"}, "fault": "malformed_body"}]})
    server = ServerThread(app, "127.0.0.1", 0).start()
    try:
        response = requests.get(f"{server.url}/v1/streamed-test-report")
        assert response.status_code == 200
        assert response.content == b'{"rows": ["a", "b"]}'[:10]
    finally:
        server.stop()
