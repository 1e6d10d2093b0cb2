"""Hostile and careless clients (issue 11), through a real socket: each case that once broke.

Deep nesting, YAML alias bombs, huge queries, big bodies and secrets in the journal, and the public
Echo360 client that sends its token in the JSON body. Every refusal is the vendor's own envelope (or
the admin API's JSON) naming the limit, and changes no state.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from emulator.core.limits import (JOURNAL_ENTRY_BYTES, JOURNAL_MAX_BYTES, MAX_BODY_BYTES, MAX_JSON_DEPTH,
                                  MAX_SCENARIO_BYTES, MAX_VIOLATIONS, entry_bytes, json_too_deep, mask_secrets)

DEEP = "[" * 100_000 + "]" * 100_000
JSON_CT = {"Content-Type": "application/json"}
PARKUP = "/api/v3/business/report/event/user"
FALKOR = "/v1/logs/pathway-logs"
STRIGO_EVENT = "/api/v1/events/{id}/reports/exercises"
ECHO_SUBMIT = "/public/api/v1/reporting/requests/videoview"
ECHO_REQUESTS = "/public/api/v1/reporting/requests"
NESTED = f"nested more than {MAX_JSON_DEPTH} levels deep"

# A YAML "billion laughs": each level multiplies the one before by ten (792 bytes once made 47 MB).
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a}]" for a, b in zip("abcdefgh", "bcdefghi")]
    + ["name: lol"])


def echo_token(emulator, http) -> str:
    creds = emulator.credentials["echo360"]
    params = {"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
    return http.post(f"{emulator.url}/oauth2/access_token", params=params).json()["access_token"]


# --- 1. deep nesting --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/_emulator/reset", "/_emulator/clock", "/_emulator/clock/advance"])
def test_deeply_nested_admin_bodies_are_400_naming_the_limit(report_emulator, http, path):
    before = http.get(f"{report_emulator.url}/_emulator/clock").json()
    response = http.post(f"{report_emulator.url}{path}", data=DEEP, headers=JSON_CT)
    assert response.status_code == 400
    assert NESTED in response.json()["error"]
    assert NESTED in response.json()["errors"]["_body"][0]
    assert http.get(f"{report_emulator.url}/_emulator/clock").json() == before


@pytest.mark.parametrize("content_type", ["application/json", "application/yaml"])
def test_deeply_nested_scenarios_are_400_naming_the_limit(report_emulator, http, content_type):
    response = http.put(f"{report_emulator.url}/_emulator/scenario", data=DEEP, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert NESTED in response.json()["errors"]["_body"][0]
    assert report_emulator.scenario["scenario"] is None


def test_nesting_at_the_limit_is_read(report_emulator, http):
    """The limit itself is allowed: 64 levels are parsed (and refused by the schema, not the reader)."""
    body = '{"seed": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    response = http.post(f"{report_emulator.url}/_emulator/reset", data=body, headers=JSON_CT)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["seed"]


@pytest.mark.parametrize("text, deep", [
    ("[" * 3 + "]" * 3, False),
    ("[" * 4 + "]" * 4, True),
    ('[{"a": [1]}]', False),
    ('[{"a": [[1]]}]', True),
    ('["[[[[[[", "{{{{{{"]', False),  # brackets inside strings do not count
    ('["a\\"[[[[[[", 1]', False),  # an escaped quote does not end the string
    ("[[][][][][][][]]", False),  # many arrays, none deep
    ("[[]" * 4, True),  # never closed, still four deep
    ('["never ends, [[[[[[[[', False),  # json.loads refuses it at the string, before any nesting after it
])
def test_depth_is_counted_outside_strings(text, deep):
    assert json_too_deep(text, 3) is deep


@pytest.mark.parametrize("text, masked", [
    ("grant_type=x&client_secret=s3cr3t&client_id=c", "grant_type=x&client_secret=***&client_id=c"),
    ("Token=abc", "Token=***"),
    ("my_token=abc", "my_token=abc"),  # a name that merely ends like a secret's
    ('{"access_token": "abc", "x": 1}', '{"access_token": "***", "x": 1}'),
    ('{"password": 12345}', '{"password": "***"}'),
    ('{"api_key": "cut off by the journal', '{"api_key": "***"'),
])
def test_secret_values_are_masked(text, masked):
    assert mask_secrets(text) == masked


@pytest.fixture
def json_rule(report_emulator):
    """A rule that matches on the JSON body, so the scenario's matcher parses every body first."""
    report_emulator.load_scenario({"rules": [{"match": {"json": {"refId": "nobody"}}, "respond": {"status": 418}}]})


def test_deep_body_to_falkor_with_a_json_rule_is_400(report_emulator, http, json_rule):
    token = report_emulator.credentials["falkor"]["token"]
    response = http.post(f"{report_emulator.url}{FALKOR}", data=DEEP,
                         headers={**JSON_CT, "Authorization": f"Basic {token}"})
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert NESTED in response.json()["message"]


