"""The vendors' OpenAPI documents: valid, served and written alike, browsable offline, and in agreement
with the vendor documents' own examples (fixtures/) and with the routes the emulator really serves."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from emulator.app import create_app
from emulator.core.openapi import build_document, flask_path
from emulator.vendors import VENDORS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NAMES = ["strigo", "echo360", "falkor", "parkup"]
SPECS = {v.name: v for v in VENDORS}


def document(vendor: str) -> dict:
    contract = SPECS[vendor].contract
    assert contract is not None, f"{vendor} declares no contract"
    return build_document(contract)


def resolve(doc: dict, node):
    """The node with every local $ref replaced by what it points to (our documents have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(doc, target)
        return {key: resolve(doc, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(doc, item) for item in node]
    return node


def response_schema(doc: dict, method: str, path: str, status: int, media: str = "application/json") -> dict:
    return resolve(doc, doc["paths"][path][method.lower()]["responses"][str(status)]["content"][media]["schema"])


def request_schema(doc: dict, method: str, path: str) -> dict:
    return resolve(doc, doc["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"])


def errors(schema: dict, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in OAS30Validator(schema).iter_errors(instance)]


@pytest.mark.parametrize("vendor", NAMES)
def test_document_passes_openapi_spec_validator(vendor):
    doc = document(vendor)
    validate(doc)
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]


@pytest.mark.parametrize("vendor", NAMES)
def test_every_example_in_the_document_fits_its_schema(vendor):
    doc = document(vendor)
    checked = 0
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            bodies = [("request", operation.get("requestBody", {}).get("content", {}))]
            bodies += [(status, answer.get("content", {})) for status, answer in operation["responses"].items()]
            for where, content in bodies:
                for media, entry in content.items():
                    if "example" in entry:
                        problems = errors(resolve(doc, entry["schema"]), entry["example"])
                        assert not problems, f"{method.upper()} {path} {where} {media}: {problems}"
                        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("vendor", NAMES)
def test_every_vendor_route_is_a_documented_operation_and_back(vendor):
    """The contract names real endpoints with their real paths and methods, and leaves none out."""
    app = create_app()
    spec = SPECS[vendor]
    routes = {(rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith(f"{spec.blueprint.name}.") for method in rule.methods - {"HEAD", "OPTIONS"}}
    declared = {(op.endpoint, op.method, flask_path(op.path)) for op in spec.contract.operations}
    assert declared <= routes
    assert {endpoint for endpoint, _, _ in routes} <= {endpoint for endpoint, _, _ in declared} | undocumented(vendor)


def undocumented(vendor: str) -> set[str]:
    """Routes that are no vendor API operation: Echo360's signed downloads are S3 links the API hands out."""
    return {"echo360.download"} if vendor == "echo360" else set()


@pytest.mark.parametrize("vendor", NAMES)
def test_served_document_equals_the_command_line_output(vendor, report_emulator, http, tmp_path):
    served = http.get(f"{report_emulator.url}/_emulator/openapi/{vendor}.json")
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("application/json")
    printed = subprocess.run([sys.executable, "-m", "emulator", "openapi", vendor], capture_output=True, text=True,
                             check=True).stdout
    assert json.loads(printed) == served.json() == document(vendor)
    target = tmp_path / f"{vendor}.json"
    subprocess.run([sys.executable, "-m", "emulator", "openapi", vendor, "-o", str(target)], check=True)
    assert json.loads(target.read_text()) == served.json()


def test_unknown_vendor_document(report_emulator, http):
    answer = http.get(f"{report_emulator.url}/_emulator/openapi/acme.json")
    assert answer.status_code == 404
    assert "acme" in answer.json()["error"]
    run = subprocess.run([sys.executable, "-m", "emulator", "openapi", "acme"], capture_output=True, text=True)
    assert run.returncode == 2 and "acme" in run.stderr


def test_docs_page_is_self_contained(report_emulator, http):
    page = http.get(f"{report_emulator.url}/_emulator/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert not re.search(r"(https?:)?//", page.text), "the docs page must fetch nothing from another host"
    assert "validatorUrl: null" in page.text  # Swagger UI would otherwise call validator.swagger.io
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 3
    for asset in assets:
        answer = http.get(f"{report_emulator.url}/_emulator/{asset}")
        assert answer.status_code == 200 and len(answer.content) > 1000, asset
    for vendor in NAMES:
        assert f'openapi/{vendor}.json' in page.text
        assert http.get(f"{report_emulator.url}/_emulator/openapi/{vendor}.json").status_code == 200


# (fixture file, method, path, status or "request"; how the file relates to the answer)
STRIGO_EVENT = "/api/v1/events/{event_id}/reports/exercises"
ECHO360 = "/public/api/v1/reporting"
FIXTURE_MAP = {
    "strigo": [
        # The document's event exercises example shows only the content of `data` (vendor notes).
        ("event-exercises.json", "GET", STRIGO_EVENT, 200, lambda rows: {"result": "success", "data": rows}),
        ("course-enrollments.json", "GET", "/api/v1/ondemand-courses/{course_id}/reports/enrollments", 200, None),
        ("course-exercises.json", "GET", "/api/v1/ondemand-courses/{course_id}/reports/exercises", 200, None),
        ("event-user-activity.json", "POST", "/api/v1/events/{event_id}/reports/user-activity", 200, None),
        ("course-user-activity.json", "POST", "/api/v1/ondemand-courses/{course_id}/reports/user-activity", 200, None),
        ("event-user-activity-request.json", "POST", "/api/v1/events/{event_id}/reports/user-activity", "request", None),
        ("course-user-activity-request.json", "POST", "/api/v1/ondemand-courses/{course_id}/reports/user-activity", "request", None),
        ("health.json", "GET", "/api/v1/health", 200, None),
    ],
    "echo360": [
        # The document shows single report listings; GET /reports answers {"reports": [...]}.
        ("report_asset.json", "GET", f"{ECHO360}/reports", 200, lambda item: {"reports": [item]}),
        ("report_presentation.json", "GET", f"{ECHO360}/reports", 200, lambda item: {"reports": [item]}),
        ("requests_list.json", "GET", f"{ECHO360}/requests", 200, None),
        ("request_detail.json", "GET", f"{ECHO360}/requests/{{report_or_request}}", 200, None),
        ("request_detail.json", "GET", f"{ECHO360}/request/{{request_id}}", 200, None),
        ("submit_request.json", "POST", f"{ECHO360}/requests/{{report_or_request}}", "request", None),
        ("submit_response.json", "POST", f"{ECHO360}/requests/{{report_or_request}}", 200, None),
        # report_columns.json holds each report's CSV columns (the document's tables), not a JSON answer.
    ],
    "falkor": [
        ("pathway-logs-success.json", "POST", "/v1/logs/pathway-logs", 200, None),
        ("error.json", "POST", "/v1/logs/pathway-logs", 404, None),
        *[(f"requests/{p.name}", "POST", "/v1/logs/pathway-logs", "request", None)
          for p in sorted((FIXTURES / "falkor" / "requests").glob("*.json"))],
        # check-in-fulfilment.json is not from the document but from public client code (vendor notes), and
        # lacks the `state` the document gives every fulfilment; tests/test_falkor.py compares its shape.
    ],
    "parkup": [
        ("success.json", "POST", "/api/v3/business/report/event/user", 200, None),
        ("error-400.json", "POST", "/api/v3/business/report/event/user", 400, None),
        ("error-401.json", "POST", "/api/v3/business/report/event/user", 401, None),
        ("error-404.json", "POST", "/api/v3/business/report/event/user", 404, None),
        ("error-500.json", "POST", "/api/v3/business/report/event/user", 500, None),
        ("request.json", "POST", "/api/v3/business/report/event/user", "request", None),
    ],
}
FIXTURE_CASES = [pytest.param(vendor, *row, id=f"{vendor}-{row[0]}-{row[2]}") for vendor, rows in FIXTURE_MAP.items()
                 for row in rows]


@pytest.mark.parametrize("vendor, name, method, path, status, wrap", FIXTURE_CASES)
def test_vendor_document_examples_validate_against_our_schemas(vendor, name, method, path, status, wrap):
    doc = document(vendor)
    example = json.loads((FIXTURES / vendor / name).read_text())
    instance = wrap(example) if wrap else example
    schema = request_schema(doc, method, path) if status == "request" else response_schema(doc, method, path, status)
    assert errors(schema, instance) == []


def test_fixture_map_covers_every_json_fixture():
    """A new example under fixtures/ must be mapped above (or knowingly left out)."""
    left_out = {("falkor", "check-in-fulfilment.json"), ("echo360", "report_columns.json")}
    mapped = {(vendor, row[0]) for vendor, rows in FIXTURE_MAP.items() for row in rows}
    for vendor in FIXTURE_MAP:
        for path in (FIXTURES / vendor).rglob("*.json"):
            key = (vendor, str(path.relative_to(FIXTURES / vendor)))
            assert key in mapped | left_out, f"fixtures/{vendor}/{key[1]} is not checked against the document"


def test_schemas_refuse_what_the_vendor_would_not_send():
    """The validator is not a rubber stamp: a wrong type and an unknown key are caught."""
    schema = response_schema(document("strigo"), "GET", "/api/v1/health", 200)
    assert errors(schema, {"status": "ok", "message": "Healthy"}) == []
    assert errors(schema, {"status": 1, "message": "Healthy"})
    assert errors(schema, {"status": "ok", "message": "Healthy", "extra": True})
    rows = response_schema(document("strigo"), "GET", STRIGO_EVENT, 200)
    row = json.loads((FIXTURES / "strigo" / "event-exercises.json").read_text())[0]
    assert errors(rows, {"result": "success", "data": [{**row, "exercise_3_result": None}]}) == []
    assert errors(rows, {"result": "success", "data": [{**row, "exercise_3_count": 3}]})


def test_the_admin_document_says_what_the_shipped_scenario_route_answers(report_emulator, http):
    """The media type the server sends, and the 404 of an unknown name, are both in the document."""
    from emulator.core.openapi import build_admin_document
    from emulator.scenarios import shipped

    admin = build_admin_document()
    operation = admin["paths"]["/_emulator/scenarios/{name}"]["get"]
    answer = http.get(f"{report_emulator.url}/_emulator/scenarios/{next(iter(shipped()))}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].split(";")[0] in operation["responses"]["200"]["content"]
    missing = http.get(f"{report_emulator.url}/_emulator/scenarios/nope")
    assert missing.status_code == 404
    schema = resolve(admin, operation["responses"]["404"]["content"]["application/json"]["schema"])
    assert errors(schema, missing.json()) == []
    # The journal and violations filters' 400s are documented too.
    for path in ("/_emulator/journal", "/_emulator/violations"):
        assert "400" in admin["paths"][path]["get"]["responses"]
    assert http.get(f"{report_emulator.url}/_emulator/journal?vendor=nope").status_code == 400


def test_every_admin_answer_without_parameters_has_a_documented_media_type(report_emulator, http):
    from emulator.core.openapi import build_admin_document

    for path, operations in build_admin_document()["paths"].items():
        if "get" not in operations or "{" in path:
            continue
        answer = http.get(f"{report_emulator.url}{path}")
        documented = operations["get"]["responses"][str(answer.status_code)]["content"]
        assert answer.headers["Content-Type"].split(";")[0] in documented, path
