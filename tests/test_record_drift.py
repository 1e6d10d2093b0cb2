"""Record through the proxy, replay, and drift (issue 19), all through real HTTP: the upstream is a second
`serve` process (or a small test app in front of one that plants drift), the proxy a real `record`
process, the replay server a real `serve --replay` process."""
from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import os
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask, Response, request
from servers import EmulatorProcess, free_port
from werkzeug.serving import make_server

STRIGO = {"Authorization": "Bearer emulator-org:strigo-emulator-key", "Accept": "application/json"}
FALKOR_TOKEN = "ZW11bGF0b3I6ZmFsa29yLXRva2Vu"


class RecordProcess:
    """`report-emulator record` on a free port, ready once it answers."""

    def __init__(self, upstream: str, vendor: str, out: Path, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "emulator", "record", "--upstream", upstream, "--vendor",
                                      vendor, "--out", str(out), "--port", str(self.port), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.banner = self.proc.stdout.readline()
        assert "recording" in self.banner, self.banner + self.proc.stdout.read()
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                threading.Event().wait(0.05)
        raise AssertionError("the proxy never listened")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def drift(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", "drift", str(folder), *args],
                          capture_output=True, text=True, timeout=300)


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".har")


def entry(path: Path) -> dict:
    return json.loads(path.read_text())["log"]["entries"][0]


def recorded_body(path: Path) -> bytes:
    content = entry(path)["response"]["content"]
    text = content.get("text", "")
    return base64.b64decode(text) if content.get("encoding") == "base64" else text.encode()


def assert_no_secret(folder: Path, secrets: set[str]) -> None:
    secrets = {s for s in secrets if s}
    assert secrets
    for path in files(folder):
        text = path.read_text()
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {path.name}"
            assert base64.b64encode(secret.encode()).decode() not in text


@pytest.fixture
def upstream():
    server = EmulatorProcess("--clock", "manual")
    yield server
    server.stop()


@pytest.fixture
def world(upstream):
    return requests.get(f"{upstream.url}/_emulator/world").json()


def _same_answer(via_proxy: requests.Response, direct: requests.Response) -> None:
    assert via_proxy.status_code == direct.status_code
    assert via_proxy.content == direct.content
    # A proxy adds Via (RFC 9110); the rate-limit counter counts the direct call too. The framing is per hop:
    # a streamed answer comes chunked, and the recorder, which holds what it records, sends a Content-Length.
    skip = {"date", "server", "connection", "via", "x-ratelimit-remaining", "content-length", "transfer-encoding"}
    assert {k.lower(): v for k, v in via_proxy.headers.items() if k.lower() not in skip} == \
           {k.lower(): v for k, v in direct.headers.items() if k.lower() not in skip}


# --- record, replay, no drift, no secret: each vendor ------------------------------------------------


