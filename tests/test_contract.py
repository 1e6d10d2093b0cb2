"""Strict mode and violation recording, through a real socket.

Each case is one way a client can break a vendor's documented contract. In strict mode (a scenario's
`strict: true`, `--strict`, EMULATOR_STRICT) it is refused with the vendor's own validation error naming
the rule; in lenient mode it is only recorded. Either way it is listed by GET /_emulator/violations and
on the request's journal entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests

from emulator.__main__ import parse_settings
from emulator.app import create_app
from emulator.server import ServerThread
from emulator.settings import Settings

STRICT = {"strict": True}
PARKUP_BAD_REQUEST = {"error": "Invalid date range or missing required parameters"}
JSON_CT = {"Content-Type": "application/json"}


@dataclass
class Case:
    name: str
    method: str
    path: str  # {event}, {course}, {pathway} are filled from the world
    rule: str  # the recorded violation's rule
    param: str
    says: str  # the message names the rule broken with these words
    query: dict = field(default_factory=dict)
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    lenient_status: int = 200  # what the vendor itself answers outside strict mode


STRIGO_EVENT = "/api/v1/events/{event}/reports/exercises"
STRIGO_ACTIVITY = "/api/v1/events/{event}/reports/user-activity"
FALKOR = "/v1/logs/pathway-logs"
PARKUP = "/api/v3/business/report/event/user"
GOOD_PARKUP = b'{"refId": "{ref}", "from": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}'
ECHO_REPORTS = "/public/api/v1/reporting/reports"
ECHO_SUBMIT = "/public/api/v1/reporting/requests/asset"
ECHO_TOKEN = "/oauth2/access_token"
GOOD_TOKEN_FORM = b"grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}"
FORM_CT = {"Content-Type": "application/x-www-form-urlencoded"}

CASES = {
    "strigo": [
        Case("unknown query parameter", "GET", STRIGO_EVENT, "unknown query parameter", "format", "is not documented",
             query={"output": "json", "format": "xml"}),
        Case("wrong query type", "GET", STRIGO_EVENT, "invalid query parameter", "output", "output must be one of",
             query={"output": "xml"}, lenient_status=422),
        Case("unknown body field", "POST", STRIGO_ACTIVITY, "unknown body field", "since", "is not documented",
             body=b'{"since": "2024-01-01T00:00:00Z"}', headers=JSON_CT),
        Case("wrong body type", "POST", STRIGO_ACTIVITY, "invalid body value", "from", "from must be a valid ISO 8601",
             body=b'{"from": 1700000000}', headers=JSON_CT, lenient_status=422),
        Case("wrong Content-Type", "POST", STRIGO_ACTIVITY, "content type", "Content-Type", "Content-Type must be application/json",
             body=b'{"from": "2024-01-01T00:00:00Z"}', headers={"Content-Type": "text/plain"}),
        Case("missing Content-Type", "POST", STRIGO_ACTIVITY, "content type", "Content-Type", "not none",
             body=b'{"from": "2024-01-01T00:00:00Z"}'),
        Case("missing Accept", "GET", STRIGO_EVENT, "missing accept", "Accept", "documents an Accept header",
             headers={"Accept": None}),
        Case("unacceptable Accept", "GET", STRIGO_EVENT, "unacceptable accept", "Accept", "matches none of",
             headers={"Accept": "application/xml"}),
    ],
    "echo360": [
        Case("unknown query parameter", "GET", ECHO_REPORTS, "unknown query parameter", "page", "is not documented",
             query={"page": "2"}),
        Case("unknown body field", "POST", ECHO_SUBMIT, "unknown body field", "format", "is not documented",
             body=b'{"parameters": {}, "format": "csv"}', headers=JSON_CT),
        Case("wrong body type", "POST", ECHO_SUBMIT, "invalid body value", "output.compression", "Not a valid boolean",
             body=b'{"output": {"compression": "yes"}}', headers=JSON_CT, lenient_status=400),
        Case("unknown form field", "POST", ECHO_TOKEN, "unknown body field", "scope", "is not documented",
             body=GOOD_TOKEN_FORM + b"&scope=reports", headers=FORM_CT),
        Case("JSON where a form is documented", "POST", ECHO_TOKEN, "content type", "Content-Type",
             "Content-Type must be application/x-www-form-urlencoded",
             body=b'{"grant_type": "client_credentials"}', headers=JSON_CT, lenient_status=401),
    ],
    "falkor": [
        Case("unknown query parameter", "POST", FALKOR, "unknown query parameter", "page", "is not documented",
             query={"page": "2"}, body=b'{"pathway": "{pathway}"}', headers=JSON_CT),
        Case("unknown body field", "POST", FALKOR, "unknown body field", "colour", "is not documented",
             body=b'{"pathway": "{pathway}", "colour": "red"}', headers=JSON_CT),
        Case("wrong body type", "POST", FALKOR, "invalid body value", "pathway", "pathway must be a single string",
             body=b'{"pathway": 5}', headers=JSON_CT, lenient_status=400),
    ],
    "parkup": [
        Case("unknown query parameter", "POST", PARKUP, "unknown query parameter", "page", "is not documented",
             query={"page": "2"}, body=GOOD_PARKUP, headers=JSON_CT),
        Case("unknown body field", "POST", PARKUP, "unknown body field", "userId", "is not documented",
             body=GOOD_PARKUP[:-1] + b', "userId": 7}', headers=JSON_CT),
        Case("wrong body type", "POST", PARKUP, "invalid body value", "customerId", "Not a valid integer",
             body=GOOD_PARKUP[:-1] + b', "customerId": "many"}', headers=JSON_CT, lenient_status=400),
        Case("wrong Content-Type", "POST", PARKUP, "content type", "Content-Type", "Content-Type must be application/json",
             body=GOOD_PARKUP, headers={"Content-Type": "text/plain"}),
        Case("missing Content-Type", "POST", PARKUP, "content type", "Content-Type", "not none", body=GOOD_PARKUP),
    ],
}
# Their documents state no Content-Type (Falkor's curl lines send JSON with -d, so as a form; Echo360
# shows only the JSON): any is taken, and the body is read as JSON, in strict mode too.
UNSTATED_CONTENT_TYPE = [
    Case("form Content-Type", "POST", FALKOR, "", "", "", body=b'{"pathway": "{pathway}"}', headers=FORM_CT),
    Case("no Content-Type", "POST", FALKOR, "", "", "", body=b'{"pathway": "{pathway}"}'),
    Case("text/plain", "POST", ECHO_SUBMIT, "", "", "", body=b'{"parameters": {}}', headers={"Content-Type": "text/plain"}),
    Case("no Content-Type", "POST", ECHO_SUBMIT, "", "", "", body=b'{"parameters": {}}'),
]
ALL = [pytest.param(vendor, case, id=f"{vendor}-{case.name}") for vendor, cases in CASES.items() for case in cases]


def echo360_token(url: str, credentials: dict) -> str:
    creds = credentials["echo360"]
    return requests.post(f"{url}{ECHO_TOKEN}", params={"grant_type": "client_credentials", "client_id": creds["client_id"],
                                                       "client_secret": creds["client_secret"]}).json()["access_token"]


def vendor_headers(vendor: str, credentials: dict, url: str = "") -> dict:
    creds = credentials[vendor]
    if vendor == "strigo":
        return {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}", "Accept": "application/json"}
    if vendor == "falkor":
        return {"Authorization": f"Basic {creds['token']}"}
    if vendor == "echo360":
        return {"Authorization": f"Bearer {echo360_token(url, credentials)}"}
    return {"Authorization": f"Bearer {creds['token']}"}


def send(url: str, vendor: str, case: Case, http: requests.Session | None = None) -> requests.Response:
    world = requests.get(f"{url}/_emulator/world").json()
    credentials = requests.get(f"{url}/_emulator/credentials").json()
    names = {"event": world["strigo"]["events"][0]["id"], "pathway": world["falkor"]["pathways"][0]["ID"],
             "ref": world["parkup"]["users"][0]["refId"], **credentials["echo360"]}
    body = case.body
    if body is not None:
        for key, value in names.items():
            body = body.replace(b"{%s}" % key.encode(), value.encode())
    own = {} if case.path == ECHO_TOKEN else vendor_headers(vendor, credentials, url)
    headers = {**own, **case.headers}
    return (http or requests).request(case.method, url + case.path.format(**names), params=case.query,
                                      data=body, headers=headers)


def assert_refused(vendor: str, case: Case, response: requests.Response) -> None:
    """The vendor's own validation error, naming the rule broken."""
    if vendor == "strigo":
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert response.json()["result"] == "failure"
        assert (error["type"], error["message"]) == ("RequestValidationError", "The request is not valid")
        item = next(e for e in error["errors"] if e["param"] == case.param)
        assert list(item) == ["location", "param", "msg"]
        assert case.says in item["msg"]
    elif vendor == "echo360":
        assert response.status_code == 400, response.text
        assert list(response.json()) == ["error"]
        assert response.json()["error"].startswith("Contract violation: ")
        assert case.says in response.json()["error"]
    elif vendor == "falkor":
        assert response.status_code == 400, response.text
        assert list(response.json()) == ["status", "message"]
        assert response.json()["status"] == "error"
        assert case.says in response.json()["message"]
    else:
        assert response.status_code == 400, response.text
        assert response.json() == PARKUP_BAD_REQUEST
        assert case.says in response.headers["X-Emulator-Error"]


