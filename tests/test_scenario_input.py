"""Scenario input that cannot hurt the server (issue 16, section 5), over real HTTP.

`respond.headers` is checked when a scenario loads, so that no matching call can answer 500; regular
expressions (a rule's `path_regex`, the journal's count and near misses) run in linear time with RE2,
and a pattern RE2 cannot run is refused at load naming the field and the reason.
"""
from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from emulator.core.scenarios import SERVER_HEADERS

PARKUP = "/api/v3/business/report/event/user"
CATASTROPHIC = "^/v1/(a+)+$"  # exponential for a backtracking engine on /v1/aaa...a!
BOUND_S = 5  # a generous functional bound: a backtracking engine takes 2^40 steps on the path below
EVIL_PATH = "/v1/" + "a" * 40 + "!"


def rule_with_headers(headers: dict) -> dict:
    return {"name": "canned", "rules": [{"match": {"path": PARKUP}, "respond": {"status": 200, "json": {}, "headers": headers}}]}


def put(report_emulator, http, scenario: dict):
    return http.put(f"{report_emulator.url}/_emulator/scenario", json=scenario)


# --- respond.headers ------------------------------------------------------------------------------

BAD_HEADERS = [
    ("X-Foo", "a\r\nX-Injected: 1", "CR or LF"),
    ("X-Foo", "line\nbreak", "CR or LF"),
    ("X-Foo", "carriage\rreturn", "CR or LF"),
    ("X-Foo", "nul\x00byte", "control characters"),
    ("X-Foo", "snow \u2603", "Latin-1"),
    ("X Foo", "bar", "not a header name"),
    ("X:Foo", "bar", "not a header name"),
    ("X-Caf\u00e9", "bar", "not a header name"),
    *[(name, "1", "set by the server") for name in SERVER_HEADERS],
    ("transfer-encoding", "chunked", "set by the server"),
]


@pytest.mark.parametrize("name, value, words", BAD_HEADERS)
def test_a_header_that_would_break_the_answer_is_refused_at_load_naming_the_field(report_emulator, http, name, value,
                                                                                 words):
    put(report_emulator, http, {"name": "before"})
    answer = put(report_emulator, http, rule_with_headers({"X-Fine": "yes", name: value}))
    assert answer.status_code == 400, answer.text
    field = f"rules[0].respond.headers.{name}"
    assert list(answer.json()["errors"]) == [field]
    assert words in answer.json()["errors"][field][0] and field in answer.json()["error"]
    # Refused whole: the active scenario is the one before, and the vendor still answers as itself.
    assert http.get(f"{report_emulator.url}/_emulator/scenario").json()["scenario"] == {"name": "before"}
    assert http.post(f"{report_emulator.url}{PARKUP}").status_code == 401


def test_headers_a_canned_answer_may_carry_still_reach_the_client(report_emulator, http):
    headers = {"X-Request-Id": "abc", "Retry-After": 120, "Content-Type": "application/problem+json",
               "X-Latin-1": "caf\u00e9", "X-Tab": "a\tb", "Set-Cookie": "session=1; Path=/"}
    assert put(report_emulator, http, rule_with_headers(headers)).status_code == 200
    answer = http.post(f"{report_emulator.url}{PARKUP}")
    assert answer.status_code == 200 and answer.json() == {}
    assert answer.headers["X-Request-Id"] == "abc" and answer.headers["Retry-After"] == "120"
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.raw.headers["X-Latin-1"].encode("latin-1").decode("latin-1") == "caf\u00e9"
    assert answer.headers["X-Tab"] == "a\tb" and answer.cookies["session"] == "1"


def test_a_bad_header_in_a_scenario_file_stops_serve_naming_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text('rules:\n  - match: {path: /x}\n    respond: {headers: {Transfer-Encoding: chunked}}\n')
    done = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0", "--scenario", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "rules[0].respond.headers.Transfer-Encoding" in done.stderr and "Traceback" not in done.stderr


def test_the_fixture_refuses_a_bad_header_with_a_scenario_error(report_emulator):
    from emulator.core.scenarios import ScenarioError

    with pytest.raises(ScenarioError) as caught:
        report_emulator.load_scenario(rule_with_headers({"X-Foo": "a\r\nb"}))
    assert "rules[0].respond.headers.X-Foo" in caught.value.errors


# --- regular expressions: RE2 -------------------------------------------------------------------

UNRUNNABLE = [
    ("^/v1/(a)\\1$", "backreferences"),
    ("^/v1/(?=logs)", "lookahead"),
    ("^/v1/(?!logs)", "lookahead"),
    ("(?<=/v1/)logs", "lookbehind"),
    ("(?<!x)logs", "lookbehind"),
    ("/logs\\Z", "\\z"),
    ("(unclosed", "missing )"),
]


@pytest.mark.parametrize("pattern, reason", UNRUNNABLE)
def test_a_pattern_re2_cannot_run_is_refused_at_load_with_the_reason(report_emulator, http, pattern, reason):
    answer = put(report_emulator, http, {"rules": [{"match": {"path_regex": pattern}, "respond": {"status": 500}}]})
    assert answer.status_code == 400
    messages = answer.json()["errors"]["rules[0].match.path_regex"]
    assert "RE2" in messages[0] and reason in messages[0]
    assert http.get(f"{report_emulator.url}/_emulator/scenario").json()["scenario"] is None