def test_strigo_falkor_parkup_recorded_unchanged_replayed_and_no_drift(upstream, world, tmp_path):
    out = tmp_path / "rec"
    secrets = {"strigo-emulator-key", "cookie-secret-4711", FALKOR_TOKEN, "emulator:falkor-token", "falkor-token", "parkup-emulator-token",
               "parkup-emulator-refresh-token"}
    event = world["strigo"]["events"][0]["id"]
    course = world["strigo"]["courses"][0]["id"]
    pathway = world["falkor"]["pathways"][0]["name"]
    user = world["parkup"]["users"][0]
    calls = {"strigo": [
        ("GET", f"/api/v1/events/{event}/reports/exercises", {**STRIGO, "Cookie": "session=cookie-secret-4711"}, None),
        ("GET", f"/api/v1/ondemand-courses/{course}/reports/enrollments?output=csv", {**STRIGO, "Accept": "text/csv"}, None),
        ("POST", f"/api/v1/ondemand-courses/{course}/reports/user-activity", STRIGO, {}),
        ("GET", "/api/v1/events/000000000000000000000000/reports/exercises", STRIGO, None),
        ("GET", f"/api/v1/events/{event}/reports/exercises", {**STRIGO, "Authorization": "Bearer emulator-org:wrong"}, None),
    ], "falkor": [
        ("POST", "/v1/logs/pathway-logs", {"Authorization": f"Basic {FALKOR_TOKEN}"}, {"pathway": pathway}),
        ("POST", "/v1/logs/pathway-logs", {"Authorization": f"Basic {FALKOR_TOKEN}"}, {"pathway": "no such pathway"}),
    ]}
    answers = {}
    for vendor, vendor_calls in calls.items():
        proxy = RecordProcess(upstream.url, vendor, out)
        try:
            for method, path, headers, body in vendor_calls:
                mine = requests.request(method, proxy.url + path, headers=headers, json=body)
                direct = requests.request(method, upstream.url + path, headers=headers, json=body)
                if vendor == "falkor" and mine.status_code == 200:  # its response_time differs per call
                    assert {**mine.json(), "response_time": 0} == {**direct.json(), "response_time": 0}
                else:
                    _same_answer(mine, direct)
                answers[(method, path, json.dumps(headers), json.dumps(body))] = mine.content
        finally:
            proxy.stop()
    # ParkUp: the token exchange, then the access token it issued.
    proxy = RecordProcess(upstream.url, "parkup", out)
    try:
        token = requests.post(f"{proxy.url}/api/v3/business/oauth/access_token",
                              json={"refresh_token": "parkup-emulator-refresh-token", "grant_type": "refresh_token"})
        assert token.status_code == 200
        access = token.json()["access_token"]
        secrets.add(access)
        bearer = {"Authorization": f"Bearer {access}"}
        assert requests.post(f"{proxy.url}/api/v3/business/validate", headers=bearer).status_code == 200
        events = requests.post(f"{proxy.url}/api/v3/business/report/event/user", headers=bearer,
                               json={"refId": user["refId"], "from": "2000-01-01T00:00:00.000Z",
                                     "until": "2099-01-01T00:00:00.000Z"})
        assert events.status_code == 200 and events.json()
        missing = requests.post(f"{proxy.url}/api/v3/business/report/event/user", headers=bearer,
                                json={"refId": "NOBODY", "from": "2000-01-01T00:00:00.000Z",
                                      "until": "2099-01-01T00:00:00.000Z"})
        assert missing.status_code == 404
    finally:
        proxy.stop()

    recorded = files(out)
    assert len(recorded) == 11  # one file per exchange
    for path in recorded:
        log = json.loads(path.read_text())["log"]
        assert log["version"] == "1.2" and len(log["entries"]) == 1
    assert_no_secret(out, secrets)

    result = drift(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 exchanges" in result.stdout and "0 differences" in result.stdout

    # Replay: the recorded bytes, without the upstream.
    upstream.stop()
    replay = EmulatorProcess("--replay", str(out))
    try:
        for (method, path, headers, body), content in answers.items():
            again = requests.request(method, replay.url + path, headers=json.loads(headers), json=json.loads(body))
            if "pathway-logs" in path:
                assert again.content == recorded_body(next(p for p in recorded if "pathway" in p.name
                                                           and json.loads(body)["pathway"] in
                                                           json.dumps(entry(p)["request"])))
            else:
                assert again.content == content, path
        # Masked credentials match any credentials; the same request with another body goes to the emulator.
        again = requests.post(f"{replay.url}/api/v3/business/report/event/user", headers={"Authorization": "Bearer x"},
                              json={"refId": user["refId"], "from": "2000-01-01T00:00:00.000Z",
                                    "until": "2099-01-01T00:00:00.000Z"})
        assert again.content == events.content
        other = requests.post(f"{replay.url}/api/v3/business/report/event/user", headers={"Authorization": "Bearer x"},
                              json={"refId": "SOMEONE", "from": "2000-01-01T00:00:00.000Z", "until": "2099-01-01T00:00:00.000Z"})
        assert other.status_code == 401  # the emulator's own answer: it knows no token "x"
    finally:
        replay.stop()


def test_echo360_whole_flow_recorded_replayed_and_no_drift(upstream, tmp_path):
    out = tmp_path / "rec"
    proxy = RecordProcess(upstream.url, "echo360", out)
    reporting = f"{proxy.url}/public/api/v1/reporting"
    try:
        token = requests.post(f"{proxy.url}/oauth2/access_token", data={
            "grant_type": "client_credentials", "client_id": "emulator-client", "client_secret": "echo360-emulator-secret"})
        assert token.status_code == 200
        access, refresh = token.json()["access_token"], token.json()["refresh_token"]
        again = requests.post(f"{proxy.url}/oauth2/access_token", params={
            "grant_type": "refresh_token", "client_id": "emulator-client", "refresh_token": refresh})
        assert again.status_code == 200
        access2 = again.json()["access_token"]
        bearer = {"Authorization": f"Bearer {access2}"}
        assert requests.get(f"{reporting}/reports", headers=bearer).status_code == 200
        submitted = requests.post(f"{reporting}/requests/asset", headers=bearer,
                                  json={"parameters": {}, "output": {"compression": True, "delimiter": ","}})
        assert submitted.status_code == 200, submitted.text
        request_id = submitted.json()["requestId"]
        pending = requests.get(f"{reporting}/requests/{request_id}", params={"access_token": access2})
        assert pending.json()["status"] == "Pending"
        requests.post(f"{upstream.url}/_emulator/clock/advance", json={"seconds": 600})  # straight to the upstream
        detail = requests.get(f"{reporting}/requests/{request_id}", headers=bearer)
        assert detail.json()["status"] == "Available"
        listed = requests.get(f"{reporting}/requests", headers=bearer)
        assert listed.status_code == 200
        link = detail.json()["signedAssets"][0]
        assert link.startswith(proxy.url + "/s3/echo360-reporting/")  # rewritten to pass through the proxy
        signature = dict(p.split("=", 1) for p in urlsplit(link).query.split("&"))["Signature"]
        downloaded = requests.get(link)
        assert downloaded.status_code == 200
        direct = requests.get(upstream.url + link[len(proxy.url):])
        assert downloaded.content == direct.content and downloaded.content[:2] == b"\x1f\x8b"
        header = gzip.decompress(downloaded.content).split(b"\n", 1)[0]
        unknown = requests.get(f"{reporting}/requests/00000000-0000-0000-0000-000000000000", headers=bearer)
        assert unknown.status_code == 404
    finally:
        proxy.stop()

    recorded = files(out)
    assert len(recorded) == 9
    assert_no_secret(out, {"echo360-emulator-secret", access, refresh, access2, again.json()["refresh_token"],
                           signature})
    download = next(p for p in recorded if "s3" in p.name)
    assert entry(download)["request"]["url"].endswith("Signature=MASKED")
    assert recorded_body(download) == downloaded.content  # the gzip file as sent

    result = drift(out, "--format", "json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout
    assert report["findings"] == [] and report["exchanges"] == 9
    assert report["notes"] == []  # every exchange, the download included, was also sent to the emulator
    assert "GET {signed asset link}" in report["operations"]

    # The same recordings with a column moved in the gzip file and a new status: both found.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for path in recorded:
        data = json.loads(path.read_text())
        response = data["log"]["entries"][0]["response"]
        if path == download:
            rows = list(csv.reader(io.StringIO(gzip.decompress(recorded_body(path)).decode())))
            for row in rows:
                row.append(row.pop(0))
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            response["content"]["text"] = base64.b64encode(gzip.compress(text.getvalue().encode())).decode()
        elif path.name.startswith("00005"):
            response["content"]["text"] = response["content"]["text"].replace('"Pending"', '"Queued"')
        (tampered / path.name).write_text(json.dumps(data))
    report = json.loads(drift(tampered, "--format", "json").stdout)
    first_column = rows[0][-1]
    assert {(f["operation"], f["place"], f["what"]) for f in report["findings"]} == {
        ("GET {signed asset link}", f"CSV column {first_column}", "moved column"),
        ("GET /public/api/v1/reporting/requests/{report_or_request}", "/status", "enum value")}

    upstream.stop()
    replay = EmulatorProcess("--replay", str(out))
    try:
        base = f"{replay.url}/public/api/v1/reporting"
        first = requests.get(f"{base}/requests/{request_id}", params={"access_token": "anything"})
        assert first.content == recorded_body(next(p for p in recorded if p.name.startswith("00005")))
        second = requests.get(f"{base}/requests/{request_id}", headers={"Authorization": "Bearer anything"})
        assert second.json()["status"] == "Available"  # the polls in their recorded order
        replayed_link = second.json()["signedAssets"][0]
        assert replayed_link.startswith(replay.url + "/s3/echo360-reporting/")
        file = requests.get(replayed_link)
        assert file.content == downloaded.content
        assert gzip.decompress(file.content).split(b"\n", 1)[0] == header
    finally:
        replay.stop()


# --- drift: an upstream that drifted in six planted ways ---------------------------------------------


def drifting_app(upstream: str) -> Flask:
    """The emulator's own answers, with six differences planted."""
    app = Flask("drifting")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def forward(path):
        answer = requests.request(request.method, f"{upstream}/{path}", params=request.args, data=request.get_data(),
                                  headers={k: v for k, v in request.headers.items() if k.lower() != "host"})
        body = answer.content
        headers = {k: v for k, v in answer.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")}
        status = answer.status_code
        if path.endswith("/reports/enrollments") and status == 200:  # a renamed field
            data = answer.json()
            for row in data["data"]:
                row["enrolledAt"] = row.pop("enrolled_at")
            body = json.dumps(data).encode()
        elif path.endswith("report/event/user") and status == 200:  # a changed type
            body = json.dumps([{**e, "id": str(e["id"])} for e in answer.json()]).encode()
        elif path.endswith("report/event/user") and status == 404:  # another error envelope
            body = json.dumps({"message": answer.json()["error"], "code": 404}).encode()
        elif path.endswith("/reports/user-activity") and status == 200:  # a new enum value
            data = answer.json()
            for row in data["data"]:
                row["status"] = "archived"
            body = json.dumps(data).encode()
        elif path.startswith("api/v1/events/") and path.endswith("/exercises"):  # a removed header
            headers = {k: v for k, v in headers.items() if k.lower() != "x-ratelimit-remaining"}
        elif path.endswith("/reports/exercises") and status == 200:  # a CSV column moved
            rows = list(csv.reader(io.StringIO(answer.text)))
            for row in rows:
                row.append(row.pop(3))
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            body = out.getvalue().encode()
        return Response(body, status=status, headers=headers)

    return app


@pytest.fixture
def drifting(upstream):
    server = make_server("127.0.0.1", 0, drifting_app(upstream.url), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_drift_reports_each_planted_difference_and_nothing_else(drifting, world, tmp_path):
    out = tmp_path / "rec"
    event = world["strigo"]["events"][0]["id"]
    course = world["strigo"]["courses"][0]["id"]
    user = world["parkup"]["users"][0]
    proxy = RecordProcess(drifting, "strigo", out)
    try:
        for path, headers in ((f"/api/v1/events/{event}/reports/exercises", STRIGO),
                              (f"/api/v1/ondemand-courses/{course}/reports/enrollments", STRIGO),
                              (f"/api/v1/ondemand-courses/{course}/reports/exercises?output=csv", {**STRIGO, "Accept": "text/csv"}),
                              ("/api/v1/events/000000000000000000000000/reports/exercises", STRIGO)):
            assert requests.get(proxy.url + path, headers=headers).status_code in (200, 404)
        activity = requests.post(f"{proxy.url}/api/v1/ondemand-courses/{course}/reports/user-activity", headers=STRIGO,
                                 json={"from": "2000-01-01T00:00:00.000Z"})
        assert activity.json()["data"], "the planted enum value needs rows"
    finally:
        proxy.stop()
    proxy = RecordProcess(drifting, "parkup", out)
    try:
        bearer = {"Authorization": "Bearer parkup-emulator-token"}
        window = {"from": "2000-01-01T00:00:00.000Z", "until": "2099-01-01T00:00:00.000Z"}
        assert requests.post(f"{proxy.url}/api/v3/business/validate", headers=bearer).status_code == 200
        assert requests.post(f"{proxy.url}/api/v3/business/report/event/user", headers=bearer,
                             json={"refId": user["refId"], **window}).json()
        assert requests.post(f"{proxy.url}/api/v3/business/report/event/user", headers=bearer,
                             json={"refId": "NOBODY", **window}).status_code == 404
    finally:
        proxy.stop()

    result = drift(out, "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    found = {(f["operation"], f["place"], f["what"]) for f in report["findings"]}
    enrollments = "GET /api/v1/ondemand-courses/{course_id}/reports/enrollments"
    user_events = "POST /api/v3/business/report/event/user"
    assert found == {
        (enrollments, "/data/*/enrolledAt", "unknown field"),
        (enrollments, "/data/*/enrolled_at", "missing field"),
        (user_events, "/*/id", "type"),
        ("POST /api/v1/ondemand-courses/{course_id}/reports/user-activity", "/data/*/status", "enum value"),
        ("GET /api/v1/events/{event_id}/reports/exercises", "header x-ratelimit-remaining", "documented header"),
        (user_events, "/error", "error envelope: missing field"),
        (user_events, "/message", "error envelope: unknown field"),
        (user_events, "/code", "error envelope: unknown field"),
        ("GET /api/v1/ondemand-courses/{course_id}/reports/exercises", "CSV column email", "moved column"),
    }
    by_place = {f["place"]: f for f in report["findings"]}
    assert by_place["/*/id"]["vendor"] == "string" and by_place["/*/id"]["emulator"] == "integer"
    assert by_place["/data/*/status"]["vendor"] == "archived" and "finished" in by_place["/data/*/status"]["contract"]
    assert by_place["header x-ratelimit-remaining"] == {**by_place["header x-ratelimit-remaining"],
                                                         "vendor": "absent", "emulator": "present"}
    assert by_place["CSV column email"]["emulator"] == "position 4"

    text = drift(out)
    assert text.returncode == 1 and "enrolledAt" in text.stdout
    junit = ET.fromstring(drift(out, "--format", "junit").stdout)
    cases = {case.get("name"): case for case in junit.iter("testcase")}
    assert set(cases) == set(report["operations"])  # one test case per operation
    assert cases["POST /api/v3/business/validate"].find("failure") is None
    assert "enrolled_at" in cases[enrollments].find("failure").text


# --- bad input -------------------------------------------------------------------------------------


def test_drift_names_each_bad_file_and_goes_on(upstream, world, tmp_path):
    out = tmp_path / "rec"
    proxy = RecordProcess(upstream.url, "strigo", out)
    try:
        requests.get(f"{proxy.url}/api/v1/events/{world['strigo']['events'][0]['id']}/reports/exercises", headers=STRIGO)
    finally:
        proxy.stop()
    good = files(out)[0]
    (out / "00002-malformed.har").write_text("{not json")
    (out / "00003-truncated.har").write_text(good.read_text()[:300])
    (out / "00004-foreign.har").write_text(json.dumps({"log": {"version": "1.2", "entries": []}}))
    (out / "notes.txt").write_text("hello")
    outside = tmp_path / "secret.har"
    outside.write_text(good.read_text())
    os.symlink(outside, out / "00005-escape.har")
    result = drift(out)
    assert result.returncode == 2
    for name in ("00002-malformed.har", "00003-truncated.har", "00004-foreign.har", "notes.txt", "00005-escape.har"):
        assert name in result.stdout and name in result.stderr
    assert "outside the recording folder" in result.stdout
    assert "1 exchanges, 1 operations, 0 differences, 5 bad files" in result.stdout
    # serve --replay refuses such a folder, naming the file; a missing folder too.
    refused = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0", "--replay", str(out)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "00002-malformed.har" in refused.stderr
    assert drift(tmp_path / "nowhere").returncode == 2


def test_unreachable_timeout_and_tls_answer_502_in_the_vendors_envelope(tmp_path):
    out = tmp_path / "rec"
    dead = free_port()  # nothing listens there
    proxy = RecordProcess(f"http://127.0.0.1:{dead}", "strigo", out)
    try:
        answer = requests.get(f"{proxy.url}/api/v1/health", headers=STRIGO)
        assert answer.status_code == 502
        assert answer.json()["result"] == "failure" and answer.json()["error"]["type"] == "BadGateway"
        assert f"upstream http://127.0.0.1:{dead} cannot be reached" in answer.json()["error"]["message"]
    finally:
        proxy.stop()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts, never answers
    proxy = RecordProcess(f"http://127.0.0.1:{silent.getsockname()[1]}", "falkor", out, "--timeout", "1")
    try:
        answer = requests.post(f"{proxy.url}/v1/logs/pathway-logs", json={"pathway": "x"}, timeout=60)
        assert answer.status_code == 502
        assert answer.json() == {"status": "error", "message": answer.json()["message"]}
        assert "did not answer within 1 s" in answer.json()["message"]
    finally:
        proxy.stop()
        silent.close()
    plain = socket.socket()  # a plain HTTP server that answers anything at once: TLS to it fails
    plain.bind(("127.0.0.1", 0))
    plain.listen(5)

    def answer_in_plain_http():
        while True:
            try:
                conn, _ = plain.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    threading.Thread(target=answer_in_plain_http, daemon=True).start()
    proxy = RecordProcess(f"https://127.0.0.1:{plain.getsockname()[1]}", "parkup", out)
    try:
        answer = requests.post(f"{proxy.url}/api/v3/business/validate")
        assert answer.status_code == 502 and "TLS error" in answer.json()["error"]
    finally:
        proxy.stop()
        plain.close()
    failures = [entry(p)["_failure"]["kind"] for p in files(out)]
    assert failures == ["unreachable", "timeout", "tls"]
    result = drift(out)
    assert result.returncode == 0 and "not compared" in result.stdout


def test_mask_field_scenario_replay_and_cut_bodies(upstream, world, tmp_path):
    out = tmp_path / "rec"
    course = world["strigo"]["courses"][0]["id"]
    proxy = RecordProcess(upstream.url, "strigo", out, "--mask-field", "email", "--mask-field", "name")
    try:
        answer = requests.get(f"{proxy.url}/api/v1/ondemand-courses/{course}/reports/enrollments", headers=STRIGO)
        csv_answer = requests.get(f"{proxy.url}/api/v1/ondemand-courses/{course}/reports/enrollments",
                                  params={"output": "csv"}, headers={**STRIGO, "Accept": "text/csv"})
    finally:
        proxy.stop()
    rows = answer.json()["data"]
    assert rows and rows[0]["email"]  # the client gets the real answer
    text = "".join(p.read_text() for p in files(out))
    for row in rows:
        assert row["email"] not in text and row["name"] not in text
    assert "masked@example.invalid" in text
    assert drift(out).returncode == 0  # masked values keep their type and format
    assert rows[0]["email"] in csv_answer.text

    # A scenario's replay: key serves the same answers.
    requests.put(f"{upstream.url}/_emulator/scenario", json={"replay": str(out)}).raise_for_status()
    replayed = requests.get(f"{upstream.url}/api/v1/ondemand-courses/{course}/reports/enrollments", headers=STRIGO)
    assert replayed.content == recorded_body(files(out)[0]) != answer.content
    bad = requests.put(f"{upstream.url}/_emulator/scenario", json={"replay": str(tmp_path / "nowhere")})
    assert bad.status_code == 400 and "replay" in bad.json()["errors"]

    # A body above 1 MiB reaches the client whole and is cut in the recording.
    big = Flask("big")
    payload = b"a,b\n" + b"1,2\n" * 800_000
    big_json = json.dumps({"rows": ["x" * 100] * 20_000, "access_token": "tok-after-the-cut-123456"}).encode()
    big.add_url_rule("/api/v1/big", "big", lambda: Response(payload, mimetype="text/csv"))
    big.add_url_rule("/api/v1/big.json", "big_json", lambda: Response(big_json, mimetype="application/json"))
    server = make_server("127.0.0.1", 0, big, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cut_out = tmp_path / "cut"
    proxy = RecordProcess(f"http://127.0.0.1:{server.server_port}", "strigo", cut_out)
    try:
        assert requests.get(f"{proxy.url}/api/v1/big").content == payload
        assert requests.get(f"{proxy.url}/api/v1/big.json").content == big_json
    finally:
        proxy.stop()
        server.shutdown()
    csv_file, json_file = files(cut_out)
    content = entry(csv_file)["response"]["content"]
    assert content["_cut"] == {"size": len(payload), "kept": 1024 * 1024}
    assert len(content["text"]) == 1024 * 1024
    content = entry(json_file)["response"]["content"]
    assert content["_cut"] == {"size": len(big_json), "kept": 1024 * 1024}
    assert "tok-after-the-cut-123456" not in json_file.read_text()  # masked before the cut
    result = drift(cut_out)  # no such Strigo operation; a cut JSON body is not compared
    assert result.returncode == 1 and "operation the emulator does not have" in result.stdout


def test_an_unchanged_emulator_with_another_world_shows_no_drift(tmp_path):
    """Seed 7 upstream, seed 1 comparison: ids unknown to the comparing emulator are swapped for its own."""
    upstream = EmulatorProcess("--clock", "manual", "--seed", "7")
    out = tmp_path / "rec"
    try:
        world = requests.get(f"{upstream.url}/_emulator/world").json()
        event, course = world["strigo"]["events"][0]["id"], world["strigo"]["courses"][0]["id"]
        proxy = RecordProcess(upstream.url, "strigo", out)
        try:
            for path in (f"/api/v1/events/{event}/reports/exercises", f"/api/v1/ondemand-courses/{course}/reports/exercises"):
                assert requests.get(proxy.url + path, headers=STRIGO).status_code == 200
                assert requests.get(proxy.url + path, params={"output": "csv"},
                                    headers={**STRIGO, "Accept": "text/csv"}).status_code == 200
            assert requests.post(f"{proxy.url}/api/v1/events/{event}/reports/user-activity", headers=STRIGO,
                                 json={}).status_code == 200
        finally:
            proxy.stop()
        proxy = RecordProcess(upstream.url, "falkor", out)
        try:
            assert requests.post(f"{proxy.url}/v1/logs/pathway-logs", headers={"Authorization": f"Basic {FALKOR_TOKEN}"},
                                 json={"pathway": world["falkor"]["pathways"][0]["ID"]}).status_code == 200
        finally:
            proxy.stop()
    finally:
        upstream.stop()
    result = drift(out)
    assert result.returncode == 0, result.stdout
    assert "6 exchanges, 4 operations, 0 differences" in result.stdout


def serve_app(app: Flask):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def forwarding_app(name: str, upstream: str, links_to: str | None = None) -> Flask:
    """Passes everything to upstream; with links_to, Echo360's signed links name that host instead (as S3 links do)."""
    app = Flask(name)

    @app.route("/<path:path>", methods=["GET", "POST"])
    def forward(path):
        answer = requests.request(request.method, f"{upstream}/{path}", params=request.args, data=request.get_data(),
                                  headers={k: v for k, v in request.headers.items() if k.lower() != "host"})
        body = answer.content
        if links_to and b"signedAssets" in body:
            body = body.replace(f"{upstream}/".encode(), f"{links_to}/".encode())
        headers = {k: v for k, v in answer.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")}
        return Response(body, status=answer.status_code, headers=headers)

    return app


def test_echo360_links_on_another_host_pass_through_the_proxy_and_replay(upstream, tmp_path):
    s3, s3_url = serve_app(forwarding_app("s3", upstream.url))
    vendor, vendor_url = serve_app(forwarding_app("vendor", upstream.url, links_to=s3_url))
    out = tmp_path / "rec"
    proxy = RecordProcess(vendor_url, "echo360", out)
    try:
        token = requests.post(f"{proxy.url}/oauth2/access_token", params={
            "grant_type": "client_credentials", "client_id": "emulator-client", "client_secret": "echo360-emulator-secret"})
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        reporting = f"{proxy.url}/public/api/v1/reporting"
        request_id = requests.post(f"{reporting}/requests/asset", headers=bearer,
                                   json={"output": {"compression": False}}).json()["requestId"]
        requests.post(f"{upstream.url}/_emulator/clock/advance", json={"seconds": 600})
        link = requests.get(f"{reporting}/requests/{request_id}", headers=bearer).json()["signedAssets"][0]
        host = urlsplit(s3_url).netloc
        assert link.startswith(f"{proxy.url}/_emulator/upstream/http/{host}/s3/echo360-reporting/")
        downloaded = requests.get(link)
        assert downloaded.status_code == 200 and downloaded.text.startswith(next(iter(downloaded.text.splitlines())))
        direct = requests.get(s3_url + link[len(f"{proxy.url}/_emulator/upstream/http/{host}"):])
        assert downloaded.content == direct.content
        # Only hosts that a rewritten link named are forwarded to.
        refused = requests.get(f"{proxy.url}/_emulator/upstream/http/example.com/secret")
        assert refused.status_code == 404 and "no signed link" in refused.json()["error"]
    finally:
        proxy.stop()
        vendor.shutdown()
        s3.shutdown()
    download = [p for p in files(out) if entry(p)["request"]["url"].startswith(s3_url)]
    assert len(download) == 1 and entry(download[0])["request"]["url"].endswith("Signature=MASKED")
    report = json.loads(drift(out, "--format", "json").stdout)
    assert report["findings"] == [] and report["notes"] == [] and report["exit_code"] == 0
    assert report["operations"]["GET {signed asset link}"] == 1

    upstream.stop()
    replay = EmulatorProcess("--replay", str(out))
    try:
        path = f"/public/api/v1/reporting/requests/{request_id}"
        # Matched on the query too: the recorded poll had none, so one with ?access_token= goes to the emulator.
        assert requests.get(replay.url + path, params={"access_token": "t"}).status_code == 401
        detail = requests.get(replay.url + path, headers={"Authorization": "Bearer t"})
        replayed_link = detail.json()["signedAssets"][0]
        assert replayed_link.startswith(f"{replay.url}/_emulator/upstream/http/{host}/s3/echo360-reporting/")
        assert requests.get(replayed_link).content == downloaded.content
    finally:
        replay.stop()


def test_record_refuses_bad_flags_and_keeps_files_in_its_folder(upstream, tmp_path):
    for args, message in ((["--upstream", "ftp://x", "--vendor", "strigo"], "http:// or https:// URL"),
                          (["--upstream", upstream.url, "--vendor", "acme"], "unknown vendor 'acme'")):
        refused = subprocess.run([sys.executable, "-m", "emulator", "record", *args, "--out", str(tmp_path / "x")],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and message in refused.stderr
    out = tmp_path / "rec"
    proxy = RecordProcess(upstream.url, "strigo", out)
    try:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
        conn.request("GET", "/../../../../tmp/escape%2F..%2Fx?api_key=k3y-in-the-query-1")
        answer = conn.getresponse()
        assert answer.status == 404  # the upstream's own answer, passed on
        conn.close()
    finally:
        proxy.stop()
    recorded = list(out.iterdir())
    assert len(recorded) == 1 and recorded[0].name.startswith("00001-GET-") and ".." not in recorded[0].name
    assert "k3y-in-the-query-1" not in recorded[0].read_text()
    assert not (tmp_path / "escape").exists()
