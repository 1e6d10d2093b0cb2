"""Strigo's reports through a real socket: every endpoint, field, error, the rate limit and the clock."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
HEX24 = re.compile(r"^[0-9a-f]{24}$")
WORKSPACE = re.compile(r"^[0-9A-Za-z]{17}$")
ENROLLMENT_STATUSES = {"enrolled", "started", "inactive", "paused", "expired", "finished"}
EVENT_HEAD = ["event_id", "event_name", "email", "name", "workspace_id", "exercises_finished", "exercises_count",
              "all_exercises_completed"]
COURSE_EXERCISES_HEAD = ["course_id", "course_name", "enrollment_id", "email", "name", "workspace_id",
                         "exercises_finished", "exercises_count", "all_exercises_completed"]
ENROLLMENT_KEYS = ["course_id", "course_name", "enrollment_id", "email", "name", "workspace_id", "enrolled_at",
                   "started_at", "status", "exercises_finished", "exercises_count", "all_exercises_completed"]
EVENT_ACTIVITY_KEYS = ["eventId", "workspaceId", "name", "email", "role", "status", "startedAt", "sessions",
                       "totalSessionTime", "from", "to"]
COURSE_ACTIVITY_KEYS = ["courseId", "workspaceId", "enrollmentId", "name", "email", "status", "enrolledAt",
                        "startedAt", "sessions", "totalSessionTime", "from", "to"]
SESSION_KEYS = ["sessionStartTime", "sessionEndTime", "sessionDurationInSeconds"]


# -- helpers ---------------------------------------------------------------------------------------


def auth(emulator) -> dict[str, str]:
    creds = emulator.credentials["strigo"]
    return {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def events(emulator) -> list[dict]:
    return emulator.world["strigo"]["events"]


def courses(emulator) -> list[dict]:
    return emulator.world["strigo"]["courses"]


def get(emulator, http, path: str, **kwargs):
    return http.get(f"{emulator.url}/api/v1{path}", headers=kwargs.pop("headers", auth(emulator)), **kwargs)


def post(emulator, http, path: str, **kwargs):
    return http.post(f"{emulator.url}/api/v1{path}", headers=kwargs.pop("headers", auth(emulator)), **kwargs)


def data(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["result", "data"]
    assert body["result"] == "success"
    return body["data"]


def exercise_keys(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}_{part}" for n in range(1, count + 1) for part in ("title", "type", "result", "finished_at")]


def csv_tokens(line: str) -> list[tuple[str, bool]]:
    """One CSV line as (text, was_quoted) fields, to tell "strings quoted" from "numbers bare"."""
    tokens, i = [], 0
    while i <= len(line):
        if i < len(line) and line[i] == '"':
            j, text = i + 1, ""
            while True:
                k = line.index('"', j)
                text += line[j:k]
                if k + 1 < len(line) and line[k + 1] == '"':
                    text, j = text + '"', k + 2
                    continue
                break
            tokens.append((text, True))
            i = k + 2
        else:
            k = line.find(",", i)
            k = len(line) if k < 0 else k
            tokens.append((line[i:k], False))
            i = k + 1
    return tokens


def assert_csv_agrees(csv_text: str, rows: list[dict], quoted_header: bool) -> None:
    """The CSV is the JSON rows: same header as the keys, strings quoted, numbers and booleans bare."""
    lines = csv_text.split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    header = csv_tokens(lines[0])
    assert [name for name, _ in header] == list(rows[0])
    assert all(quoted is quoted_header for _, quoted in header)
    assert len(lines) - 1 == len(rows)
    for line, row in zip(lines[1:], rows):
        tokens = csv_tokens(line)
        assert len(tokens) == len(row)
        for (text, quoted), value in zip(tokens, row.values()):
            if isinstance(value, bool):
                assert (text, quoted) == ("true" if value else "false", False)
            elif isinstance(value, (int, float)):
                assert (float(text), quoted) == (value, False)
            elif value is None:
                assert (text, quoted) == ("", False)
            else:
                assert (text, quoted) == (value, True)
    # And the standard csv module reads the same values.
    parsed = list(csv.reader(io.StringIO(csv_text)))
    assert parsed[0] == list(rows[0])


def assert_exercise_columns(row: dict, prefix: str, now: datetime) -> None:
    count = row["exercises_count"]
    assert 1 <= count <= 6
    results = [row[f"{prefix}{n}_result"] for n in range(1, count + 1)]
    finished_at = [row[f"{prefix}{n}_finished_at"] for n in range(1, count + 1)]
    assert row["exercises_finished"] == sum(r is not None for r in results)
    assert row["all_exercises_completed"] is (row["exercises_finished"] == count)
    for n, (result, at) in enumerate(zip(results, finished_at), start=1):
        assert row[f"{prefix}{n}_type"] in ("question", "exercise")
        assert isinstance(row[f"{prefix}{n}_title"], str) and row[f"{prefix}{n}_title"]
        assert result in (None, "success", "failure")
        assert (result is None) is (at is None)  # an unfinished exercise has neither
        if at is not None:
            assert ISO_MS.match(at) and instant(at) <= now


def assert_sessions(row: dict, window: tuple[datetime, datetime], now: datetime) -> None:
    total = 0
    for session in row["sessions"]:
        assert list(session) == SESSION_KEYS
        start, end = instant(session["sessionStartTime"]), instant(session["sessionEndTime"])
        assert start < end <= now
        assert start <= window[1] and end >= window[0]  # overlaps [from, to]
        assert session["sessionDurationInSeconds"] == round((end - start).total_seconds(), 3)
        total += session["sessionDurationInSeconds"]
    assert row["totalSessionTime"] == pytest.approx(total, abs=1e-9)
    if row["sessions"]:
        assert row["startedAt"] is not None and instant(row["startedAt"]) <= instant(row["sessions"][0]["sessionStartTime"])


EVENT_GETS = ["/events/{id}/reports/exercises"]
COURSE_GETS = ["/ondemand-courses/{id}/reports/enrollments", "/ondemand-courses/{id}/reports/exercises"]
EVENT_POSTS = ["/events/{id}/reports/user-activity"]
COURSE_POSTS = ["/ondemand-courses/{id}/reports/user-activity"]
ALL_ENDPOINTS = [("GET", p, "event") for p in EVENT_GETS] + [("GET", p, "course") for p in COURSE_GETS] + \
                [("POST", p, "event") for p in EVENT_POSTS] + [("POST", p, "course") for p in COURSE_POSTS]


def call(emulator, http, method: str, template: str, kind: str, entity_id: str | None = None, **kwargs):
    if entity_id is None:
        entity_id = (events if kind == "event" else courses)(emulator)[0]["id"]
    path = template.format(id=entity_id)
    return (get if method == "GET" else post)(emulator, http, path, **kwargs)


# -- the world -------------------------------------------------------------------------------------


def test_world_lists_at_least_eight_events_and_courses(report_emulator, http):
    world = http.get(f"{report_emulator.url}/_emulator/world").json()["strigo"]
    assert list(world) == ["events", "courses"]
    for kind in ("events", "courses"):
        assert len(world[kind]) >= 8
        assert all(list(e) == ["id", "name"] and HEX24.match(e["id"]) and e["name"] for e in world[kind])
        assert len({e["id"] for e in world[kind]}) == len(world[kind])


def test_world_is_varied(report_emulator, http):
    now = report_emulator.now
    year = {"from": (now - timedelta(days=366)).isoformat()}
    roles, results, statuses, sizes, counts, session_starts = set(), set(), set(), [], set(), []
    for event in events(report_emulator):
        rows = data(get(report_emulator, http, f"/events/{event['id']}/reports/exercises"))
        sizes.append(len(rows))
        counts.add(rows[0]["exercises_count"])
        results |= {r[f"exercise_{n}_result"] for r in rows for n in range(1, r["exercises_count"] + 1)}
        activity = data(post(report_emulator, http, f"/events/{event['id']}/reports/user-activity", json=year))
        roles |= {r["role"] for r in activity}
        session_starts += [instant(s["sessionStartTime"]) for r in activity for s in r["sessions"]]
    for course in courses(report_emulator):
        rows = data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/exercises"))
        sizes.append(len(rows))
        counts.add(rows[0]["exercises_count"])
        results |= {r[f"exercise{n}_result"] for r in rows for n in range(1, r["exercises_count"] + 1)}
        statuses |= {r["status"] for r in data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/enrollments"))}
        activity = data(post(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/user-activity", json=year))
        session_starts += [instant(s["sessionStartTime"]) for r in activity for s in r["sessions"]]
    assert roles == {"host", "student"}
    assert results == {"success", "failure", None}  # successes, failures and unfinished exercises
    assert statuses == ENROLLMENT_STATUSES
    assert all(5 <= size <= 40 for size in sizes)
    assert len(counts) >= 3
    assert max(session_starts) <= now
    assert any(s >= now - timedelta(days=30) for s in session_starts)  # the last month
    assert any(s < now - timedelta(days=180) for s in session_starts)  # and long ago


def test_event_participant_counts_are_five_to_forty(report_emulator, http):
    for event in events(report_emulator):
        rows = data(get(report_emulator, http, f"/events/{event['id']}/reports/exercises"))
        assert 5 <= len(rows) <= 40


@pytest.mark.report_emulator(seed=3)
def test_the_seed_changes_the_world(report_emulator, http):
    other = [e["id"] for e in events(report_emulator)]
    report_emulator.reset(seed=1)
    assert other != [e["id"] for e in events(report_emulator)]


def test_scale_multiplies_events_and_courses(report_emulator, http):
    report_emulator.load_scenario({"world": {"scale": 2}})
    assert len(events(report_emulator)) == 16 and len(courses(report_emulator)) == 16
    last = events(report_emulator)[-1]["id"]
    assert 5 <= len(data(get(report_emulator, http, f"/events/{last}/reports/exercises"))) <= 40


# -- event exercises ----------------------------------------------------------------------------


def test_event_exercises_report(report_emulator, http):
    now = report_emulator.now
    for event in events(report_emulator):
        rows = data(get(report_emulator, http, f"/events/{event['id']}/reports/exercises"))
        count = rows[0]["exercises_count"]
        for row in rows:
            assert list(row) == EVENT_HEAD + exercise_keys("exercise_", count)
            assert (row["event_id"], row["event_name"]) == (event["id"], event["name"])
            assert WORKSPACE.match(row["workspace_id"]) and "@" in row["email"] and row["name"]
            assert_exercise_columns(row, "exercise_", now)
        assert len({r["workspace_id"] for r in rows}) == len(rows)
        # Every participant has the same exercises: the event's.
        titles = {tuple(r[f"exercise_{n}_title"] for n in range(1, count + 1)) for r in rows}
        assert len(titles) == 1


def test_event_exercises_csv_agrees_with_json(report_emulator, http):
    for event in events(report_emulator)[:4]:
        rows = data(get(report_emulator, http, f"/events/{event['id']}/reports/exercises", params={"output": "json"}))
        response = get(report_emulator, http, f"/events/{event['id']}/reports/exercises", params={"output": "csv"})
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert_csv_agrees(response.text, rows, quoted_header=False)  # the event sample's bare header


# -- on-demand courses ---------------------------------------------------------------------------


def test_course_enrollments_report(report_emulator, http):
    now = report_emulator.now
    for course in courses(report_emulator):
        rows = data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/enrollments"))
        exercises = {r["enrollment_id"]: r for r in
                     data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/exercises"))}
        assert [r["enrollment_id"] for r in rows] == list(exercises)  # the same enrollments, in the same order
        for row in rows:
            assert list(row) == ENROLLMENT_KEYS
            assert (row["course_id"], row["course_name"]) == (course["id"], course["name"])
            assert HEX24.match(row["enrollment_id"]) and WORKSPACE.match(row["workspace_id"])
            assert row["status"] in ENROLLMENT_STATUSES
            assert ISO_MS.match(row["enrolled_at"]) and instant(row["enrolled_at"]) <= now
            if row["status"] == "enrolled":
                assert row["started_at"] is None
            else:
                assert instant(row["enrolled_at"]) <= instant(row["started_at"]) <= now
            same = exercises[row["enrollment_id"]]
            for key in ("email", "name", "workspace_id", "exercises_finished", "exercises_count", "all_exercises_completed"):
                assert row[key] == same[key]


def test_course_exercises_report(report_emulator, http):
    now = report_emulator.now
    for course in courses(report_emulator):
        rows = data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/exercises"))
        for row in rows:
            assert list(row) == COURSE_EXERCISES_HEAD + exercise_keys("exercise", row["exercises_count"])
            assert not any(key.startswith("exercise_1") for key in row)  # courses: exercise1_title
            assert_exercise_columns(row, "exercise", now)


@pytest.mark.parametrize("report", ["enrollments", "exercises"])
def test_course_csv_agrees_with_json(report_emulator, http, report):
    for course in courses(report_emulator)[:4]:
        path = f"/ondemand-courses/{course['id']}/reports/{report}"
        rows = data(get(report_emulator, http, path))
        response = get(report_emulator, http, path, params={"output": "csv"})
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert_csv_agrees(response.text, rows, quoted_header=True)  # the course samples' quoted header


# -- user activity -------------------------------------------------------------------------------


def test_event_user_activity_defaults_to_the_last_month(report_emulator, http):
    now = report_emulator.now
    for event in events(report_emulator):
        rows = data(post(report_emulator, http, f"/events/{event['id']}/reports/user-activity"))
        participants = data(get(report_emulator, http, f"/events/{event['id']}/reports/exercises"))
        assert [r["workspaceId"] for r in rows] == [p["workspace_id"] for p in participants]
        start = instant(rows[0]["from"])
        assert instant(rows[0]["to"]) == now
        assert timedelta(days=28) <= now - start <= timedelta(days=31)
        assert (start.day, start.time()) == (now.day, now.time()) or now.day > 28  # a calendar month earlier
        for row, participant in zip(rows, participants):
            assert list(row) == EVENT_ACTIVITY_KEYS
            assert row["eventId"] == event["id"]
            assert (row["name"], row["email"]) == (participant["name"], participant["email"])
            assert row["role"] in ("host", "student")
            assert row["status"] == "done"
            assert (row["from"], row["to"]) == (rows[0]["from"], rows[0]["to"])
            assert ISO_MS.match(row["from"]) and ISO_MS.match(row["to"])
            assert_sessions(row, (start, now), now)


def test_user_activity_window_from_the_body(report_emulator, http):
    now = report_emulator.now
    start, end = now - timedelta(days=300), now - timedelta(days=20)
    body = {"from": start.isoformat().replace("+00:00", "Z"), "to": end.isoformat()}
    seen = 0
    for event in events(report_emulator):
        rows = data(post(report_emulator, http, f"/events/{event['id']}/reports/user-activity", json=body))
        for row in rows:
            assert (instant(row["from"]), instant(row["to"])) == (start, end)
            assert row["from"].endswith(".000Z")
            assert_sessions(row, (start, end), now)
            seen += len(row["sessions"])
    assert seen > 0


def test_course_user_activity(report_emulator, http):
    now = report_emulator.now
    body = {"from": (now - timedelta(days=400)).isoformat()}
    for course in courses(report_emulator):
        rows = data(post(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/user-activity", json=body))
        enrollments = data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/enrollments"))
        assert [r["enrollmentId"] for r in rows] == [e["enrollment_id"] for e in enrollments]
        for row, enrollment in zip(rows, enrollments):
            assert list(row) == COURSE_ACTIVITY_KEYS
            assert row["courseId"] == course["id"]
            assert (row["workspaceId"], row["status"], row["enrolledAt"], row["startedAt"]) == (
                enrollment["workspace_id"], enrollment["status"], enrollment["enrolled_at"], enrollment["started_at"])
            assert instant(row["to"]) == now
            assert_sessions(row, (instant(row["from"]), now), now)
            # Over the whole history every learner who started has a session, and nobody else has.
            assert bool(row["sessions"]) is (row["status"] != "enrolled")


def test_a_window_without_activity_lists_everyone_with_no_sessions(report_emulator, http):
    event = events(report_emulator)[0]
    old = report_emulator.now - timedelta(days=2000)
    body = {"from": old.isoformat(), "to": (old + timedelta(days=1)).isoformat()}
    rows = data(post(report_emulator, http, f"/events/{event['id']}/reports/user-activity", json=body))
    participants = data(get(report_emulator, http, f"/events/{event['id']}/reports/exercises"))
    assert len(rows) == len(participants)
    assert all(r["sessions"] == [] and r["totalSessionTime"] == 0 for r in rows)


def test_a_body_with_null_dates_uses_the_defaults(report_emulator, http):
    event = events(report_emulator)[0]
    plain = data(post(report_emulator, http, f"/events/{event['id']}/reports/user-activity"))
    nulls = data(post(report_emulator, http, f"/events/{event['id']}/reports/user-activity", json={"from": None, "to": None}))
    assert plain == nulls


# -- auth, not found, validation --------------------------------------------------------------------


def failure(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["result", "error"] and body["result"] == "failure"
    assert body["error"]["type"] == kind
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("method, template, kind", ALL_ENDPOINTS)
@pytest.mark.parametrize("header", [
    None,
    "Bearer emulator-org:wrong-key",
    "Bearer other-org:strigo-emulator-key",
    "Bearer strigo-emulator-key",
    "Basic ZW11bGF0b3Itb3JnOnN0cmlnby1lbXVsYXRvci1rZXk=",
])
def test_missing_or_wrong_credentials_are_401(report_emulator, http, method, template, kind, header):
    headers = {"Authorization": header} if header else {}
    response = call(report_emulator, http, method, template, kind, headers=headers)
    error = failure(response, 401, "Unauthorized")
    assert "Authorization" in error["message"] or "API key" in error["message"]


@pytest.mark.parametrize("method, template, kind", ALL_ENDPOINTS)
def test_unknown_event_or_course_is_404(report_emulator, http, method, template, kind):
    response = call(report_emulator, http, method, template, kind, entity_id="0123456789abcdef01234567")
    expected = "EventNotFound" if kind == "event" else "CourseNotFound"
    error = failure(response, 404, expected)
    noun = "Event" if kind == "event" else "Course"
    assert error["message"] == f"{noun} 0123456789abcdef01234567 could not be found."


@pytest.mark.parametrize("method, template, kind", [e for e in ALL_ENDPOINTS if e[0] == "GET"])
@pytest.mark.parametrize("value", ["xml", "CSV", ""])
def test_unknown_output_is_422_naming_output(report_emulator, http, method, template, kind, value):
    response = call(report_emulator, http, method, template, kind, params={"output": value})
    error = failure(response, 422, "RequestValidationError")
    assert error["message"] == "The request is not valid"
    assert len(error["errors"]) == 1
    item = error["errors"][0]
    assert list(item) == ["location", "param", "msg"]
    assert (item["location"], item["param"]) == ("query", "output")
    assert "json" in item["msg"] and "csv" in item["msg"]


@pytest.mark.parametrize("template, kind", [(p, "event") for p in EVENT_POSTS] + [(p, "course") for p in COURSE_POSTS])
@pytest.mark.parametrize("body, params", [
    ('{"from": ', ["body"]),
    ("[1, 2]", ["body"]),
    ('"2022-10-07"', ["body"]),
    ('{"from": "yesterday"}', ["from"]),
    ('{"to": "2022-13-45T00:00:00Z"}', ["to"]),
    ('{"from": 1665155452934}', ["from"]),
    ('{"from": "0001-01-01T00:00:00+01:00"}', ["from"]),  # before year 1 in UTC
    ("[" * 100000, ["body"]),  # nested too deeply
    ('{"from": "nope", "to": "never"}', ["from", "to"]),
    ('{"from": "2022-11-06T00:00:00Z", "to": "2022-10-07T00:00:00Z"}', ["from"]),
    ('{"to": "2001-01-01T00:00:00Z"}', ["from"]),  # from defaults to a month ago, after this to
])
def test_bad_user_activity_bodies_are_422_naming_the_param(report_emulator, http, template, kind, body, params):
    headers = {**auth(report_emulator), "Content-Type": "application/json"}
    response = call(report_emulator, http, "POST", template, kind, headers=headers, data=body)
    error = failure(response, 422, "RequestValidationError")
    assert error["message"] == "The request is not valid"
    assert [e["param"] for e in error["errors"]] == params
    assert all(e["location"] == "body" and e["msg"] for e in error["errors"])
    for item in error["errors"]:
        if item["param"] != "body":
            assert item["param"] in item["msg"]


def test_wrong_method_and_unknown_path_get_the_failure_envelope(report_emulator, http):
    event = events(report_emulator)[0]
    response = http.get(f"{report_emulator.url}/api/v1/events/{event['id']}/reports/user-activity", headers=auth(report_emulator))
    assert response.status_code == 405
    assert response.json()["result"] == "failure"
    response = http.get(f"{report_emulator.url}/api/v1/events/{event['id']}/reports/nothing", headers=auth(report_emulator))
    assert response.status_code == 404
    assert response.json()["result"] == "failure"


# -- health and the rate limit ---------------------------------------------------------------------


def test_health_needs_no_credentials_and_has_no_envelope(report_emulator, http):
    response = http.get(f"{report_emulator.url}/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "message": "Healthy"}
    assert list(response.json()) == ["status", "message"]


def test_every_response_carries_rate_limit_headers(report_emulator, http):
    event = events(report_emulator)[0]["id"]
    responses = [
        get(report_emulator, http, f"/events/{event}/reports/exercises"),
        get(report_emulator, http, f"/events/{event}/reports/exercises", params={"output": "csv"}),
        get(report_emulator, http, f"/events/{event}/reports/exercises", params={"output": "pdf"}),
        get(report_emulator, http, "/events/0123456789abcdef01234567/reports/exercises"),
        post(report_emulator, http, f"/events/{event}/reports/user-activity"),
        get(report_emulator, http, "/health"),
    ]
    remaining = [int(r.headers["x-ratelimit-remaining"]) for r in responses]
    assert remaining == list(range(119, 113, -1))  # one organisation, counted on every call
    window_end = report_emulator.now.timestamp() + 60
    for response in responses:
        assert response.headers["x-ratelimit-limit"] == "120"
        assert int(response.headers["x-ratelimit-reset"]) == int(window_end)
    unauthenticated = get(report_emulator, http, f"/events/{event}/reports/exercises", headers={})
    assert unauthenticated.status_code == 401 and unauthenticated.headers["x-ratelimit-limit"] == "120"


def test_past_the_limit_is_429_until_the_window_ends(report_emulator, http):
    report_emulator.load_scenario({"strigo": {"rate_limit": 3}})
    event = events(report_emulator)[0]["id"]
    path = f"/events/{event}/reports/exercises"
    assert [get(report_emulator, http, path).status_code for _ in range(3)] == [200, 200, 200]
    response = get(report_emulator, http, path)
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.text == "Too many requests, please try again later."
    assert response.headers["x-ratelimit-limit"] == "3"
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["Retry-After"]) == 60
    report_emulator.advance(30)
    again = get(report_emulator, http, path)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) == 30
    report_emulator.advance(30)  # the emulator's clock, not the wall clock
    assert get(report_emulator, http, path).status_code == 200


def test_reset_clears_the_rate_limit_counter(report_emulator, http):
    report_emulator.load_scenario({"strigo": {"rate_limit": 1}})
    get(report_emulator, http, "/health")
    assert get(report_emulator, http, "/health").status_code == 429
    report_emulator.reset()
    response = get(report_emulator, http, "/health")
    assert response.status_code == 200 and response.headers["x-ratelimit-remaining"] == "119"


# -- determinism and the clock -------------------------------------------------------------------


def every_report(emulator, http) -> list[bytes]:
    bodies = []
    for event in events(emulator)[:3]:
        bodies.append(get(emulator, http, f"/events/{event['id']}/reports/exercises").content)
        bodies.append(get(emulator, http, f"/events/{event['id']}/reports/exercises", params={"output": "csv"}).content)
        bodies.append(post(emulator, http, f"/events/{event['id']}/reports/user-activity", json={"from": "2000-01-01"}).content)
    for course in courses(emulator)[:3]:
        for report in ("enrollments", "exercises"):
            bodies.append(get(emulator, http, f"/ondemand-courses/{course['id']}/reports/{report}").content)
            bodies.append(get(emulator, http, f"/ondemand-courses/{course['id']}/reports/{report}?output=csv").content)
        bodies.append(post(emulator, http, f"/ondemand-courses/{course['id']}/reports/user-activity").content)
    return bodies


def test_same_seed_and_time_give_the_same_bytes_across_resets(report_emulator, http):
    first = every_report(report_emulator, http)
    report_emulator.reset(seed=5)
    other = every_report(report_emulator, http)
    report_emulator.reset(seed=1)
    assert every_report(report_emulator, http) == first
    assert other != first


@pytest.mark.report_emulator(now="2026-03-01T12:00:00Z")
def test_nothing_after_the_clock_is_shown(report_emulator, http):
    """Set the clock back half a year: later results, sessions and enrollments disappear."""
    now = report_emulator.now
    before = {}
    for course in courses(report_emulator):
        before[course["id"]] = data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/enrollments"))
    event_rows = {e["id"]: data(get(report_emulator, http, f"/events/{e['id']}/reports/exercises")) for e in events(report_emulator)}
    earlier = now - timedelta(days=180)
    report_emulator.set_time(earlier)
    fewer = 0
    for course in courses(report_emulator):
        rows = data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/enrollments"))
        assert all(instant(r["enrolled_at"]) <= earlier for r in rows)
        assert all(r["started_at"] is None or instant(r["started_at"]) <= earlier for r in rows)
        fewer += len(before[course["id"]]) - len(rows)
        for row in data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/exercises")):
            assert_exercise_columns(row, "exercise", earlier)
    assert fewer > 0
    for event in events(report_emulator):
        rows = data(get(report_emulator, http, f"/events/{event['id']}/reports/exercises"))
        assert len(rows) == len(event_rows[event["id"]])  # participants are registered with the event
        for row in rows:
            assert_exercise_columns(row, "exercise_", earlier)
        activity = data(post(report_emulator, http, f"/events/{event['id']}/reports/user-activity",
                             json={"from": "2000-01-01T00:00:00Z"}))
        for row in activity:
            assert_sessions(row, (datetime(2000, 1, 1, tzinfo=timezone.utc), earlier), earlier)
    report_emulator.set_time(now)
    for course in courses(report_emulator):
        assert data(get(report_emulator, http, f"/ondemand-courses/{course['id']}/reports/enrollments")) == before[course["id"]]


# -- scenarios -----------------------------------------------------------------------------------


def test_scenario_named_entities_and_counts(report_emulator, http):
    report_emulator.load_scenario({"world": {"strigo": {
        "event_count": 2,
        "course_count": 3,
        "events": [{"id": "65f0c0ffee0000000000abcd", "name": "Quarterly Kubernetes Bootcamp"}],
        "courses": [{"id": "65f0c0ffee0000000000dcba", "name": "Onboarding"}],
    }}})
    world = report_emulator.world["strigo"]
    assert len(world["events"]) == 2 and len(world["courses"]) == 3
    assert world["events"][0] == {"id": "65f0c0ffee0000000000abcd", "name": "Quarterly Kubernetes Bootcamp"}
    assert world["courses"][0] == {"id": "65f0c0ffee0000000000dcba", "name": "Onboarding"}
    rows = data(get(report_emulator, http, "/events/65f0c0ffee0000000000abcd/reports/exercises"))
    assert 5 <= len(rows) <= 40 and rows[0]["event_name"] == "Quarterly Kubernetes Bootcamp"
    rows = data(get(report_emulator, http, "/ondemand-courses/65f0c0ffee0000000000dcba/reports/enrollments"))
    assert rows and rows[0]["course_name"] == "Onboarding"


def test_scenario_knobs_for_the_undocumented_choices(report_emulator, http):
    event = events(report_emulator)[0]["id"]
    course = courses(report_emulator)[0]["id"]
    report_emulator.load_scenario({"strigo": {"event_exercises_envelope": False, "csv_quote_header": True}})
    bare = get(report_emulator, http, f"/events/{event}/reports/exercises").json()
    assert isinstance(bare, list) and bare[0]["event_id"] == event
    header = get(report_emulator, http, f"/events/{event}/reports/exercises?output=csv").text.split("\n")[0]
    assert header.startswith('"event_id","event_name"')
    report_emulator.load_scenario({"strigo": {"csv_quote_header": False}})
    header = get(report_emulator, http, f"/ondemand-courses/{course}/reports/enrollments?output=csv").text.split("\n")[0]
    assert header.startswith("course_id,course_name")


def test_a_get_report_is_rendered_once_while_what_it_shows_stays(report_emulator, http, monkeypatch):
    """Rendered bodies are kept per world and clock-visible state: the second call is served from
    them (each call's model is a copy, and a copy once cleared the kept bodies on every call)."""
    from emulator.vendors.strigo import routes

    made = []
    original = routes.SCHEMAS["event-exercises"]
    monkeypatch.setitem(routes.SCHEMAS, "event-exercises", lambda event: made.append(event.id) or original(event))
    report_emulator.reset()
    event = events(report_emulator)[0]["id"]
    first = get(report_emulator, http, f"/events/{event}/reports/exercises")
    second = get(report_emulator, http, f"/events/{event}/reports/exercises")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and made == [event]