def recorded(url: str, case: Case, vendor: str) -> list[dict]:
    return [v for v in requests.get(f"{url}/_emulator/violations").json()["violations"]
            if v["vendor"] == vendor and v["rule"] == case.rule and v["param"] == case.param]


@pytest.mark.report_emulator(scenario=STRICT)
@pytest.mark.parametrize("vendor, case", ALL)
def test_strict_scenario_refuses_with_the_vendors_error_and_records(vendor, case, report_emulator, http):
    response = send(report_emulator.url, vendor, case, http)
    assert_refused(vendor, case, response)
    [violation] = recorded(report_emulator.url, case, vendor)
    assert violation["strict"] is True and violation["method"] == case.method
    assert case.says in violation["message"]
    [entry] = [e for e in report_emulator.journal(vendor=vendor) if e["violations"]]
    assert entry["status"] == response.status_code and entry["path"] == response.request.path_url.split("?")[0]
    assert any(v["rule"] == case.rule for v in entry["violations"])


@pytest.mark.parametrize("vendor, case", ALL)
def test_lenient_mode_records_without_refusing(vendor, case, report_emulator, http):
    response = send(report_emulator.url, vendor, case, http)
    assert response.status_code == case.lenient_status, response.text
    [violation] = recorded(report_emulator.url, case, vendor)
    assert violation["strict"] is False
    [entry] = [e for e in report_emulator.journal(vendor=vendor) if e["violations"]]
    assert any(v["rule"] == case.rule and v["param"] == case.param for v in entry["violations"])
    assert report_emulator.violations(vendor) and not report_emulator.violations("nobody")


