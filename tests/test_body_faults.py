"""Faults inside the body through real HTTP, one process and `--workers 2` on a shared store:
`fault: truncated_body` (`after_bytes`), `chunked_dribble`, `bandwidth` (on a rule or a vendor's knobs),
on Echo360's gzip download and on a canned answer; and the bad input that is refused."""
from __future__ import annotations

import gzip
import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import requests

from servers import MODES, serve_in_mode

API = "/public/api/v1/reporting"
CANNED = "/api/v1/events/canned/reports/exercises"
BIG = {"rows": [{"n": i, "text": "x" * 40} for i in range(400)]}  # about 22 KB of JSON


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    process = serve_in_mode(request.param, tmp_path_factory.mktemp("body"), "--clock", "manual")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def download(server):
    """A signed link to an Echo360 gzip CSV download, and its whole body as sent with no scenario."""
    with requests.Session() as http:
        creds = http.get(f"{server.url}/_emulator/credentials").json()["echo360"]
        token = http.post(f"{server.url}/oauth2/access_token", params={"grant_type": "client_credentials", **creds}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        request_id = http.post(f"{server.url}{API}/requests/asset", json={"parameters": {}}, headers=auth).json()["requestId"]
        http.post(f"{server.url}/_emulator/clock/advance", json={"seconds": 120}).raise_for_status()
        link = http.get(f"{server.url}{API}/requests/{request_id}", headers=auth).json()["signedAssets"][0]
        body = http.get(link).content
    assert urlsplit(link).path.endswith(".csv.gz") and gzip.decompress(body)
    return link, body


def load(server, http, *rules, **sections) -> None:
    response = http.put(f"{server.url}/_emulator/scenario", json={"rules": list(rules), **sections})
    assert response.status_code == 200, response.text


def raw_get(url: str) -> tuple[int, int, bytes, bool, float]:
    """GET through http.client: status, Content-Length, the bytes that came, whether they were all, seconds."""
    parts = urlsplit(url)
    started = time.monotonic()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        length = int(response.headers["Content-Length"])
        try:
            body, complete = response.read(), True
        except http.client.IncompleteRead as exc:
            body, complete = exc.partial, False
        return response.status, length, body, complete, time.monotonic() - started
    finally:
        connection.close()


def last_entry(server, http) -> dict:
    return http.get(f"{server.url}/_emulator/journal").json()["requests"][-1]


def test_truncated_body_cuts_the_gzip_download_at_half_by_default(server, http, download):
    link, whole = download
    load(server, http, {"match": {"path": urlsplit(link).path}, "fault": "truncated_body"})
    status, length, body, complete, _ = raw_get(link)
    assert (status, length, complete) == (200, len(whole), False)
    assert body == whole[: len(whole) // 2]
    entry = last_entry(server, http)
    assert (entry["fault"], entry["status"]) == ("truncated_body", 200)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # what a requests-based pipeline meets
        http.get(link)


def test_truncated_body_after_bytes_on_a_canned_answer(server, http):
    load(server, http, {"match": {"path": CANNED}, "fault": "truncated_body", "after_bytes": 100},
         {"match": {"path": "/api/v1/events/zero/reports/exercises"}, "fault": "truncated_body", "after_bytes": 0})
    status, length, body, complete, _ = raw_get(f"{server.url}{CANNED}")
    assert status != 200 and length > 100 and not complete  # Strigo's own answer (no credentials), cut
    assert len(body) == 100
    status, length, body, complete, _ = raw_get(f"{server.url}/api/v1/events/zero/reports/exercises")
    assert (body, complete) == (b"", False) and length > 0


def test_chunked_dribble_sends_the_whole_download_in_pieces_over_the_time(server, http, download):
    link, whole = download
    load(server, http, {"match": {"path": urlsplit(link).path}, "chunked_dribble": {"chunks": 5, "total_ms": 1500}})
    status, length, body, complete, seconds = raw_get(link)
    assert (status, length, complete, body) == (200, len(whole), True, whole)
    assert seconds >= 1.0  # four pauses of 300 ms at the least (a lower bound only)
    entry = last_entry(server, http)
    assert entry["transfer"] == ["chunked_dribble"] and entry["rule"] == "rules[0]"


def test_bandwidth_on_a_rule_and_on_a_vendor_knob(server, http, download):
    link, whole = download
    load(server, http, {"match": {"path": CANNED}, "respond": {"json": BIG}, "bandwidth": {"bytes_per_second": 10_000}})
    status, length, body, complete, seconds = raw_get(f"{server.url}{CANNED}")
    assert (status, complete) == (200, True) and json.loads(body) == BIG
    assert seconds >= 0.8 * length / 10_000
    assert last_entry(server, http)["transfer"] == ["bandwidth"]

    rate = max(1, len(whole) // 2)  # the download in about two seconds
    load(server, http, echo360={"bandwidth": {"bytes_per_second": rate}})
    status, length, body, complete, seconds = raw_get(link)
    assert (status, complete, body) == (200, True, whole)
    assert seconds >= 1.5
    entry = last_entry(server, http)
    assert entry["transfer"] == ["bandwidth"] and entry["rule"] is None


def test_every_body_fault_together(server, http, download):
    link, whole = download
    load(server, http, {"match": {"path": urlsplit(link).path}, "fault": "truncated_body", "after_bytes": 50,
                        "chunked_dribble": {"chunks": 3, "total_ms": 300}, "bandwidth": {"bytes_per_second": 1000}})
    status, length, body, complete, _ = raw_get(link)
    assert (status, length, body, complete) == (200, len(whole), whole[:50], False)
    entry = last_entry(server, http)
    assert entry["fault"] == "truncated_body" and entry["transfer"] == ["chunked_dribble", "bandwidth"]


BAD = [
    ({"fault": "truncated_body", "after_bytes": -1}, "rules[0].after_bytes"),
    ({"fault": "truncated_body", "after_bytes": "10"}, "rules[0].after_bytes"),
    ({"fault": "empty_response", "after_bytes": 10}, "rules[0].after_bytes"),
    ({"chunked_dribble": {"chunks": 0, "total_ms": 100}}, "rules[0].chunked_dribble.chunks"),
    ({"chunked_dribble": {"chunks": 2, "total_ms": 60_001}}, "rules[0].chunked_dribble.total_ms"),
    ({"chunked_dribble": {"chunks": 2, "total_ms": -1}}, "rules[0].chunked_dribble.total_ms"),
    ({"chunked_dribble": {"chunks": 2}}, "rules[0].chunked_dribble.total_ms"),
    ({"bandwidth": {"bytes_per_second": 0}}, "rules[0].bandwidth.bytes_per_second"),
    ({"bandwidth": {"bytes_per_second": 10**10}}, "rules[0].bandwidth.bytes_per_second"),
    ({"fault": "connection_reset", "chunked_dribble": {"chunks": 2, "total_ms": 10}}, "rules[0].chunked_dribble"),
    ({"fault": "connection_reset", "bandwidth": {"bytes_per_second": 10}}, "rules[0].bandwidth"),
]


@pytest.mark.parametrize("rule, field", BAD, ids=[field + "=" + json.dumps(rule) for rule, field in BAD])
def test_bad_body_fault_input_is_refused_and_the_active_scenario_stays(server, http, rule, field):
    load(server, http, {"match": {"path": CANNED}, "fault": "truncated_body", "after_bytes": 7})
    active = http.get(f"{server.url}/_emulator/scenario").json()["scenario"]
    response = http.put(f"{server.url}/_emulator/scenario", json={"rules": [{"match": {"path": CANNED}, **rule}]})
    assert response.status_code == 400, response.text
    assert field in response.json()["errors"], response.json()
    assert http.get(f"{server.url}/_emulator/scenario").json()["scenario"] == active


def test_a_vendor_knob_bandwidth_out_of_bounds_is_refused(server, http):
    response = http.put(f"{server.url}/_emulator/scenario", json={"falkor": {"bandwidth": {"bytes_per_second": 0}}})
    assert response.status_code == 400
    assert "falkor.bandwidth.bytes_per_second" in response.json()["errors"], response.json()
