"""Self-conformance: schemathesis drives each vendor's OpenAPI document against the running emulator.

Positive and negative cases generated from the document, in lenient and in strict mode: no 5xx ever,
and every answer (status, content type, headers, body) conforms to the document. The documents come
from the same declared contract (core/contract.py) the emulator serves and enforces.

Generated ids are almost never the world's, so most generated cases end in a documented 404; the
`well_behaved` cases below call each operation with the world's own ids to check the 200 answers too.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from emulator.core.openapi import build_document
from emulator.vendors import VENDORS

CONTRACTS = {v.name: v.contract for v in VENDORS if v.contract is not None}
# About a minute for the whole file on a 2-core machine (each operation twice: lenient and strict).
EXAMPLES_PER_OPERATION = 60
# A schema-valid request may still break a rule OpenAPI cannot express (from after until, a range over
# 7 days, an unknown id), which the vendors answer with a documented 4xx: so "valid data is accepted"
# is not a check here. Every other check (no 5xx, status, content type, headers, body schema, negative
# data rejected) is, except that lenient mode by design accepts what only strict mode refuses (an
# unknown body field, an Accept outside the documented ones): there negative data may be answered 200.
EXCLUDED = {
    "strict": [schemathesis.checks.positive_data_acceptance],
    "lenient": [schemathesis.checks.positive_data_acceptance, schemathesis.checks.negative_data_rejection],
}
# Strigo's and Echo360's rate limits (120 a minute, on a clock that does not move) would otherwise answer
# most calls 429.
UNLIMITED = {"strigo": {"rate_limit": 1_000_000}, "echo360": {"rate_limit": 1_000_000}}
SCENARIO = {"strict": {"strict": True, **UNLIMITED}, "lenient": UNLIMITED}


def auth_headers(vendor: str, credentials: dict, token: str | None = None) -> dict[str, str]:
    creds = credentials[vendor]
    if vendor == "strigo":
        return {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}
    if vendor == "falkor":
        return {"Authorization": f"Basic {creds['token']}"}
    if vendor == "parkup":
        return {"Authorization": f"Bearer {creds['token']}"}
    if vendor == "echo360" and token:
        return {"Authorization": f"Bearer {token}"}
    return {}


def echo360_token(url: str, credentials: dict) -> str:
    import requests

    creds = credentials["echo360"]
    answer = requests.post(f"{url}/oauth2/access_token", params={
        "grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]})
    return answer.json()["access_token"]


_schemas: dict[str, object] = {}


def operations(vendor: str):
    if vendor not in _schemas:
        _schemas[vendor] = schemathesis.openapi.from_dict(build_document(CONTRACTS[vendor]))
    return [result.ok() for result in _schemas[vendor].get_all_operations()]


CASES = [(vendor, op.label) for vendor in CONTRACTS for op in operations(vendor)]


def headers_for(vendor: str, report_emulator) -> dict[str, str]:
    token = echo360_token(report_emulator.url, report_emulator.credentials) if vendor == "echo360" else None
    return auth_headers(vendor, report_emulator.credentials, token)


@pytest.mark.parametrize("mode", ["lenient", "strict"])
@pytest.mark.parametrize("vendor, label", CASES)
def test_operation_conforms(vendor, label, mode, report_emulator):
    report_emulator.load_scenario(SCENARIO[mode])
    operation = next(op for op in operations(vendor) if op.label == label)
    request_id = echo360_request(report_emulator) if vendor == "echo360" else None
    world = {**report_emulator.world, "echo360_request": request_id}
    headers = headers_for(vendor, report_emulator)  # after echo360_request moved the clock past a token's hour
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    strategy = st.one_of(
        positive,
        st.tuples(positive, st.integers(min_value=0, max_value=10**6))
        .map(lambda pair: with_world_ids(vendor, *pair, world)),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(base_url=report_emulator.url, headers=headers, excluded_checks=EXCLUDED[mode])

    run()


def with_world_ids(vendor: str, case, pick: int, world: dict):
    """A generated positive case aimed at one of the world's entities, so that 200 answers get generated
    queries and bodies too (generated ids almost always end in a 404)."""
    def one(items: list, key: str):
        return items[pick % len(items)][key]

    params = case.path_parameters or {}
    body = case.body if isinstance(case.body, dict) else None
    if vendor == "strigo":
        if "event_id" in params:
            params["event_id"] = one(world["strigo"]["events"], "id")
        if "course_id" in params:
            params["course_id"] = one(world["strigo"]["courses"], "id")
    elif vendor == "falkor" and body is not None:
        body["pathway"] = one(world["falkor"]["pathways"], "ID")
    elif vendor == "parkup" and body is not None:
        user = world["parkup"]["users"][pick % len(world["parkup"]["users"])]
        body["refId"] = user["refId"]
        if "customerId" in body:
            body["customerId"] = user["customerId"]
    elif vendor == "echo360":
        if "report_or_request" in params:
            reports = world["echo360"]["reports"]
            params["report_or_request"] = reports[pick % len(reports)] if case.method == "POST" else world["echo360_request"]
        if "request_id" in params:
            params["request_id"] = world["echo360_request"]
    return case


def echo360_request(report_emulator) -> str:
    """The requestId of a report request submitted (and completed: the clock moves a day) before the run."""
    import requests

    answer = requests.post(f"{report_emulator.url}/public/api/v1/reporting/requests/asset",
                           headers=headers_for("echo360", report_emulator),
                           json={"output": {"compression": False, "delimiter": ","}})
    report_emulator.advance(24 * 3600)
    return answer.json()["requestId"]


def well_behaved(vendor: str, world: dict, report_emulator=None) -> list[tuple]:
    """Requests a careful client makes with the world's own ids: (label, path parameters, query, body)."""
    if vendor == "strigo":
        event, course = world["strigo"]["events"][0]["id"], world["strigo"]["courses"][0]["id"]
        cases = []
        for output in ("json", "csv"):
            cases.append(("GET /api/v1/events/{event_id}/reports/exercises", {"event_id": event}, {"output": output}, None))
            cases.append(("GET /api/v1/ondemand-courses/{course_id}/reports/enrollments", {"course_id": course}, {"output": output}, None))
            cases.append(("GET /api/v1/ondemand-courses/{course_id}/reports/exercises", {"course_id": course}, {"output": output}, None))
        cases.append(("POST /api/v1/events/{event_id}/reports/user-activity", {"event_id": event}, None, {}))
        cases.append(("POST /api/v1/ondemand-courses/{course_id}/reports/user-activity", {"course_id": course}, None, {}))
        cases.append(("GET /api/v1/health", None, None, None))
        return cases
    if vendor == "falkor":
        return [("POST /v1/logs/pathway-logs", None, None, {"pathway": p["ID"]}) for p in world["falkor"]["pathways"]]
    if vendor == "parkup":
        refresh = report_emulator.credentials["parkup"]["refresh_token"]
        return [("POST /api/v3/business/oauth/access_token", None, None,
                 {"refresh_token": refresh, "grant_type": "refresh_token"}),
                ("POST /api/v3/business/validate", None, None, None)] + [
                ("POST /api/v3/business/report/event/user", None, None,
                 {"refId": u["refId"], "customerId": u["customerId"], "from": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"})
                for u in world["parkup"]["users"][:5]]
    if vendor == "echo360":
        creds = report_emulator.credentials["echo360"]
        request_id = echo360_request(report_emulator)  # Available by now: the detail has signed links
        reporting = "/public/api/v1/reporting"
        return [
            ("POST /oauth2/access_token", None, {"grant_type": "client_credentials", **creds}, None),
            (f"GET {reporting}/reports", None, None, None),
            (f"GET {reporting}/requests", None, None, None),
            (f"POST {reporting}/requests/{{report_or_request}}", {"report_or_request": "presentation"}, None,
             {"parameters": {"start": "2025-01-06", "end": "2025-01-13"}, "output": {"compression": True, "delimiter": "|"}}),
            (f"GET {reporting}/requests/{{report_or_request}}", {"report_or_request": request_id}, None, None),
            (f"GET {reporting}/request/{{request_id}}", {"request_id": request_id}, None, None),
        ]
    return []


@pytest.mark.parametrize("vendor", list(CONTRACTS))
def test_well_behaved_answers_conform(vendor, report_emulator):
    """The world's own ids: 200 answers conform to the document and the client broke no rule."""
    report_emulator.load_scenario({"strict": True})
    cases = well_behaved(vendor, report_emulator.world, report_emulator)
    headers = headers_for(vendor, report_emulator)
    statuses = []
    for label, path_parameters, query, body in cases:
        operation = next(op for op in operations(vendor) if op.label == label)
        media = "application/json" if body is not None else None
        accept = "text/csv" if (query or {}).get("output") == "csv" else "application/json"
        case = operation.Case(path_parameters=path_parameters, query=query, media_type=media,
                              headers={"Accept": accept}, **({"body": body} if body is not None else {}))
        response = case.call(base_url=report_emulator.url, headers=headers)
        case.validate_response(response, excluded_checks=EXCLUDED["strict"])
        statuses.append(response.status_code)
    assert statuses and set(statuses) == {200}
    report_emulator.assert_no_violations()


@pytest.mark.parametrize("vendor", list(CONTRACTS))
def test_schemathesis_command_line_finds_nothing(vendor, report_emulator):
    """The README's command: `schemathesis run` against the served document, strict mode, every phase
    (examples, coverage of boundaries and missing/extra parts, fuzzing, stateful): no failure."""
    import subprocess
    import sys
    from pathlib import Path

    report_emulator.load_scenario(SCENARIO["strict"])
    headers = [arg for name, value in headers_for(vendor, report_emulator).items() for arg in ("-H", f"{name}: {value}")]
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{report_emulator.url}/_emulator/openapi/{vendor}.json",
         "--url", report_emulator.url, *headers, "--exclude-checks", "positive_data_acceptance",
         "--max-examples", "20", "--seed", "1", "--generation-deterministic", "--no-color"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout.split("SUMMARY")[-1]