@pytest.mark.report_emulator(scenario=STRICT)
@pytest.mark.parametrize("vendor, case", [p for p in ALL if p.values[1].lenient_status == 200])
def test_a_refused_request_reaches_no_handler(vendor, case, report_emulator, http):
    """The same request that lenient mode answers 200 is answered by the refusal alone."""
    response = send(report_emulator.url, vendor, case, http)
    assert response.status_code in (400, 422)
    report_emulator.clear_scenario()
    assert send(report_emulator.url, vendor, case, http).status_code == 200


def well_behaved_requests(url: str, http) -> list[requests.Response]:
    world = http.get(f"{url}/_emulator/world").json()
    credentials = http.get(f"{url}/_emulator/credentials").json()
    strigo = vendor_headers("strigo", credentials)
    event, course = world["strigo"]["events"][0]["id"], world["strigo"]["courses"][0]["id"]
    user = world["parkup"]["users"][0]
    return [
        http.get(f"{url}/api/v1/events/{event}/reports/exercises", headers=strigo),
        http.get(f"{url}/api/v1/events/{event}/reports/exercises?output=csv", headers={**strigo, "Accept": "text/csv"}),
        http.get(f"{url}/api/v1/ondemand-courses/{course}/reports/enrollments?output=json", headers=strigo),
        http.get(f"{url}/api/v1/ondemand-courses/{course}/reports/exercises", headers=strigo),
        http.post(f"{url}/api/v1/events/{event}/reports/user-activity", headers=strigo,
                  json={"from": "2024-01-01T00:00:00.000Z", "to": "2024-02-01T00:00:00.000Z"}),
        http.post(f"{url}/api/v1/ondemand-courses/{course}/reports/user-activity", headers=strigo),
        http.get(f"{url}/api/v1/health"),
        http.post(f"{url}{FALKOR}", headers=vendor_headers("falkor", credentials),
                  json={"pathway": world["falkor"]["pathways"][0]["name"], "types": ["Video"], "users": ["a@example.com"]}),
        http.post(f"{url}{PARKUP}", headers=vendor_headers("parkup", credentials),
                  json={"customerId": user["customerId"], "refId": user["refId"], "from": "2025-01-01T00:00:00.000Z",
                        "until": "2025-01-02T00:00:00.000Z"}),
        *echo360_well_behaved(url, http, credentials["echo360"]),
    ]


