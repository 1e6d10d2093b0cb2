"""Verification over HTTP (`POST /_emulator/journal/count` and `/near-misses`), the admin API's own
OpenAPI document, the docs page's examples and authorisation on a default server, and the shipped
scenarios as an installed package sees them."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from emulator.scenarios import SHIPPED, shipped

PARKUP = "/api/v3/business/report/event/user"


@pytest.fixture
def calls(report_emulator, http):
    """A few vendor calls in the journal."""
    url = report_emulator.url
    http.get(f"{url}/api/v1/health?x=1&y=2")
    http.post(f"{url}/api/v1/health")
    http.get(f"{url}/api/v1/healthz")
    http.post(f"{url}/v1/logs/pathway-logs", json={"pathway": "A", "types": ["Data Target"]})
    return url


@pytest.mark.parametrize("match, count", [
    ({}, 4),
    ({"method": "GET", "path": "/api/v1/health"}, 1),
    ({"method": "get", "path": "/api/v1/health", "query": {"x": "1"}}, 1),
    ({"path": "/api/v1/health", "query": {"x": "2"}}, 0),
    ({"path_regex": "^/api/v1/health"}, 3),
    ({"json": {"pathway": "A"}}, 1),
    ({"json": {"pathway": "B"}}, 0),
    ({"method": "POST"}, 2),
])
def test_count_matches_as_a_scenario_rule_would(calls, http, match, count):
    answer = http.post(f"{calls}/_emulator/journal/count", json=match)
    assert answer.status_code == 200
    assert answer.json() == {"count": count}


def test_near_misses_lists_the_closest_calls_first(calls, http):
    answer = http.post(f"{calls}/_emulator/journal/near-misses", json={"method": "GET", "path": "/api/v1/health",
                                                                        "query": {"x": "9"}})
    assert answer.status_code == 200
    misses = [(e["method"], e["path"], e["query"]) for e in answer.json()["near_misses"]]
    assert misses[0] == ("GET", "/api/v1/health", "x=1&y=2")  # same method and path, other parameters
    assert ("POST", "/api/v1/health", "") in misses and ("GET", "/api/v1/healthz", "") in misses
    assert all(path != "/v1/logs/pathway-logs" for _, path, _ in misses)
    exact = http.post(f"{calls}/_emulator/journal/near-misses", json={"method": "GET", "path": "/api/v1/health"})
    assert ("GET", "/api/v1/health") not in [(e["method"], e["path"]) for e in exact.json()["near_misses"]]


@pytest.mark.parametrize("endpoint", ["count", "near-misses"])
@pytest.mark.parametrize("body, field", [
    ({"headers": {"X-Client": "a"}}, "headers"),
    ({"colour": "red"}, "colour"),
    ({"path_regex": "("}, "path_regex"),
    ({"method": 5}, "method"),
    ([1], "_body"),
])
def test_bad_matches_are_refused_naming_the_field_and_change_nothing(calls, http, endpoint, body, field):
    before = http.get(f"{calls}/_emulator/journal").json()
    answer = http.post(f"{calls}/_emulator/journal/{endpoint}", json=body)
    assert answer.status_code == 400
    assert field in answer.json()["errors"] and answer.json()["error"]
    assert http.get(f"{calls}/_emulator/journal").json() == before


def test_not_json_is_refused(calls, http):
    answer = http.post(f"{calls}/_emulator/journal/count", data=b"{nope", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["errors"] == {"_body": ["not valid JSON"]}


def test_admin_openapi_document_is_valid_and_in_the_docs_page(report_emulator, http):
    document = http.get(f"{report_emulator.url}/_emulator/openapi/admin.json").json()
    validate(document)
    for path in ("/_emulator/journal/count", "/_emulator/journal/near-misses", "/_emulator/reset", "/_emulator/scenario"):
        assert path in document["paths"]
    served = {rule.rule.replace("<path:", "<").split("<")[0].rstrip("/") for rule in report_emulator.app.url_map.iter_rules()
              if rule.rule.startswith("/_emulator/") and "static" not in rule.rule}
    documented = {path.split("{")[0].rstrip("/") for path in document["paths"]}
    assert served <= documented  # every admin route is described
    assert 'url: "openapi/admin.json"' in http.get(f"{report_emulator.url}/_emulator/docs").text


def _auth_headers(report_emulator, http, scheme: dict) -> dict:
    """The header the security scheme's description tells a docs-page user to give."""
    text = scheme["description"]
    if scheme["scheme"] == "basic":
        user, password = "emulator", "falkor-token"
        assert f"user `{user}`, password `{password}`" in text
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    if "emulator-org:strigo-emulator-key" in text:
        return {"Authorization": "Bearer emulator-org:strigo-emulator-key"}
    if "parkup-emulator-token" in text:
        return {"Authorization": "Bearer parkup-emulator-token"}
    assert "`emulator-client`" in text and "`echo360-emulator-secret`" in text
    token = http.post(f"{report_emulator.url}/oauth2/access_token", params={
        "grant_type": "client_credentials", "client_id": "emulator-client", "client_secret": "echo360-emulator-secret"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.mark.parametrize("vendor", ["strigo", "echo360", "falkor", "parkup"])
def test_docs_page_examples_and_authorisation_work_on_a_default_server(report_emulator, http, vendor):
    """Every operation without path parameters, sent as "Try it out" would: the example body, the
    example query values, and the credentials the security scheme describes."""
    document = http.get(f"{report_emulator.url}/_emulator/openapi/{vendor}.json").json()
    assert all(not server["url"].endswith("/api/v1") for server in document["servers"])  # paths carry the prefix
    schemes = document["components"].get("securitySchemes", {})
    tried = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "{" in path:
                continue
            headers = {}
            for requirement in operation.get("security", [])[:1]:
                (name,) = requirement
                headers = _auth_headers(report_emulator, http, schemes[name])
            body = None
            if "requestBody" in operation:
                [(media, content)] = operation["requestBody"]["content"].items()
                body = content.get("example")
                headers["Content-Type"] = media
            params = {p["name"]: p["schema"]["example"] for p in operation.get("parameters", [])
                      if p.get("in") == "query" and "example" in p.get("schema", {})}
            answer = http.request(method.upper(), report_emulator.url + path, json=body, params=params, headers=headers)
            assert answer.status_code < 300, f"{method.upper()} {path}: {answer.status_code} {answer.text[:200]}"
            tried += 1
    assert tried
    assert report_emulator.violations(vendor) == []


def test_shipped_scenarios_are_installed_with_a_description_each(tmp_path):
    """Loaded by name from outside the repository, as after `pip install`."""
    assert SHIPPED.parent.name == "emulator"
    assert set(shipped()) == {p.stem for p in SHIPPED.glob("*.yaml")} and all(shipped().values())
    code = "from emulator.core.scenarios import load; print(load('parkup-outage')['name'])"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.stdout.strip() == "parkup-outage", done.stderr


def test_a_path_wins_over_a_shipped_name_and_a_missing_one_is_named(report_emulator, tmp_path, monkeypatch):
    from emulator.core.scenarios import ScenarioError

    monkeypatch.chdir(tmp_path)
    Path("parkup-outage").write_text("name: mine\n")
    assert report_emulator.load_scenario("parkup-outage")["name"] == "mine"
    with pytest.raises(ScenarioError, match="cannot read scenario file no-such"):
        report_emulator.load_scenario("no-such")


def test_docs_list_every_shipped_scenario_by_name():
    text = (Path(__file__).resolve().parent.parent / "docs" / "scenarios.md").read_text()
    table = text[text.index("## Shipped scenarios"):]
    import re

    assert set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M)) == set(shipped())
