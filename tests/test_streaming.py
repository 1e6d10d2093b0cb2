"""Bounded memory (issue 17): report answers streamed as generated, through real `serve` processes.

A streamed answer is chunked (no Content-Length) and equals what the same rows give fetched another
way; the body faults still work on it; `GET /_emulator/world` is paged, and refuses bad paging with
a 400 naming the field.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import re
from urllib.parse import urlsplit

import pytest
import requests

from servers import EmulatorProcess

NOW = "2026-01-15T00:00:00Z"
PATH = "/v1/logs/pathway-logs"


@pytest.fixture(scope="module")
def server():
    process = EmulatorProcess("--clock", "manual", "--now", NOW, "--scale", "3")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def falkor(server):
    """(auth headers, the ID of the pathway with the most logs among the first three)."""
    with requests.Session() as http:
        token = http.get(f"{server.url}/_emulator/credentials").json()["falkor"]["token"]
        auth = {"Authorization": f"Basic {token}"}
        pathways = http.get(f"{server.url}/_emulator/world?vendor=falkor").json()["falkor"]["pathways"][:3]
        sizes = [(len(http.post(f"{server.url}{PATH}", json={"pathway": p["ID"]}, headers=auth).content), p["ID"])
                 for p in pathways]
    return auth, max(sizes)[1]


def raw_post(url: str, body: dict, headers: dict) -> tuple[int, dict, list[bytes], bool]:
    """POST through http.client: status, headers, the body as read in pieces, whether it all came."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("POST", parts.path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        pieces, complete = [], True
        try:
            while True:
                piece = response.read1(64 * 1024)
                if not piece:
                    break
                pieces.append(piece)
        except http.client.IncompleteRead as exc:
            pieces.append(exc.partial)
            complete = False
        if response.length:  # a Content-Length answer that stopped short
            complete = False
        return response.status, dict(response.headers), pieces, complete
    finally:
        connection.close()


def without_time(body: bytes) -> bytes:
    return re.sub(rb'"response_time":[0-9.e+-]+', b'"response_time":0', body)


def test_a_large_falkor_answer_is_streamed_in_pieces_and_whole(server, falkor):
    auth, pathway = falkor
    status, headers, pieces, complete = raw_post(f"{server.url}{PATH}", {"pathway": pathway}, auth)
    assert (status, complete) == (200, True)
    assert headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in headers
    body = b"".join(pieces)
    assert len(pieces) > 1 and len(body) > 64 * 1024  # read as it came, in more than one piece
    answer = json.loads(body)
    assert list(answer) == ["status", "data", "hash", "response_time"]
    assert answer["hash"] == hashlib.md5(json.dumps(answer["data"], separators=(",", ":")).encode()).hexdigest()
    for activity in answer["data"][0]["activities"]:  # stats (written before the logs) agree with them
        assert activity["stats"] == {"total": len(activity["logs"]),
                                     "completed": sum(log["status"]["complete"] for log in activity["logs"])}


def test_the_streamed_answer_equals_its_rows_fetched_one_activity_and_one_group_at_a_time(server, falkor, http):
    auth, pathway = falkor
    whole = http.post(f"{server.url}{PATH}", json={"pathway": pathway}, headers=auth).json()["data"][0]
    one_by_one = []
    for activity in whole["activities"]:
        part = http.post(f"{server.url}{PATH}", json={"pathway": pathway, "activities": [activity["ID"]]}, headers=auth)
        one_by_one += part.json()["data"][0]["activities"]
    assert one_by_one == whole["activities"]
    group = whole["activities"][0]["logs"][0]["groups"][0]
    grouped = http.post(f"{server.url}{PATH}", json={"pathway": pathway, "groups": [group]}, headers=auth).json()
    assert [a["logs"] for a in grouped["data"][0]["activities"]] == [
        [log for log in a["logs"] if group in log["groups"]] for a in whole["activities"]]


def test_the_streamed_bytes_are_those_of_the_whole_document():
    """In-process: the rows as one list, dumped by the answer's schema and jsonify, give the streamed bytes."""
    from datetime import datetime, timezone

    from flask import jsonify

    from emulator.app import create_app
    from emulator.settings import Settings
    from emulator.vendors.falkor.schemas import PathwayLogsSchema

    app = create_app(Settings(clock="manual", now=datetime(2026, 1, 15, tzinfo=timezone.utc), scale=2))
    client = app.test_client()
    token = client.get("/_emulator/credentials").json["falkor"]["token"]
    model = app.extensions["emulator"].vendors["falkor"]
    for request in ({"pathway": model.pathway_headers()[1][0]}, {"pathway": model.pathway_headers()[2][1], "types": ["video"]}):
        streamed = client.post(PATH, json=request, headers={"Authorization": f"Basic {token}"})
        assert streamed.is_streamed
        with app.test_request_context():
            data = model.pathway_logs(**request)
            answer = PathwayLogsSchema().dump({"status": "success", "data": data, "hash": "", "response_time": 0.0})
            answer["hash"] = hashlib.md5(json.dumps(answer["data"], separators=(",", ":")).encode()).hexdigest()
            whole = jsonify(answer).get_data()
        assert without_time(streamed.get_data()) == without_time(whole)