def echo360_well_behaved(url: str, http, creds: dict) -> list[requests.Response]:
    """Token by query string and by form body, the catalogue, a submission, the list and both detail paths."""
    by_query = http.post(f"{url}{ECHO_TOKEN}", params={"grant_type": "client_credentials", **creds})
    by_form = http.post(f"{url}{ECHO_TOKEN}", data={"grant_type": "refresh_token", "client_id": creds["client_id"],
                                                    "refresh_token": by_query.json()["refresh_token"]})
    auth = {"Authorization": f"Bearer {by_form.json()['access_token']}"}
    reporting = f"{url}/public/api/v1/reporting"
    submitted = http.post(f"{reporting}/requests/presentation", headers=auth,
                          json={"parameters": {"start": "2025-01-06", "end": "2025-01-13"},
                                "output": {"compression": False, "delimiter": "|"}})
    request_id = submitted.json()["requestId"]
    return [
        by_query, by_form, submitted,
        http.get(f"{reporting}/reports", headers=auth),
        http.get(f"{reporting}/requests", params={"access_token": by_form.json()["access_token"]}),
        http.get(f"{reporting}/requests/{request_id}", headers=auth),
        http.get(f"{reporting}/request/{request_id}", headers=auth),
    ]


@pytest.mark.report_emulator(scenario=STRICT)
def test_a_well_behaved_client_gets_no_violations(report_emulator, http):
    answers = well_behaved_requests(report_emulator.url, http)
    assert [r.status_code for r in answers] == [200] * len(answers), [r.text[:200] for r in answers if r.status_code != 200]
    assert report_emulator.violations() == []
    assert http.get(f"{report_emulator.url}/_emulator/violations").json() == {"strict": True, "violations": []}
    report_emulator.assert_no_violations()
    assert all(entry["violations"] == [] for entry in report_emulator.journal())


def test_assert_no_violations_lists_each_violation(report_emulator, http):
    case = CASES["strigo"][0]
    send(report_emulator.url, "strigo", case, http)
    send(report_emulator.url, "falkor", CASES["falkor"][1], http)
    report_emulator.assert_no_violations("parkup")
    with pytest.raises(AssertionError) as failure:
        report_emulator.assert_no_violations()
    text = str(failure.value)
    assert text.startswith("2 contract violations:")
    assert "unknown query parameter: query parameter 'format' is not documented" in text
    assert "POST /v1/logs/pathway-logs: unknown body field: body field 'colour'" in text


def test_violations_admin_filters_by_vendor_and_clears(report_emulator, http):
    send(report_emulator.url, "strigo", CASES["strigo"][0], http)
    send(report_emulator.url, "parkup", CASES["parkup"][0], http)
    url = f"{report_emulator.url}/_emulator/violations"
    assert [v["vendor"] for v in http.get(url).json()["violations"]] == ["strigo", "parkup"]
    only = http.get(url, params={"vendor": "parkup"}).json()["violations"]
    assert [(v["vendor"], v["location"], v["param"]) for v in only] == [("parkup", "query", "page")]
    assert set(only[0]) >= {"vendor", "method", "path", "at", "strict", "location", "param", "rule", "message"}
    assert http.delete(url).json() == {"strict": False, "violations": []}
    assert report_emulator.violations() == []
    send(report_emulator.url, "strigo", CASES["strigo"][0], http)
    http.post(f"{report_emulator.url}/_emulator/reset")
    assert report_emulator.violations() == []