@pytest.mark.parametrize("endpoint", ["count", "near-misses"])
@pytest.mark.parametrize("pattern, reason", UNRUNNABLE[:3])
def test_the_journal_refuses_a_pattern_re2_cannot_run(report_emulator, http, endpoint, pattern, reason):
    answer = http.post(f"{report_emulator.url}/_emulator/journal/{endpoint}", json={"path_regex": pattern})
    assert answer.status_code == 400
    assert reason in answer.json()["errors"]["path_regex"][0]


def test_a_catastrophic_pattern_answers_promptly_in_rules_and_the_journal(report_emulator, http):
    """`^/v1/(a+)+$`: 2.8 s for 26 `a` with Python's backtracking engine, doubling with each one more."""
    scenario = {"rules": [{"name": "evil", "match": {"path_regex": CATASTROPHIC}, "respond": {"status": 418, "json": {}}}]}
    assert put(report_emulator, http, scenario).status_code == 200
    started = time.monotonic()
    missed = http.get(f"{report_emulator.url}{EVIL_PATH}", timeout=BOUND_S)
    assert missed.status_code == 404  # the rule did not match: Falkor's own answer to an unknown path
    matched = http.get(f"{report_emulator.url}/v1/{'a' * 40}", timeout=BOUND_S)
    assert matched.status_code == 418  # the pattern still means what it says
    count = http.post(f"{report_emulator.url}/_emulator/journal/count", json={"path_regex": CATASTROPHIC},
                      timeout=BOUND_S)
    assert count.json() == {"count": 1}
    misses = http.post(f"{report_emulator.url}/_emulator/journal/near-misses",
                       json={"method": "POST", "path_regex": CATASTROPHIC}, timeout=BOUND_S)
    assert [e["path"] for e in misses.json()["near_misses"]] == [f"/v1/{'a' * 40}"]  # the path, not the method
    assert time.monotonic() - started < BOUND_S


def test_a_catastrophic_pattern_does_not_hold_another_clients_health_call(report_emulator):
    """Eight clients send paths made to be slow while another asks for health: every call is answered
    within the bound (each request has it as its timeout: a held interpreter would time them out)."""
    scenario = {"rules": [{"match": {"path_regex": CATASTROPHIC}, "respond": {"status": 418}}]}
    assert requests.put(f"{report_emulator.url}/_emulator/scenario", json=scenario).status_code == 200
    long_path = "/v1/" + "a" * 5000 + "!"
    started = time.monotonic()
    with ThreadPoolExecutor(9) as pool:
        evil = [pool.submit(requests.get, f"{report_emulator.url}{path}", timeout=BOUND_S)
                for path in [EVIL_PATH, long_path] * 4]
        health = pool.submit(requests.get, f"{report_emulator.url}/_emulator/health", timeout=BOUND_S)
        assert health.result().json() == {"status": "ok"}
        assert [f.result().status_code for f in evil] == [404] * 8
    assert time.monotonic() - started < BOUND_S


# --- world sizes ---------------------------------------------------------------------------------

TOO_LARGE = [
    ({"parkup": {"customer_count": 20_000}}, "world.parkup.customer_count", "120,000 users"),
    ({"parkup": {"customer_count": 1000, "users_per_customer": 101}}, "world.parkup.customer_count", "101,000 users"),
    ({"strigo": {"event_count": 1_000_000}}, "world.strigo.event_count", "1,000,000 events"),
    ({"strigo": {"course_count": 100_001}}, "world.strigo.course_count", "100,001 courses"),
    ({"scale": 1000, "falkor": {"pathway_count": 101}}, "world.falkor.pathway_count", "101,000 pathways at scale 1000"),
]


@pytest.mark.parametrize("world, field, asked", TOO_LARGE)
def test_a_world_past_its_size_limit_is_refused_naming_the_field(report_emulator, http, world, field, asked):
    """A world a vendor makes whole on first use is bounded (MAX_WORLD_ENTITIES): a million took 8-47 s."""
    assert put(report_emulator, http, {"name": "kept", "rules": []}).status_code == 200
    answer = put(report_emulator, http, {"name": "big", "world": world})
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == [field]
    assert asked in answer.json()["errors"][field][0] and "at most 100,000" in answer.json()["error"]
    assert http.get(f"{report_emulator.url}/_emulator/scenario").json()["scenario"]["name"] == "kept"


def test_a_world_at_its_size_limit_is_taken(report_emulator, http):
    answer = put(report_emulator, http, {"name": "edge", "world": {"scale": 1000, "falkor": {"pathway_count": 100},
                                                                   "strigo": {"event_count": 100_000}}})
    assert answer.status_code == 200, answer.text


def test_the_fixture_refuses_a_world_past_its_size_limit_with_a_scenario_error(report_emulator):
    from emulator.core.scenarios import ScenarioError

    with pytest.raises(ScenarioError) as caught:
        report_emulator.load_scenario({"world": {"parkup": {"customer_count": 1_000_000}}})
    assert list(caught.value.errors) == ["world.parkup.customer_count"]