def test_deep_body_to_parkup_with_a_json_rule_is_400(report_emulator, http, json_rule):
    token = report_emulator.credentials["parkup"]["token"]
    response = http.post(f"{report_emulator.url}{PARKUP}", data=DEEP,
                         headers={**JSON_CT, "Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid date range or missing required parameters"}  # fixed by the document
    assert NESTED in response.headers["X-Emulator-Error"]
    violations = report_emulator.violations("parkup")
    assert any(v["rule"] == "body limit" and NESTED in v["message"] for v in violations)


# --- 2. YAML aliases ------------------------------------------------------------------------------


def test_yaml_alias_bomb_is_400_small_and_names_the_problem(report_emulator, http):
    response = http.put(f"{report_emulator.url}/_emulator/scenario", data=ALIAS_BOMB,
                        headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400
    assert len(response.content) < 1000
    assert "anchors and aliases are not accepted" in response.json()["errors"]["_body"][0]
    assert report_emulator.scenario["scenario"] is None


def test_a_single_alias_is_refused_too(report_emulator, http):
    text = "name: x\nrules:\n  - &r {match: {path: /a}, respond: {status: 418}}\n  - *r\n"
    response = http.put(f"{report_emulator.url}/_emulator/scenario", data=text, headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400
    assert "line 3" in response.json()["error"]


def test_a_scenario_past_its_size_limit_is_400_naming_it(report_emulator, http):
    text = "name: big\n" + "# padding\n" * (MAX_SCENARIO_BYTES // 10)
    response = http.put(f"{report_emulator.url}/_emulator/scenario", data=text, headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400
    assert f"more than the limit of {MAX_SCENARIO_BYTES}" in response.json()["errors"]["_body"][0]
    assert report_emulator.scenario["scenario"] is None


# --- 3. the journal in bytes ----------------------------------------------------------------------


def test_ten_thousand_query_parameters_make_one_bounded_marked_entry(report_emulator, http):
    event = report_emulator.world["strigo"]["events"][0]["id"]
    query = "&".join(f"p{n}=v" for n in range(10_000))
    http.get(f"{report_emulator.url}{STRIGO_EVENT.format(id=event)}?{query}")
    [entry] = report_emulator.journal()
    assert entry_bytes(entry) <= JOURNAL_ENTRY_BYTES
    assert entry["truncated"] is True
    assert entry["cut"]["query"] == {"kept": 2048, "of": len(query)}
    assert query.startswith(entry["query"])
    assert len(entry["violations"]) == MAX_VIOLATIONS + 1
    assert entry["violations"][-1]["message"].startswith(f"and {10_000 - MAX_VIOLATIONS} more violations")
    assert len(report_emulator.violations("strigo")) == MAX_VIOLATIONS + 1


def test_the_journal_is_capped_in_bytes(report_emulator, http):
    """1,000 requests of about 10 kB each (a long path, long unknown parameters, a body) outweigh the byte cap."""
    long_id = "e" * 1500
    query = "&".join(f"{n:03d}{'q' * 250}=v" for n in range(30))
    for n in range(1000):
        http.get(f"{report_emulator.url}{STRIGO_EVENT.format(id=long_id)}?{query}&n={n}", data="b" * 3000)
    entries = report_emulator.journal()
    assert 0 < len(entries) < 1000  # the entry cap (1,000) was not what dropped them
    assert sum(entry_bytes(e) for e in entries) <= JOURNAL_MAX_BYTES
    assert entries[-1]["cut"]["query"]["of"] == len(query) + len("&n=999")  # the newest kept, the oldest dropped
    assert all(entry_bytes(e) <= JOURNAL_ENTRY_BYTES for e in entries)


def test_secrets_are_masked_in_the_journal(report_emulator, http):
    url = report_emulator.url
    creds = report_emulator.credentials
    echo = creds["echo360"]
    http.post(f"{url}/oauth2/access_token", params={"grant_type": "client_credentials", "client_id": echo["client_id"],
                                                    "client_secret": echo["client_secret"]})
    http.post(f"{url}/oauth2/access_token", data={"grant_type": "client_credentials", "client_id": echo["client_id"],
                                                  "client_secret": echo["client_secret"]})
    http.post(f"{url}/api/v3/business/oauth/access_token",
              json={"refresh_token": creds["parkup"]["refresh_token"], "grant_type": "refresh_token"})
    http.get(f"{url}{ECHO_REQUESTS}", params={"access_token": "abc123secret"})
    text = str(report_emulator.journal())
    for secret in (echo["client_secret"], creds["parkup"]["refresh_token"], "abc123secret"):
        assert secret not in text
    query, form, parkup, echo_get = report_emulator.journal()
    assert f"client_id={echo['client_id']}&client_secret=***" in query["query"]
    assert "client_secret=***" in form["body"]
    assert '"refresh_token": "***"' in parkup["body"]
    assert echo_get["query"] == "access_token=***"


# --- 5. body size -------------------------------------------------------------------------------


def test_a_body_past_the_limit_is_413_in_the_vendors_envelope(report_emulator, http):
    token = echo_token(report_emulator, http)
    big = b'{"parameters": {"x": "' + b"x" * 11_000_000 + b'"}}'
    response = http.post(f"{report_emulator.url}{ECHO_SUBMIT}", data=big,
                         headers={**JSON_CT, "Authorization": f"Bearer {token}"})
    assert response.status_code == 413
    assert response.json() == {"error": f"the request body is larger than the limit of {MAX_BODY_BYTES} bytes (10 MiB)"}
    listed = http.get(f"{report_emulator.url}{ECHO_REQUESTS}", headers={"Authorization": f"Bearer {token}"})
    assert listed.json() == {"requests": []}
    assert report_emulator.journal()[1]["status"] == 413


def test_a_chunked_body_past_the_limit_is_413_too(report_emulator, http):
    token = report_emulator.credentials["falkor"]["token"]
    chunks = (b"x" * (512 * 1024) for _ in range(21))  # 10.5 MiB with no Content-Length: sent chunked
    response = http.post(f"{report_emulator.url}{FALKOR}", data=chunks,
                         headers={**JSON_CT, "Authorization": f"Basic {token}"})
    assert response.status_code == 413
    assert response.json()["status"] == "error"
    assert str(MAX_BODY_BYTES) in response.json()["message"]


def test_an_admin_body_past_the_limit_is_413_naming_it(report_emulator, http):
    before = http.get(f"{report_emulator.url}/_emulator/clock").json()
    response = http.post(f"{report_emulator.url}/_emulator/clock", data=b" " * (MAX_BODY_BYTES + 1), headers=JSON_CT)
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.json()["errors"]["_body"][0]
    assert http.get(f"{report_emulator.url}/_emulator/clock").json() == before


# --- 9. a public Echo360 client -----------------------------------------------------------------


def public_client_body(token: str, emulator) -> dict:
    """What a public weekly report script sends: the token in the body, and keys the document does not list."""
    start = emulator.now.date() - timedelta(days=10)
    return {"access_token": token, "reportName": "videoview",
            "parameters": {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()},
            "output": {"compression": False, "delimiter": ",", "output": "csv"}}


def test_the_public_echo360_client_is_accepted_outside_strict_mode(report_emulator, http):
    token = echo_token(report_emulator, http)
    response = http.post(f"{report_emulator.url}{ECHO_SUBMIT}", json=public_client_body(token, report_emulator))
    assert response.status_code == 200, response.text
    assert response.json()["reportName"] == "videoview"
    recorded = {v["param"] for v in report_emulator.violations("echo360")}
    assert {"access_token", "reportName", "output.output"} <= recorded


def test_the_public_echo360_client_is_refused_in_strict_mode(report_emulator, http):
    token = echo_token(report_emulator, http)
    report_emulator.load_scenario({"strict": True})
    response = http.post(f"{report_emulator.url}{ECHO_SUBMIT}", json=public_client_body(token, report_emulator))
    assert response.status_code == 400
    for field in ("access_token", "reportName", "output.output"):
        assert field in response.json()["error"]
    listed = http.get(f"{report_emulator.url}{ECHO_REQUESTS}", headers={"Authorization": f"Bearer {token}"})
    assert listed.json() == {"requests": []}


def test_a_wrong_token_in_the_body_is_401(report_emulator, http):
    body = public_client_body("not-a-token", report_emulator)
    response = http.post(f"{report_emulator.url}{ECHO_SUBMIT}", json=body)
    assert response.status_code == 401


# --- 4: a reset or a world change in the middle of vendor calls -----------------------------------------

def test_a_reset_in_the_middle_of_a_vendor_call_leaves_it_one_consistent_world(report_emulator, http):
    """A call pins one state for its whole life (core/registry.py): a reset to another seed while it is
    held by a delay does not swap the world under it (before, such a swap gave 500 IndexError). Its
    last write (the journal entry) carries the replaced generation and fails, so it is answered again,
    whole, by the new world (issue 16: one world's answer, never a mix, never a 500)."""
    import threading

    url = report_emulator.url
    headers = {"Authorization": f"Basic {report_emulator.credentials['falkor']['token']}"}
    pathway = report_emulator.world["falkor"]["pathways"][0]["ID"]
    expected = http.post(f"{url}/v1/logs/pathway-logs", json={"pathway": pathway}, headers=headers)
    assert expected.status_code == 200
    report_emulator.load_scenario({"name": "hold", "rules": [
        {"match": {"path": "/v1/logs/pathway-logs"}, "times": 1, "delay_ms": 1500}]})
    answers = []
    held = threading.Thread(target=lambda: answers.append(
        requests.post(f"{url}/v1/logs/pathway-logs", json={"pathway": pathway}, headers=headers)))
    held.start()
    time.sleep(0.5)  # the call has pinned its state and is held by the rule's delay
    assert http.post(f"{url}/_emulator/reset", json={"seed": 99}).status_code == 200
    held.join()
    # The held call answers as the new world does, the same as a call made after the reset.
    after = http.post(f"{url}/v1/logs/pathway-logs", json={"pathway": pathway}, headers=headers)
    assert after.status_code == 404 or after.json()["data"] != expected.json()["data"]
    assert answers[0].status_code == after.status_code
    assert answers[0].json().get("data") == after.json().get("data")
    assert [e["status"] for e in report_emulator.journal()] == [answers[0].status_code, after.status_code]