def test_strict_flag_in_a_scenario_file_is_honoured_and_cleared_with_it(report_emulator, http, tmp_path):
    path = tmp_path / "strict.yaml"
    path.write_text("name: strict-contract\nstrict: true\n")
    assert http.put(f"{report_emulator.url}/_emulator/scenario", data=path.read_bytes()).status_code == 200
    case = CASES["falkor"][1]
    assert_refused("falkor", case, send(report_emulator.url, "falkor", case, http))
    assert http.get(f"{report_emulator.url}/_emulator/violations").json()["strict"] is True
    http.delete(f"{report_emulator.url}/_emulator/scenario")
    assert send(report_emulator.url, "falkor", case, http).status_code == 200


@pytest.fixture(scope="module", params=["--strict", "EMULATOR_STRICT"])
def strict_server(request):
    """A server of its own, made strict by the command line flag or by the environment variable."""
    if request.param == "--strict":
        settings = parse_settings(["--strict", "--port", "0", "--clock", "manual"])
    else:
        settings = Settings.from_env({"EMULATOR_STRICT": "true"}, port=0, clock="manual")
    server = ServerThread(create_app(settings), "127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.mark.parametrize("vendor, case", [p for p in ALL if p.id in (
    "strigo-unknown query parameter", "strigo-unknown body field", "strigo-wrong Content-Type", "strigo-missing Accept",
    "echo360-unknown form field", "falkor-wrong body type", "parkup-missing Content-Type")])
def test_strict_setting_refuses_and_records(strict_server, vendor, case):
    requests.post(f"{strict_server.url}/_emulator/reset")
    response = send(strict_server.url, vendor, case)
    assert_refused(vendor, case, response)
    [violation] = recorded(strict_server.url, case, vendor)
    assert violation["strict"] is True


def test_parkup_detail_header_survives_any_input(report_emulator, http):
    """The X-Emulator-Error header quotes the client's input: non-Latin-1 text and line breaks are escaped."""
    credentials = report_emulator.credentials["parkup"]
    response = http.post(f"{report_emulator.url}{PARKUP}", headers={"Authorization": f"Bearer {credentials['token']}"},
                         json={"refId": "用户\nX", "from": "2025-01-01T00:00:00Z", "until": "2025-01-02T00:00:00Z"})
    assert response.status_code == 404
    assert response.json() == {"error": "User not found"}
    header = response.headers["X-Emulator-Error"]
    assert "\\u7528\\u6237" in header and "\n" not in header


@pytest.mark.report_emulator(scenario=STRICT)
@pytest.mark.parametrize("case", UNSTATED_CONTENT_TYPE, ids=lambda c: f"{c.path.split('/')[1]}-{c.name}")
def test_strict_mode_takes_any_content_type_where_the_document_states_none(case, report_emulator, http):
    vendor = "falkor" if case.path == FALKOR else "echo360"
    response = send(report_emulator.url, vendor, case, http)
    assert response.status_code == 200, response.text
    assert report_emulator.violations() == []


@pytest.mark.report_emulator(scenario=STRICT)
def test_strict_mode_still_reads_the_body_as_json_where_the_content_type_is_unstated(report_emulator, http):
    case = Case("a form, not JSON", "POST", FALKOR, "malformed body", "_body", "not valid JSON",
                body=b"pathway={pathway}", headers=FORM_CT)
    assert_refused("falkor", case, send(report_emulator.url, "falkor", case, http))


def test_a_scenarios_strict_false_does_not_lift_the_strict_flag(strict_server):
    """--strict (or EMULATOR_STRICT) holds for the server's life; a scenario can add strictness, not remove it."""
    url = strict_server.url
    requests.post(f"{url}/_emulator/reset")
    case = CASES["falkor"][1]
    assert requests.put(f"{url}/_emulator/scenario", json={"name": "lenient", "strict": False}).status_code == 200
    assert requests.get(f"{url}/_emulator/violations").json()["strict"] is True
    assert_refused("falkor", case, send(url, "falkor", case))
    requests.delete(f"{url}/_emulator/scenario")


def test_a_scenarios_strict_turns_strict_mode_on_and_off_without_the_flag(report_emulator, http):
    case = CASES["falkor"][1]
    url = f"{report_emulator.url}/_emulator/violations"
    report_emulator.load_scenario({"strict": True})
    assert http.get(url).json()["strict"] is True
    assert_refused("falkor", case, send(report_emulator.url, "falkor", case, http))
    report_emulator.load_scenario({"strict": False})
    assert http.get(url).json()["strict"] is False
    assert send(report_emulator.url, "falkor", case, http).status_code == 200
