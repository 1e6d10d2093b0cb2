"""Echo360 reporting API through a real socket: the ETL client's whole flow and every rule it meets."""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "echo360"
COLUMNS = json.loads((FIXTURES / "report_columns.json").read_text())
API = "/public/api/v1/reporting"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP_COLUMN = {name: next((c for c in cols if c in ("event_timestamp", "eventTimestamp")), None)
                    for name, cols in COLUMNS.items()}


class Client:
    """What an ETL job does: take a token, submit, poll, download, parse."""

    def __init__(self, emulator, http):
        self.emulator, self.http, self.url = emulator, http, emulator.url
        self.token = self.take_token().json()["access_token"]

    def take_token(self, **overrides):
        creds = self.emulator.credentials["echo360"]
        params = {"grant_type": "client_credentials", "client_id": creds["client_id"],
                  "client_secret": creds["client_secret"], **overrides}
        return self.http.post(f"{self.url}/oauth2/access_token", params=params)

    def renew(self):
        """A fresh token (after moving the clock past the hour a token lasts)."""
        self.token = self.take_token().json()["access_token"]

    def get(self, path, **kwargs):
        return self.http.get(f"{self.url}{API}{path}", headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def post(self, path, headers=None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.http.post(f"{self.url}{API}{path}", headers=headers, **kwargs)

    def submit(self, report, parameters=None, output=None, expect=200):
        body = {"parameters": parameters or {}}
        if output is not None:
            body["output"] = output
        response = self.post(f"/requests/{report}", json=body)
        assert response.status_code == expect, response.text
        return response.json()

    def detail(self, request_id):
        response = self.get(f"/requests/{request_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def download(self, link):
        response = self.http.get(link)
        assert response.status_code == 200, response.text
        return response

    def rows(self, link, delimiter=","):
        body = self.download(link).content
        text = (gzip.decompress(body) if urlsplit(link).path.endswith(".gz") else body).decode("utf-8")
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


@pytest.fixture
def echo(report_emulator, http):
    return Client(report_emulator, http)


def window(emulator, days_back, days):
    """[start, end) as YYYY-MM-DD dates, counted back from the emulator's today."""
    today = emulator.now.date()
    return {"start": (today - timedelta(days=days_back)).isoformat(),
            "end": (today - timedelta(days=days_back - days)).isoformat()}


def parse_ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def available(echo, report_emulator, reports):
    """Submit (report, parameters, output) triples three at a time, advancing the clock to Available."""
    details = []
    for i in range(0, len(reports), 3):
        ids = [echo.submit(name, params, output)["requestId"] for name, params, output in reports[i:i + 3]]
        report_emulator.advance(120)
        details += [echo.detail(request_id) for request_id in ids]
    assert all(d["status"] == "Available" for d in details), details
    return details


def shape(value):
    """Keys in order and value types, recursively (what the doc examples fix, not the values)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


# --- tokens --------------------------------------------------------------------------------------

def test_token_from_query_string_and_form_body(report_emulator, http, echo):
    body = echo.take_token().json()
    assert list(body) == ["access_token", "token_type", "expires_in", "refresh_token"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    creds = report_emulator.credentials["echo360"]
    form = http.post(f"{report_emulator.url}/oauth2/access_token",
                     data={"grant_type": "client_credentials", **creds})
    assert form.status_code == 200
    assert form.json()["access_token"] != body["access_token"]


@pytest.mark.parametrize("overrides, word", [
    ({"client_secret": "wrong"}, "client_secret"),
    ({"client_id": "someone-else"}, "client_id"),
    ({"grant_type": "password"}, "grant_type"),
    ({"grant_type": ""}, "grant_type"),
])
def test_bad_token_requests_are_401(echo, overrides, word):
    response = echo.take_token(**overrides)
    assert response.status_code == 401
    assert word in response.json()["error"]


def basic(client_id: str, client_secret: str) -> dict:
    """RFC 6749 section 2.3.1: each part form-urlencoded, joined by a colon, base64."""
    from base64 import b64encode
    from urllib.parse import quote_plus

    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return {"Authorization": "Basic " + b64encode(pair.encode()).decode()}


def test_client_authentication_in_a_basic_header(report_emulator, http, echo):
    """The method every OAuth2 server must support, and a standard client library's default."""
    url = f"{report_emulator.url}/oauth2/access_token"
    creds = report_emulator.credentials["echo360"]
    answer = http.post(url, data={"grant_type": "client_credentials"},
                       headers=basic(creds["client_id"], creds["client_secret"]))
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert echo.http.get(f"{report_emulator.url}{API}/reports",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # The refresh grant authenticates the same way.
    again = http.post(url, data={"grant_type": "refresh_token", "refresh_token": answer.json()["refresh_token"]},
                      headers=basic(creds["client_id"], creds["client_secret"]))
    assert again.status_code == 200, again.text
    # The same values by both methods are one client, not two.
    both = http.post(url, data={"grant_type": "client_credentials", "client_id": creds["client_id"]},
                     headers=basic(creds["client_id"], creds["client_secret"]))
    assert both.status_code == 200, both.text
    # Strict mode takes it too: the form holds only documented fields.
    report_emulator.load_scenario({"strict": True})
    strict = http.post(url, data={"grant_type": "client_credentials"},
                       headers=basic(creds["client_id"], creds["client_secret"]))
    assert strict.status_code == 200, strict.text
    assert http.get(f"{report_emulator.url}/_emulator/violations").json()["violations"] == []


def test_a_basic_header_decodes_form_urlencoded_parts(report_emulator, http):
    report_emulator.load_scenario({"credentials": {"echo360": {"client_id": "team a:b", "client_secret": "s&c=r+t%"}}})
    url = f"{report_emulator.url}/oauth2/access_token"
    answer = http.post(url, data={"grant_type": "client_credentials"}, headers=basic("team a:b", "s&c=r+t%"))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("header_secret, form, field", [
    ("echo360-emulator-secret", {"client_id": "someone-else"}, "client_id"),
    ("echo360-emulator-secret", {"client_secret": "other"}, "client_secret"),
])
def test_two_methods_with_different_values_are_invalid_request(report_emulator, http, header_secret, form, field):
    answer = http.post(f"{report_emulator.url}/oauth2/access_token",
                       data={"grant_type": "client_credentials", **form}, headers=basic("emulator-client", header_secret))
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(f"invalid_request: a {field} in the Authorization header and a different")


@pytest.mark.parametrize("header, word", [
    (basic("emulator-client", "wrong"), "client_secret"),
    (basic("someone-else", "echo360-emulator-secret"), "client_id"),
    ({"Authorization": "Basic not-base64!"}, "malformed Authorization header"),
    ({"Authorization": "Basic ZW11bGF0b3ItY2xpZW50"}, "malformed Authorization header"),  # no colon
])
def test_a_wrong_basic_header_is_401_with_a_basic_challenge(report_emulator, http, header, word):
    answer = http.post(f"{report_emulator.url}/oauth2/access_token", data={"grant_type": "client_credentials"},
                       headers=header)
    assert answer.status_code == 401
    assert word in answer.json()["error"]
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="echo360"'


def test_refresh_token_works_once(report_emulator, http, echo):
    first = echo.take_token().json()
    creds = report_emulator.credentials["echo360"]
    params = {"grant_type": "refresh_token", "client_id": creds["client_id"], "refresh_token": first["refresh_token"]}
    again = http.post(f"{report_emulator.url}/oauth2/access_token", params=params)
    assert again.status_code == 200
    fresh = again.json()["access_token"]
    assert http.get(f"{report_emulator.url}{API}/reports", params={"access_token": fresh}).status_code == 200
    reused = http.post(f"{report_emulator.url}/oauth2/access_token", params=params)
    assert reused.status_code == 401
    assert "refresh_token" in reused.json()["error"]


def test_token_in_header_or_query_and_expiry_on_the_emulator_clock(report_emulator, http, echo):
    assert echo.get("/reports").status_code == 200
    url = f"{report_emulator.url}{API}/reports"
    assert http.get(url, params={"access_token": echo.token}).status_code == 200
    report_emulator.advance(3599)
    assert echo.get("/reports").status_code == 200
    report_emulator.advance(1)
    expired = echo.get("/reports")
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]


@pytest.mark.parametrize("headers, params", [
    ({}, {}),
    ({"Authorization": "Bearer not-a-token"}, {}),
    ({"Authorization": "Basic abc"}, {}),
    ({}, {"access_token": "nope"}),
])
def test_reporting_calls_need_a_valid_token(report_emulator, http, headers, params):
    response = http.get(f"{report_emulator.url}{API}/requests", headers=headers, params=params)
    assert response.status_code == 401
    assert response.json()["error"]


def test_reset_forgets_tokens_and_requests(report_emulator, echo):
    echo.submit("asset")
    report_emulator.reset()
    assert echo.get("/requests").status_code == 401
    echo.renew()
    assert echo.get("/requests").json() == {"requests": []}


# --- catalogue -----------------------------------------------------------------------------------

def test_catalogue_lists_the_thirteen_reports_like_the_document(echo):
    response = echo.get("/reports")
    assert response.status_code == 200
    reports = response.json()["reports"]
    assert [r["name"] for r in reports] == list(COLUMNS)
    by_name = {r["name"]: r for r in reports}
    asset = json.loads((FIXTURES / "report_asset.json").read_text())
    presentation = json.loads((FIXTURES / "report_presentation.json").read_text())
    assert by_name["asset"] == asset  # the document's example, word for word
    assert by_name["presentation"] == presentation
    for report in reports:
        assert shape(report) == shape(asset if report["name"] == "asset" else presentation)
        expected = presentation["parameters"] if report["name"] != "asset" else []
        assert report["parameters"] == expected


# --- submitting ----------------------------------------------------------------------------------

def test_submit_answers_like_the_document(report_emulator, echo):
    example = json.loads((FIXTURES / "submit_request.json").read_text())
    example["parameters"] = window(report_emulator, 3, 1)
    response = echo.post("/requests/presentation", json=example)
    assert response.status_code == 200
    body = response.json()
    expected = json.loads((FIXTURES / "submit_response.json").read_text())
    assert shape(body) == shape(expected)
    assert UUID.match(body["requestId"])
    assert body["status"] == "Pending" and body["reportName"] == "presentation"
    assert body["parameters"] == example["parameters"]
    assert body["created"] == report_emulator.now.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_list_and_detail_match_the_document_examples(report_emulator, echo):
    done = echo.submit("asset")["requestId"]
    report_emulator.advance(120)
    pending = echo.submit("notes", window(report_emulator, 8, 7))["requestId"]
    listing = echo.get("/requests").json()
    example = json.loads((FIXTURES / "requests_list.json").read_text())
    assert [r["requestId"] for r in listing["requests"]] == [pending, done]  # newest first
    assert shape(listing["requests"][0]) == shape(example["requests"][1])  # Pending: no assets
    assert shape(listing["requests"][1]) == shape(example["requests"][0])
    asset_name = listing["requests"][1]["assets"][0]
    assert re.match(r"^[0-9a-f-]{36}\.csv\.gz$", asset_name) and UUID.match(asset_name[:36])
    for path in (f"/requests/{done}", f"/request/{done}"):  # the document writes both
        detail = echo.get(path).json()
        assert shape(detail) == shape(json.loads((FIXTURES / "request_detail.json").read_text()))
        link = urlsplit(detail["signedAssets"][0])
        assert link.path.endswith("/" + asset_name)
        assert f"{link.scheme}://{link.netloc}" == report_emulator.url  # on the emulator's own host
        assert "Signature" in parse_qs(link.query)


def test_in_flight_limit_is_three_pending_requests(report_emulator, echo):
    params = window(report_emulator, 3, 1)
    for _ in range(3):
        echo.submit("videoview", params)
    refused = echo.post("/requests/videoview", json={"parameters": params})
    assert refused.status_code == 400
    message = refused.json()["error"]
    assert "3" in message and "in-flight" in message
    assert len(echo.get("/requests").json()["requests"]) == 3  # nothing stored
    report_emulator.advance(120)
    echo.submit("videoview", params)  # finished requests free their places


def test_in_flight_limit_is_a_scenario_knob(report_emulator, echo):
    report_emulator.load_scenario({"name": "one-at-a-time", "echo360": {"max_in_flight": 1}})
    params = window(report_emulator, 3, 1)
    echo.submit("videoview", params)
    refused = echo.post("/requests/videoview", json={"parameters": params})
    assert refused.status_code == 400
    assert "at most 1 report" in refused.json()["error"]


def test_in_flight_limit_counts_per_api_client(report_emulator, echo):
    """Another token of the same API client shares the limit."""
    params = window(report_emulator, 3, 1)
    for _ in range(3):
        echo.submit("confused", params)
    echo.renew()
    assert echo.post("/requests/confused", json={"parameters": params}).status_code == 400


@pytest.mark.parametrize("report, parameters, words", [
    ("videoview", {"start": "2026-01-02", "end": "2026-01-01"}, ["start", "before", "end"]),
    ("videoview", {"start": "2026-01-01", "end": "2026-01-01"}, ["start", "before"]),
    ("videoview", {"start": "2026-01-01", "end": "2026-01-09"}, ["7 days"]),
    ("notes", {"start": "2026-01-01T00:00:00Z", "end": "2026-01-08T00:00:01Z"}, ["7 days"]),
    ("videoview", {"start": "yesterday", "end": "2026-01-02"}, ["start", "date"]),
    ("videoview", {"start": "2026-02-30", "end": "2026-03-02"}, ["start"]),
    ("videoview", {"start": "2026-01-01"}, ["end", "required"]),
    ("videoview", {}, ["start", "required"]),
    ("videoview", {"start": "2026-01-01", "end": "2026-01-02", "course": "x"}, ["course"]),
    ("asset", {"start": "2026-01-01", "end": "2026-01-02"}, ["start", "no parameters"]),
    ("assetbydate", {"start": "2000-01-01", "end": "2000-01-02"}, ["one year"]),
])
def test_bad_parameters_are_400_and_store_nothing(echo, report, parameters, words):
    response = echo.post(f"/requests/{report}", json={"parameters": parameters})
    assert response.status_code == 400
    message = response.json()["error"]
    for word in words:
        assert word in message
    assert echo.get("/requests").json() == {"requests": []}


def test_assetbydate_reaches_back_exactly_one_year(report_emulator, echo):
    today = report_emulator.now.date()
    year_ago = today.replace(year=today.year - 1) if not (today.month == 2 and today.day == 29) else today.replace(year=today.year - 1, day=28)
    ok = {"start": year_ago.isoformat(), "end": (year_ago + timedelta(days=7)).isoformat()}
    echo.submit("assetbydate", ok)
    too_early = {"start": (year_ago - timedelta(days=1)).isoformat(), "end": (year_ago + timedelta(days=6)).isoformat()}
    assert echo.post("/requests/assetbydate", json={"parameters": too_early}).status_code == 400


@pytest.mark.parametrize("body, field", [
    ({"parameters": {}, "output": {"delimiter": ";"}}, "output.delimiter"),
    ({"parameters": {}, "output": {"compression": "yes"}}, "output.compression"),
    ({"parameters": {}, "output": {"compression": 1}}, "output.compression"),
    ({"parameters": {}, "output": "csv"}, "output"),
    ({"parameters": ["2026-01-01"]}, "parameters"),
    ({"parameters": {"start": 20260101}}, "parameters"),
])  # unknown keys are ignored and recorded outside strict mode: tests/test_reliability.py
def test_malformed_bodies_are_400_naming_the_field(echo, body, field):
    response = echo.post("/requests/asset", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]
    assert echo.get("/requests").json() == {"requests": []}


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '"text"', "[" * 100000 + "]" * 100000])
def test_non_object_bodies_are_400(echo, data):
    response = echo.post("/requests/asset", data=data, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_unknown_report_and_unknown_request_are_404(echo):
    unknown = echo.post("/requests/visit", json={"parameters": {}})
    assert unknown.status_code == 404 and "visit" in unknown.json()["error"]
    missing = echo.get("/requests/00000000-0000-0000-0000-000000000123")
    assert missing.status_code == 404 and "00000000-0000-0000-0000-000000000123" in missing.json()["error"]
    assert echo.get("/no-such-thing").status_code == 404
    assert echo.get("/no-such-thing").json()["error"]


# --- lifecycle -----------------------------------------------------------------------------------

def test_pending_for_processing_time_then_available(report_emulator, echo):
    request_id = echo.submit("asset")["requestId"]
    report_emulator.advance(119)
    assert echo.detail(request_id)["status"] == "Pending"
    assert "signedAssets" not in echo.detail(request_id)
    report_emulator.advance(1)
    detail = echo.detail(request_id)
    assert detail["status"] == "Available"
    assert len(detail["signedAssets"]) == 1


def test_clock_advance_endpoint_completes_due_transitions(report_emulator, http, echo):
    request_id = echo.submit("confused", window(report_emulator, 2, 1))["requestId"]
    advanced = http.post(f"{report_emulator.url}/_emulator/clock/advance", json={"seconds": 120})
    assert advanced.status_code == 200
    link = echo.detail(request_id)["signedAssets"][0]
    assert echo.rows(link)[0] == COLUMNS["confused"]


def test_scenario_sets_processing_time_and_outcomes_in_order(report_emulator, echo):
    report_emulator.load_scenario({"name": "slow-flaky", "echo360": {"processing_seconds": 3600,
                                                                     "outcomes": ["Failed", "Missing"]}})
    ids = [echo.submit("asset")["requestId"] for _ in range(3)]
    report_emulator.advance(3599)
    assert [echo.detail(i)["status"] for i in ids] == ["Pending"] * 3
    report_emulator.advance(1)
    echo.renew()
    details = [echo.detail(i) for i in ids]
    assert [d["status"] for d in details] == ["Failed", "Missing", "Available"]
    assert "signedAssets" not in details[0] and "signedAssets" not in details[1]
    listed = {r["requestId"]: r for r in echo.get("/requests").json()["requests"]}
    assert "assets" not in listed[ids[0]] and listed[ids[2]]["assets"]


def test_links_last_seven_days_and_requests_fourteen(report_emulator, http, echo):
    request_id = echo.submit("qanda2", window(report_emulator, 7, 7))["requestId"]
    report_emulator.advance(120)
    first_link = echo.detail(request_id)["signedAssets"][0]
    first_bytes = echo.download(first_link).content
    report_emulator.advance(7 * 86400 + 1)
    expired = http.get(first_link)
    assert expired.status_code == 403
    assert expired.headers["Content-Type"].startswith("application/xml")
    assert "<Code>AccessDenied</Code>" in expired.text and "Request has expired" in expired.text
    echo.renew()
    detail = echo.detail(request_id)
    assert detail["status"] == "Available"  # still kept: a fresh link works
    second_link = detail["signedAssets"][0]
    assert second_link != first_link
    assert echo.download(second_link).content == first_bytes
    created = parse_ts(detail["created"])
    expires = int(parse_qs(urlsplit(second_link).query)["Expires"][0])
    assert expires == int((created + timedelta(days=14)).timestamp())  # never past the report's expiry
    report_emulator.advance(14 * 86400 - (7 * 86400 + 1) - 120)
    echo.renew()
    assert echo.detail(request_id)["status"] == "Expired"
    assert "signedAssets" not in echo.detail(request_id)
    assert "assets" not in echo.get("/requests").json()["requests"][0]
    gone = http.get(second_link)
    assert gone.status_code == 403 and "AccessDenied" in gone.text


def test_tampered_or_unsigned_links_are_access_denied(report_emulator, http, echo):
    request_id = echo.submit("asset")["requestId"]
    report_emulator.advance(120)
    link = echo.detail(request_id)["signedAssets"][0]
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    later = int(query["Expires"][0]) + 86400
    cases = [
        (base, {}),
        (base, {"Expires": query["Expires"][0], "Signature": "AAAA" + query["Signature"][0][4:]}),
        (base, {"Expires": str(later), "Signature": query["Signature"][0]}),
        (base.replace(".csv.gz", ".csv"), {"Expires": query["Expires"][0], "Signature": query["Signature"][0]}),
        (base, {"Expires": "soon", "Signature": query["Signature"][0]}),
    ]
    for url, params in cases:
        response = http.get(url, params=params)
        assert response.status_code == 403, url
        assert "<Code>AccessDenied</Code>" in response.text
    assert http.get(link).status_code == 200  # the link as given, with no token


# --- the reports' files --------------------------------------------------------------------------

# Submitted three at a time; each batch mixes compressed and plain files.
FORMATS = [(True, ","), (False, "\t"), (True, "|"), (False, ","), (True, "\t"), (False, "|")]


@pytest.mark.parametrize("report", list(COLUMNS))
def test_every_report_in_every_output_format(report_emulator, echo, report):
    params = {} if report == "asset" else window(report_emulator, 7, 7)
    details = available(echo, report_emulator, [(report, params, {"compression": c, "delimiter": d}) for c, d in FORMATS])
    tables = []
    for (compression, delimiter), detail in zip(FORMATS, details):
        link = detail["signedAssets"][0]
        response = echo.download(link)
        name = urlsplit(link).path.rsplit("/", 1)[1]
        assert name.endswith(".csv.gz") == compression and (name.endswith(".csv") or compression)
        if compression:
            assert response.content[:2] == b"\x1f\x8b"  # a gzip file, not a gzip-encoded response
            assert "gzip" not in response.headers.get("Content-Encoding", "")
            assert response.headers["Content-Type"] == "application/gzip"
        else:
            assert response.content.startswith(b'"')
            assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset
        tables.append(echo.rows(link, delimiter))
    header, rows = tables[0][0], tables[0][1:]
    assert header == COLUMNS[report]
    assert rows, f"{report} has no rows over a week"
    assert all(len(row) == len(header) for row in rows)
    # Every format carries the same data (the all-time asset report only within a batch submitted
    # at the same moment: its counts run up to the moment of submission).
    same = tables[:3] if report == "asset" else tables
    assert all(table == tables[0] for table in same) and tables[3:] == [tables[3]] * 3
    column = TIMESTAMP_COLUMN[report]
    if column:
        start, end = (datetime.fromisoformat(params[k]).replace(tzinfo=timezone.utc) for k in ("start", "end"))
        stamps = [parse_ts(row[header.index(column)]) for row in rows]
        assert all(start <= s < end for s in stamps)
        assert stamps == sorted(stamps)
        assert max(stamps) < report_emulator.now  # nothing after now
    else:
        created = [parse_ts(row[header.index("create_date")]) for row in rows]
        assert max(created) < report_emulator.now


def test_the_csv_writer_reproduces_the_documents_example(tmp_path):
    """The document's `visit` example, written by the writer every report uses, byte for byte."""
    from emulator.core.csvout import write_csv_file

    expected = (FIXTURES / "report_example_visit.csv").read_bytes()
    table = list(csv.reader(io.StringIO(expected.decode(), newline=""), quoting=csv.QUOTE_NONNUMERIC))
    path = str(tmp_path / "visit.csv")
    assert write_csv_file(path, table[0], [[(u, p, int(n), d) for u, p, n, d in table[1:]]], compress=False) == 3
    assert (tmp_path / "visit.csv").read_bytes() == expected
    write_csv_file(path + ".gz", table[0], [[(u, p, int(n), d) for u, p, n, d in table[1:]]])
    assert gzip.decompress((tmp_path / "visit.csv.gz").read_bytes()) == expected


def test_plain_csv_quotes_strings_and_leaves_numbers_bare(report_emulator, echo):
    (detail,) = available(echo, report_emulator, [("videoview", window(report_emulator, 2, 1), {"compression": False})])
    lines = echo.download(detail["signedAssets"][0]).content.decode("utf-8").split("\n")
    assert lines[0].startswith('"videoId","videoName",')
    fields = next(csv.reader([lines[1]]))
    assert re.search(r',\d+(\.\d+)?,"', lines[1])  # duration_Minute is a bare number
    assert float(fields[8]) > 0


def test_same_request_gives_the_same_bytes_and_overlapping_windows_agree(report_emulator, echo):
    a, b = window(report_emulator, 6, 3), window(report_emulator, 4, 3)
    details = available(echo, report_emulator, [("videoview", a, None), ("videoview", a, None), ("videoview", b, None)])
    first, second = (echo.download(d["signedAssets"][0]).content for d in details[:2])
    assert first == second
    rows_a, rows_b = echo.rows(details[0]["signedAssets"][0])[1:], echo.rows(details[2]["signedAssets"][0])[1:]
    common = (b["start"], a["end"])
    in_common = lambda rows: [r for r in rows if common[0] <= r[7][:10] < common[1]]  # noqa: E731
    assert in_common(rows_a) and in_common(rows_a) == in_common(rows_b)


def test_the_same_seed_gives_the_same_report_after_reset(report_emulator, echo):
    params = window(report_emulator, 2, 1)
    (detail,) = available(echo, report_emulator, [("pollingv2", params, None)])
    before = echo.rows(detail["signedAssets"][0])
    report_emulator.reset()
    echo.renew()
    (detail,) = available(echo, report_emulator, [("pollingv2", params, None)])
    assert echo.rows(detail["signedAssets"][0]) == before


# --- what the rows mean --------------------------------------------------------------------------

def fetch(echo, report_emulator, specs):
    details = available(echo, report_emulator, specs)
    out = []
    for detail in details:
        table = echo.rows(detail["signedAssets"][0])
        out.append([dict(zip(table[0], row)) for row in table[1:]])
    return out


def test_videoview_ticks_are_thirty_seconds_of_a_known_user(report_emulator, echo):
    (rows,) = fetch(echo, report_emulator, [("videoview", window(report_emulator, 2, 1), None)])
    students = {(r["userid"], r["firstname"], r["lastname"], r["email"]) for r in rows}
    assert all(r["role"] in ("Student", "Instructor") and "@" in r["email"] for r in rows)
    assert len(students) > 10
    by_viewer: dict = {}
    for r in rows:
        by_viewer.setdefault((r["userid"], r["videoId"]), []).append(parse_ts(r["event_timestamp"]))
    gaps = [b - a for stamps in by_viewer.values() for a, b in zip(stamps, stamps[1:])]
    assert timedelta(seconds=30) in gaps and min(gaps) >= timedelta(0)


def test_view_sessions_begin_end_and_intervals_fit_the_media(report_emulator, echo):
    params = window(report_emulator, 7, 7)
    sessions, beacons = fetch(echo, report_emulator, [("viewsessions", params, None), ("viewsessiondetails", params, None)])
    statuses = {r["sessionStatus"] for r in sessions}
    assert statuses <= {"SESSION_BEGIN", "SESSION_END", "SESSION_STALE"} and "SESSION_BEGIN" in statuses
    for r in sessions:
        if r["sessionStatus"] == "SESSION_BEGIN":
            assert r["intervalsPlayed"] == "" and r["playbackSpeed"] == "100" and r["transcriptActive"] == "FALSE"
        else:
            intervals = json.loads(r["intervalsPlayed"])
            assert all(0 <= a < b <= float(r["mediaDuration"]) * 60000 + 600 for a, b in intervals)
    played = {}
    for r in beacons:
        assert r["transcriptActive"] in ("TRUE", "FALSE") and r["ccActive"] in ("TRUE", "FALSE")
        played.setdefault(r["sessionId"], []).extend(json.loads(r["intervalsPlayed"]))
    ended = [r for r in sessions if r["sessionStatus"] == "SESSION_END" and r["sessionId"] in played]
    assert ended
    for r in ended:  # a session's intervals are its beacons' intervals, joined
        joined = []
        for a, b in sorted(played[r["sessionId"]]):
            if joined and joined[-1][1] == a:
                joined[-1][1] = b
            else:
                joined.append([a, b])
        if parse_ts(r["eventTimestamp"]) - timedelta(hours=3) > datetime.fromisoformat(params["start"]).replace(tzinfo=timezone.utc):
            assert json.loads(r["intervalsPlayed"]) == joined


def test_liveviews_pair_join_and_leave(report_emulator, echo):
    (rows,) = fetch(echo, report_emulator, [("liveviews", window(report_emulator, 7, 7), None)])
    assert {r["scope"] for r in rows} == {"CLASSROOM", "LIVE_STREAM"}
    open_scopes: dict = {}
    for r in rows:
        key = (r["userId"], r["mediaId"], r["scope"])
        if r["event"] == "JOIN":
            assert key not in open_scopes
            open_scopes[key] = parse_ts(r["eventTimestamp"])
        else:
            assert r["event"] == "LEAVE"
            if key in open_scopes:
                assert parse_ts(r["eventTimestamp"]) >= open_scopes.pop(key)


def test_actions_of_qanda2_and_pollingv2(report_emulator, echo):
    params = window(report_emulator, 7, 7)
    qanda2, qanda, pollingv2, polling = fetch(echo, report_emulator, [
        ("qanda2", params, None), ("qanda", params, None), ("pollingv2", params, None), ("polling", params, None)])
    assert {r["entity"] for r in qanda2} == {"Question", "Response"}
    assert {r["action"] for r in qanda2} <= {"Created", "Updated", "Deleted"}
    assert len(qanda) == sum(1 for r in qanda2 if r["action"] == "Created")
    assert {r["action"] for r in pollingv2} <= {"Created", "Updated", "Deleted"} and "Created" in {r["action"] for r in pollingv2}
    presentation_answers = {(r["pollId"], r["answerId"], r["eventTimestamp"]) for r in pollingv2 if r["action"] != "Deleted"}
    assert {(r["activity_id"], r["answer_id"], r["event_timestamp"]) for r in polling} <= presentation_answers
    for r in pollingv2:
        assert r["answer"] in json.loads(r["pollContent"])["options"]


def test_asset_counts_agree_with_the_view_events(report_emulator, echo):
    """A video captured in the last week: its all-time figures are its figures since it was captured,
    and its watched minutes are the sum of its videoview ticks, session beacons and live stream time."""
    now = report_emulator.now
    media = [m for m in report_emulator.world["echo360"]["media"] if m["kind"] == "video"
             and now - timedelta(days=6) < parse_ts(m["created"]) < now - timedelta(days=1)]
    assert media, "the world has a video captured in the last week"
    video = media[0]
    start = parse_ts(video["created"]).date()
    params = {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}
    asset, by_date, views, beacons, live = fetch(echo, report_emulator, [
        ("asset", {}, None), ("assetbydate", params, None), ("videoview", params, None),
        ("viewsessiondetails", params, None), ("liveviews", params, None)])
    (all_time,) = [r for r in asset if r["mediaid"] == video["id"]]
    (windowed,) = [r for r in by_date if r["mediaid"] == video["id"]]
    assert all_time == windowed
    # The reports were submitted three at a time with a clock advance between (see available()), so
    # the later ones reach further: count only what happened before the asset report's own cut, `now`
    # (a live span counts at its JOIN, as the asset figures count it).
    seconds = 30 * sum(1 for r in views if r["videoId"] == video["id"] and parse_ts(r["event_timestamp"]) < now)
    seconds += sum(b - a for r in beacons if r["mediaId"] == video["id"] and parse_ts(r["eventTimestamp"]) < now
                   for a, b in json.loads(r["intervalsPlayed"])) / 1000
    joined = {}
    for r in live:
        if r["mediaId"] == video["id"] and r["scope"] == "LIVE_STREAM":
            key = r["userId"]
            if r["event"] == "JOIN":
                joined[key] = parse_ts(r["eventTimestamp"])
            else:
                start_of_span = joined.pop(key)
                if start_of_span < now:
                    seconds += (parse_ts(r["eventTimestamp"]) - start_of_span).total_seconds()
    assert float(all_time["view_duration_in_minutes"]) == round(seconds / 60, 2)
    assert int(all_time["view_count"]) == int(all_time["public"]) + int(all_time["private"])
    assert int(all_time["view_count"]) == int(all_time["live"]) + int(all_time["on_demand"])
    assert int(all_time["live"]) == len({r["userId"] for r in live if r["mediaId"] == video["id"]
                                         and r["scope"] == "LIVE_STREAM" and r["event"] == "JOIN"})


def test_the_asset_report_lists_every_video_once(report_emulator, echo):
    (rows,) = fetch(echo, report_emulator, [("asset", {}, None)])
    ids = [r["mediaid"] for r in rows]
    assert len(ids) == len(set(ids)) > 50
    assert all(r["scheduled"] in ("0", "1") and r["transcribed"] in ("0", "1") for r in rows)
    assert all((r["room_name"] != "") == (r["scheduled"] == "1") for r in rows)
    assert all(re.match(r"^\d{4}-\d{2}-\d{2}$", r["published_date"]) for r in rows)


# --- rate limit, world ---------------------------------------------------------------------------

def test_rate_limit_is_120_calls_a_minute_per_token(report_emulator, echo):
    for _ in range(120):
        assert echo.get("/reports").status_code == 200
    refused = echo.get("/reports")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "120" in refused.json()["error"]
    other = Client(report_emulator, echo.http)
    assert other.get("/reports").status_code == 200  # per token
    report_emulator.advance(60)
    assert echo.get("/reports").status_code == 200


def test_scenario_changes_the_rate_limit(report_emulator, echo):
    report_emulator.load_scenario({"name": "tight", "echo360": {"rate_limit": 2}})
    assert [echo.get("/requests").status_code for _ in range(3)] == [200, 200, 429]


def test_world_summary_names_reports_courses_and_media(report_emulator, http):
    world = http.get(f"{report_emulator.url}/_emulator/world").json()["echo360"]
    assert world["reports"] == list(COLUMNS)
    assert world["courses"] and all(UUID.match(c["id"]) and c["name"] for c in world["courses"])
    assert {m["kind"] for m in world["media"]} == {"video", "presentation", "interactive"}


def test_scale_and_world_overrides_size_the_world(report_emulator, echo):
    (small,) = fetch(echo, report_emulator, [("videoview", window(report_emulator, 2, 1), None)])
    report_emulator.load_scenario({"name": "big", "world": {"scale": 2}})
    echo.renew()
    (big,) = fetch(echo, report_emulator, [("videoview", window(report_emulator, 2, 1), None)])
    assert len(big) > 1.5 * len(small)
    report_emulator.load_scenario({"name": "few", "world": {"echo360": {"students": 30}}})
    echo.renew()
    (few,) = fetch(echo, report_emulator, [("videoview", window(report_emulator, 2, 1), None)])
    assert len({r["userid"] for r in few}) <= 30 and len(few) < len(small)


# --- documented contract ---------------------------------------------------------------------------

def test_openapi_document_and_strict_mode(report_emulator, http, echo):
    doc = http.get(f"{report_emulator.url}/_emulator/openapi/echo360.json").json()
    assert f"{API}/reports" in doc["paths"] and "/oauth2/access_token" in doc["paths"]
    assert not any(path.startswith("/s3/") for path in doc["paths"])  # downloads are links, not operations
    assert echo.get("/reports", params={"format": "xml"}).status_code == 200  # lenient by default
    report_emulator.load_scenario({"name": "strict", "strict": True})
    refused = echo.get("/reports", params={"format": "xml"})
    assert refused.status_code == 400
    assert "format" in refused.json()["error"] and list(refused.json()) == ["error"]
    assert echo.get("/reports", params={"access_token": echo.token}).status_code == 200
