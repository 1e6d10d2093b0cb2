"""Our Strigo answers have the shapes of the documents' examples (fixtures/strigo/): keys, order, types.

Exercise reports have four columns per exercise; the examples show two exercises, so the expected
keys are the example's static columns plus its first exercise's four columns repeated up to the
report's `exercises_count`.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "strigo"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# Keys whose value is null while a thing has not happened (an unfinished exercise, a learner who has
# not started); the examples only show them filled in.
NULLABLE = re.compile(r"^(exercise_?\d+_(result|finished_at)|started_at|startedAt)$")


def fixture(name: str):
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def auth(emulator) -> dict[str, str]:
    creds = emulator.credentials["strigo"]
    return {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}


def kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "date" if ISO_MS.match(value) else "string"
    return type(value).__name__


def expected_keys(example: dict, prefix: str, count: int) -> list[str]:
    """The example's keys with its exercise columns repeated for `count` exercises."""
    keys = list(example)
    first = keys.index(f"{prefix}1_title")
    template = keys[first:first + 4]
    assert keys[first:] == template + [k.replace(f"{prefix}1_", f"{prefix}2_") for k in template]
    return keys[:first] + [k.replace(f"{prefix}1_", f"{prefix}{n}_") for n in range(1, count + 1) for k in template]


def generic(key: str) -> str:
    return re.sub(r"(exercise_?)\d+_", r"\g<1>1_", key)


def assert_same_types(rows: list[dict], example: dict) -> None:
    """Every value has the example's type (the nullable ones may be null), and each key is seen filled."""
    filled = set()
    for row in rows:
        for key, value in row.items():
            expected = kind(example[generic(key)]) if generic(key) in example else kind(example[key])
            if value is None and NULLABLE.match(key):
                continue
            assert kind(value) == expected, (key, value)
            filled.add(generic(key))
    assert filled >= {generic(k) for k in example}


def reports(emulator, http, path: str, **kwargs) -> list:
    url = f"{emulator.url}/api/v1{path}"
    method = http.post if path.endswith("user-activity") else http.get
    responses = []
    for entity in emulator.world["strigo"]["events" if path.startswith("/events") else "courses"]:
        response = method(url.format(id=entity["id"]), headers=auth(emulator), **kwargs)
        assert response.status_code == 200, response.text
        responses.append(response)
    return responses


def test_event_exercises_json_matches_the_example(report_emulator, http):
    example = fixture("event-exercises.json")  # the docs show the bare `data` array here
    assert isinstance(example, list)
    for response in reports(report_emulator, http, "/events/{id}/reports/exercises"):
        body = response.json()
        assert body["result"] == "success"  # we keep the envelope (vendor-notes: the example omits it)
        rows = body["data"]
        for row in rows:
            assert list(row) == expected_keys(example[0], "exercise_", row["exercises_count"])
        assert_same_types(rows, example[0])


@pytest.mark.parametrize("name, path, prefix", [
    ("course-exercises.json", "/ondemand-courses/{id}/reports/exercises", "exercise"),
    ("course-enrollments.json", "/ondemand-courses/{id}/reports/enrollments", None),
])
def test_course_json_matches_the_example(report_emulator, http, name, path, prefix):
    example = fixture(name)
    for response in reports(report_emulator, http, path):
        body = response.json()
        assert list(body) == list(example)
        assert body["result"] == example["result"]
        for row in body["data"]:
            keys = expected_keys(example["data"][0], prefix, row["exercises_count"]) if prefix else list(example["data"][0])
            assert list(row) == keys
        assert_same_types(body["data"], example["data"][0])


@pytest.mark.parametrize("name, request_name, path", [
    ("event-user-activity.json", "event-user-activity-request.json", "/events/{id}/reports/user-activity"),
    ("course-user-activity.json", "course-user-activity-request.json", "/ondemand-courses/{id}/reports/user-activity"),
])
def test_user_activity_matches_the_example(report_emulator, http, name, request_name, path):
    example = fixture(name)
    # The example's window, moved to our world's year; the key names and form are the example's.
    body = fixture(request_name)
    assert list(body) == ["from", "to"]
    now = report_emulator.now
    body = {"from": (now - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S.123Z"),
            "to": now.strftime("%Y-%m-%dT%H:%M:%S.456Z")}
    rows = []
    for response in reports(report_emulator, http, path, json=body):
        payload = response.json()
        assert list(payload) == list(example)
        rows += payload["data"]
    template = example["data"][0]
    session_template = template["sessions"][0]
    for row in rows:
        assert list(row) == list(template)
        assert (row["from"], row["to"]) == (body["from"], body["to"])  # echoed in the example's form
        for session in row["sessions"]:
            assert list(session) == list(session_template)
            assert {k: kind(v) for k, v in session.items()} == {k: kind(v) for k, v in session_template.items()}
    assert_same_types(rows, template)
    # The example's figures are JavaScript numbers; ours are made the same way.
    for item in example["data"]:
        total = 0
        for session in item["sessions"]:
            total += session["sessionDurationInSeconds"]
        assert total == item["totalSessionTime"]


CSV_FIELD = re.compile(r'"(?:[^"]|"")*"|[^,"]*')


def csv_fields(line: str) -> list[str]:
    """The raw fields of one CSV line, quotes kept."""
    fields, pos = [], 0
    while True:
        match = CSV_FIELD.match(line, pos)
        fields.append(match.group())
        pos = match.end()
        if pos >= len(line):
            return fields
        assert line[pos] == ",", line
        pos += 1


def csv_shape(line: str) -> list[str]:
    """Each field of a CSV line as "quoted" or "bare"."""
    return ["quoted" if f.startswith('"') else "bare" for f in csv_fields(line)]


@pytest.mark.parametrize("name, path, prefix", [
    ("event-exercises.csv", "/events/{id}/reports/exercises", "exercise_"),
    ("course-exercises.csv", "/ondemand-courses/{id}/reports/exercises", "exercise"),
    ("course-enrollments.csv", "/ondemand-courses/{id}/reports/enrollments", None),
])
def test_csv_matches_the_example(report_emulator, http, name, path, prefix):
    header, sample = fixture(name).strip("\n").split("\n")
    names = [h.strip('"') for h in csv_fields(header)]
    sample_shape = csv_shape(sample)
    if name == "course-enrollments.csv":
        # The document's header lacks `status` while its data row has it (a doc slip): put it back.
        names.insert(names.index("started_at") + 1, "status")
    assert len(names) == len(sample_shape)
    header_quoted = header.startswith('"')
    for response in reports(report_emulator, http, path, params={"output": "csv"}):
        assert response.headers["Content-Type"].startswith("text/csv")
        lines = response.text.strip("\n").split("\n")
        ours = [h.strip('"') for h in csv_fields(lines[0])]
        assert all(h.startswith('"') is header_quoted for h in csv_fields(lines[0]))
        for line in lines[1:]:
            shape = dict(zip(ours, csv_shape(line)))
            count = int(csv_fields(line)[ours.index("exercises_count")])
            keys = expected_keys(dict.fromkeys(names), prefix, count) if prefix else names
            assert ours == keys
            for key in ours:
                expected = sample_shape[names.index(generic(key))]
                if shape[key] == "bare" and expected == "quoted" and NULLABLE.match(key):
                    continue  # null is an empty, bare field
                assert shape[key] == expected, key


def test_health_matches_the_notes(report_emulator, http):
    response = http.get(f"{report_emulator.url}/api/v1/health")
    assert response.json() == fixture("health.json")