def load(server, http, *rules) -> None:
    response = http.put(f"{server.url}/_emulator/scenario", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


def test_body_faults_work_on_a_streamed_answer(server, falkor, http):
    auth, pathway = falkor
    whole = without_time(http.post(f"{server.url}{PATH}", json={"pathway": pathway}, headers=auth).content)
    try:
        load(server, http, {"match": {"path": PATH}, "fault": "truncated_body", "after_bytes": 1000})
        status, headers, pieces, complete = raw_post(f"{server.url}{PATH}", {"pathway": pathway}, auth)
        assert (status, complete) == (200, False)
        assert abs(int(headers["Content-Length"]) - len(whole)) < 40  # measured by a first pass
        assert b"".join(pieces) == whole[:1000]

        load(server, http, {"match": {"path": PATH}, "chunked_dribble": {"chunks": 4, "total_ms": 200}})
        status, headers, pieces, complete = raw_post(f"{server.url}{PATH}", {"pathway": pathway}, auth)
        body = b"".join(pieces)
        assert (status, complete, int(headers["Content-Length"])) == (200, True, len(body))
        assert without_time(body) == whole

        load(server, http, {"match": {"path": PATH}, "fault": "malformed_body"})
        status, headers, pieces, complete = raw_post(f"{server.url}{PATH}", {"pathway": pathway}, auth)
        body = b"".join(pieces)
        assert (status, complete, int(headers["Content-Length"])) == (200, True, len(body))
        assert abs(len(body) - len(whole) // 2) < 20 and whole.startswith(without_time(body)[:len(body) - 40])

        load(server, http, {"match": {"path": PATH}, "bandwidth": {"bytes_per_second": 10_000_000}})
        status, headers, pieces, complete = raw_post(f"{server.url}{PATH}", {"pathway": pathway}, auth)
        assert (status, complete) == (200, True) and "Content-Length" not in headers  # still streamed
        assert without_time(b"".join(pieces)) == whole
        entry = http.get(f"{server.url}/_emulator/journal").json()["requests"][-1]
        assert entry["transfer"] == ["bandwidth"] and entry["status"] == 200
    finally:
        http.delete(f"{server.url}/_emulator/scenario")


def test_the_world_is_paged_and_its_pages_add_up(server, http):
    whole = http.get(f"{server.url}/_emulator/world?limit=1000").json()
    assert whole["page"]["offset"] == 0 and whole["page"]["limit"] == 1000
    totals = whole["page"]["totals"]
    assert totals.keys() == whole.keys() - {"page"}
    assert all(len(value) == min(totals[vendor][key], 1000) and key in totals[vendor]  # a list past 1000: one page
               for vendor, lists in whole.items() if vendor != "page" for key, value in lists.items())
    assert totals["echo360"]["media"] > 1000  # Echo360's media: every one captured before now
    users = whole["parkup"]["users"]
    assert len(users) == whole["page"]["totals"]["parkup"]["users"] > 7
    paged, offset = [], 0
    while offset < len(users):
        page = http.get(f"{server.url}/_emulator/world", params={"vendor": "parkup", "offset": offset, "limit": 7}).json()
        assert list(page) == ["parkup", "page"] and len(page["parkup"]["users"]) <= 7
        paged += page["parkup"]["users"]
        offset += 7
    assert paged == users
    default = http.get(f"{server.url}/_emulator/world").json()
    assert default["page"]["limit"] == 100 and len(default["falkor"]["pathways"]) == min(100, len(whole["falkor"]["pathways"]))
    beyond = http.get(f"{server.url}/_emulator/world", params={"offset": 10_000}).json()
    assert beyond["falkor"]["pathways"] == [] and beyond["page"]["totals"] == whole["page"]["totals"]


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("offset=-1", "offset"),
    ("offset=1.5", "offset"), ("vendor=nobody", "vendor"), ("page=2", "page"),
])
def test_bad_world_paging_is_a_400_naming_the_field(server, http, query, field):
    response = http.get(f"{server.url}/_emulator/world?{query}")
    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == [field] and field in body["error"]


def test_an_error_after_the_first_byte_closes_the_stream_unfinished(capfd):
    """The status has gone out: the stream stops and the connection closes without the chunked terminator.

    A small Flask app whose streamed body fails half-way, served by the emulator's own server (emulator/server.py).
    """
    from flask import Flask

    from emulator.core.streaming import FLUSH, streamed
    from emulator.server import ServerThread

    app = Flask(__name__)

    @app.get("/fails")
    def fails():
        def pieces():
            yield "x" * 100_000
            yield FLUSH
            raise RuntimeError("found after the first byte")

        return streamed(pieces, "text/plain")

    server = ServerThread(app).start()
    try:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(f"{server.url}/fails", timeout=30).content
        response = requests.get(f"{server.url}/fails", stream=True, timeout=30)
        assert response.status_code == 200 and response.headers["Transfer-Encoding"] == "chunked"
        got = b""
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for piece in response.iter_content(8192):
                got += piece
        assert got == b"x" * 100_000  # what was made before the error, then no more
    finally:
        server.stop()
    assert "Traceback" not in capfd.readouterr().err  # logged in a line each, not as tracebacks
