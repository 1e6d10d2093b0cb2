"""Falkor POST /v1/logs/pathway-logs through a real socket."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from emulator.vendors.falkor.models import ACTIVITY_TYPES, FULFILMENT_KINDS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "falkor"
PATH = "/v1/logs/pathway-logs"
ID_FORM = re.compile(r"^EV[A-Z0-9]{2}-[A-Z0-9]{4}-[A-Z0-9]{4}$")
TIMESTAMP_FORM = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+02:00$")
# What the activity-type table allows: wire type -> the fulfilmentType values that may go with it.
ALLOWED = {}
for _display, (_wire, _kinds) in ACTIVITY_TYPES.items():
    ALLOWED.setdefault(_wire, set()).update(FULFILMENT_KINDS[k].wire for k in _kinds)
PAYLOAD_KEYS = {"story", "data", "checkin", "qrcode", "honor", "upload", "enrollment", "visit", "tracking"}


def auth(report_emulator) -> dict:
    return {"Authorization": f"Basic {report_emulator.credentials['falkor']['token']}"}


def post(report_emulator, http, body, headers=None):
    return http.post(f"{report_emulator.url}{PATH}", json=body, headers=headers if headers is not None else auth(report_emulator))


def pathways(report_emulator, http) -> list[dict]:
    return http.get(f"{report_emulator.url}/_emulator/world").json()["falkor"]["pathways"]


def logs_for(report_emulator, http, body) -> dict:
    response = post(report_emulator, http, body)
    assert response.status_code == 200, response.text
    return response.json()


def all_logs(answer) -> list[dict]:
    return [log for activity in answer["data"][0]["activities"] for log in activity["logs"]]


def use_world(report_emulator, overrides: dict) -> None:
    """Load a scenario whose `world:` section names entities and sets sizes."""
    report_emulator.load_scenario({"name": "falkor-world", "world": overrides})


def same_shape(ours, theirs, path="$"):
    """Same keys in the same order, same nesting, same JSON value types (the fixture's lists by first item)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{path}: expected an object, got {ours!r}"
        assert list(ours) == list(theirs), f"{path}: keys {list(ours)} != {list(theirs)}"
        for key in theirs:
            same_shape(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), f"{path}: expected an array"
        if theirs and ours:
            same_shape(ours[0], theirs[0], f"{path}[0]")
    elif isinstance(theirs, bool):
        assert isinstance(ours, bool), f"{path}: expected a boolean, got {ours!r}"
    elif isinstance(theirs, (int, float)):
        assert isinstance(ours, (int, float)) and not isinstance(ours, bool), f"{path}: expected a number, got {ours!r}"
    else:
        assert isinstance(ours, type(theirs)), f"{path}: expected {type(theirs).__name__}, got {ours!r}"


# -- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic wrong-token"}, {"Authorization": "Bearer ZW11bGF0b3I6ZmFsa29yLXRva2Vu"}, {"Authorization": "Basic"}],
)
def test_missing_or_wrong_token_is_401_in_falkor_envelope(report_emulator, http, headers):
    name = pathways(report_emulator, http)[0]["name"]
    response = post(report_emulator, http, {"pathway": name}, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert list(body) == ["status", "message"]
    assert body["status"] == "error"
    assert "Basic" in body["message"] or "token" in body["message"]


def test_auth_is_checked_before_the_body(report_emulator, http):
    response = http.post(f"{report_emulator.url}{PATH}", data="not json")
    assert response.status_code == 401


# -- the answer -------------------------------------------------------------------------------------


def test_success_answer_has_the_documented_shape(report_emulator, http):
    pathway = pathways(report_emulator, http)[0]
    answer = logs_for(report_emulator, http, {"pathway": pathway["name"]})
    assert list(answer) == ["status", "data", "hash", "response_time"]
    assert answer["status"] == "success"
    assert len(answer["data"]) == 1
    item = answer["data"][0]
    assert list(item) == ["pathway", "activities"]
    assert item["pathway"] == {"name": pathway["name"], "type": "pathway", "ID": pathway["ID"]}
    assert list(item["pathway"]) == ["name", "type", "ID"]
    assert item["activities"]
    for activity in item["activities"]:
        assert list(activity) == ["ID", "name", "type", "fulfilmentType", "required", "level", "stats", "logs"]
        assert ID_FORM.match(activity["ID"])
        assert isinstance(activity["required"], bool)
        assert activity["level"] in (1, 2, 3, 4)
        assert list(activity["stats"]) == ["total", "completed"]
        for log in activity["logs"]:
            assert list(log) == ["firstname", "lastname", "email", "telephone", "country", "city", "groups", "status", "fulfilment"]
            assert all(isinstance(log[k], str) for k in ("firstname", "lastname", "email", "telephone", "country", "city"))
            assert log["groups"] and all(isinstance(g, str) for g in log["groups"])
            assert list(log["status"]) == ["complete", "progress", "state", "timestamp"]
            assert isinstance(log["status"]["progress"], (int, float))
            assert 0 <= log["status"]["progress"] <= 100


def test_hash_is_the_md5_of_data_and_response_time_is_measured(report_emulator, http):
    name = pathways(report_emulator, http)[1]["name"]
    answer = logs_for(report_emulator, http, {"pathway": name})
    assert answer["hash"] == hashlib.md5(json.dumps(answer["data"], separators=(",", ":")).encode()).hexdigest()
    assert isinstance(answer["response_time"], float) and answer["response_time"] > 0
    again = logs_for(report_emulator, http, {"pathway": name})
    assert again["hash"] == answer["hash"]
    other = logs_for(report_emulator, http, {"pathway": pathways(report_emulator, http)[2]["name"]})
    assert other["hash"] != answer["hash"]


def test_pathway_by_id_or_name_in_any_case(report_emulator, http):
    pathway = pathways(report_emulator, http)[0]
    by_name = logs_for(report_emulator, http, {"pathway": pathway["name"]})
    by_id = logs_for(report_emulator, http, {"pathway": pathway["ID"]})
    by_lower = logs_for(report_emulator, http, {"pathway": pathway["name"].lower()})
    assert by_name["data"] == by_id["data"] == by_lower["data"]


def test_status_and_stats_agree_with_the_logs(report_emulator, http):
    now = report_emulator.now
    states = set()
    for pathway in pathways(report_emulator, http):
        answer = logs_for(report_emulator, http, {"pathway": pathway["ID"]})
        for activity in answer["data"][0]["activities"]:
            logs = activity["logs"]
            assert activity["stats"]["total"] == len(logs)
            assert activity["stats"]["completed"] == sum(log["status"]["complete"] for log in logs)
            for log in logs:
                status = log["status"]
                states.add(status["state"])
                assert status["state"] in ("not started", "in progress", "completed")
                assert status["complete"] is (status["state"] == "completed")
                assert (status["progress"] == 100) is (status["state"] == "completed")
                if status["state"] == "not started":
                    assert status["progress"] == 0
                assert TIMESTAMP_FORM.match(status["timestamp"]), status["timestamp"]
                assert datetime.fromisoformat(status["timestamp"]) <= now
    assert states == {"not started", "in progress", "completed"}


def test_world_has_five_pathways_with_10_to_60_users_in_groups(report_emulator, http):
    found = pathways(report_emulator, http)
    assert len(found) >= 5
    assert len({p["ID"] for p in found}) == len(found) and len({p["name"] for p in found}) == len(found)
    for pathway in found:
        assert ID_FORM.match(pathway["ID"])
        logs = all_logs(logs_for(report_emulator, http, {"pathway": pathway["ID"]}))
        users = {log["email"] for log in logs}
        assert 10 <= len(users) <= 60
        assert all(log["groups"] for log in logs)


def test_activity_types_and_fulfilments_follow_the_type_table(report_emulator, http):
    seen_types, seen_fulfilments, shapes = set(), set(), {}
    for pathway in pathways(report_emulator, http):
        for activity in logs_for(report_emulator, http, {"pathway": pathway["ID"]})["data"][0]["activities"]:
            assert activity["fulfilmentType"] in ALLOWED[activity["type"]], activity
            seen_types.add(activity["type"])
            seen_fulfilments.add(activity["fulfilmentType"])
            for log in activity["logs"]:
                fulfilment = log["fulfilment"]
                if log["status"]["state"] == "not started":
                    assert fulfilment == []
                    continue
                keys = list(fulfilment)
                assert keys[:3] == ["type", "state", "progress"] and keys[-1] == "timestamp"
                assert fulfilment["state"] == log["status"]["state"]
                assert fulfilment["progress"] == log["status"]["progress"]
                assert fulfilment["timestamp"] == log["status"]["timestamp"]
                assert set(keys[3:-1]) <= PAYLOAD_KEYS and len(keys) <= 5
                if len(keys) == 5:
                    shapes.setdefault(keys[3], fulfilment[keys[3]])
                    check_payload(keys[3], fulfilment[keys[3]], fulfilment["state"])
    assert len(seen_types) >= 10
    assert len(seen_fulfilments) >= 6
    assert {"story", "data", "checkin"} <= set(shapes)


def check_payload(key, payload, state):
    if key == "story":
        assert list(payload) == ["ID", "name", "score"] and ID_FORM.match(payload["ID"])
    elif key == "data":
        assert list(payload) == ["category", "current", "target"]
        assert (payload["current"] >= payload["target"]) is (state == "completed")
    elif key == "checkin":
        assert list(payload) == ["eventID", "virtual", "guid", "distance"]
        assert ID_FORM.match(payload["eventID"])
        assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", payload["guid"])
        assert (payload["distance"] == -1) is payload["virtual"]
    elif key == "upload":
        assert {"filename", "size"} <= set(payload)


def test_fulfilment_type_check_in_matches_the_public_shape(report_emulator, http):
    theirs = json.loads((FIXTURES / "check-in-fulfilment.json").read_text())
    for pathway in pathways(report_emulator, http):
        for log in all_logs(logs_for(report_emulator, http, {"pathway": pathway["ID"], "types": ["classroom", "event"]})):
            if log["fulfilment"] and "checkin" in log["fulfilment"]:
                ours = log["fulfilment"]
                assert ours["type"] == theirs["type"]
                same_shape(ours["checkin"], theirs["checkin"])
                return
    pytest.fail("no check-in fulfilment in the world")


# -- filters ----------------------------------------------------------------------------------------


def test_activities_filter_by_name_and_by_id(report_emulator, http):
    name = pathways(report_emulator, http)[0]["ID"]
    activities = logs_for(report_emulator, http, {"pathway": name})["data"][0]["activities"]
    first, last = activities[0], activities[-1]
    answer = logs_for(report_emulator, http, {"pathway": name, "activities": [first["name"], last["ID"]]})
    assert [a["ID"] for a in answer["data"][0]["activities"]] == [first["ID"], last["ID"]]
    assert answer["data"][0]["activities"][0] == first


@pytest.mark.parametrize("how", ["wire", "display", "plural"])
def test_types_filter_by_type_and_display_name(report_emulator, http, how):
    name = pathways(report_emulator, http)[0]["ID"]
    activities = logs_for(report_emulator, http, {"pathway": name})["data"][0]["activities"]
    wire = activities[0]["type"]
    display = next(d for d, (w, _) in ACTIVITY_TYPES.items() if w == wire)
    value = {"wire": wire, "display": display, "plural": display + "s"}[how]
    answer = logs_for(report_emulator, http, {"pathway": name, "types": [value]})
    assert [a["ID"] for a in answer["data"][0]["activities"]] == [a["ID"] for a in activities if a["type"] == wire]


def test_documents_display_names_select_their_types(report_emulator, http):
    for pathway in pathways(report_emulator, http):
        answer = logs_for(report_emulator, http, {"pathway": pathway["ID"], "types": ["Data Target", "Stories"]})
        kinds = {a["type"] for a in answer["data"][0]["activities"]}
        assert kinds <= {"data", "story"}
        unfiltered = logs_for(report_emulator, http, {"pathway": pathway["ID"]})["data"][0]["activities"]
        assert len(answer["data"][0]["activities"]) == sum(a["type"] in ("data", "story") for a in unfiltered)


@pytest.mark.parametrize("by", ["email", "firstname", "lastname", "full name"])
def test_users_filter(report_emulator, http, by):
    name = pathways(report_emulator, http)[0]["ID"]
    person = all_logs(logs_for(report_emulator, http, {"pathway": name}))[3]
    value = {"email": person["email"], "firstname": person["firstname"], "lastname": person["lastname"],
             "full name": f"{person['firstname']} {person['lastname']}".upper()}[by]
    answer = logs_for(report_emulator, http, {"pathway": name, "users": [value]})
    for activity in answer["data"][0]["activities"]:
        assert activity["logs"], "the person has a log in every activity"
        assert any(log["email"] == person["email"] for log in activity["logs"])
        for log in activity["logs"]:
            assert value.lower() in (log["email"], log["firstname"].lower(), log["lastname"].lower(),
                                     f"{log['firstname']} {log['lastname']}".lower())
        assert activity["stats"]["total"] == len(activity["logs"])
        assert activity["stats"]["completed"] == sum(log["status"]["complete"] for log in activity["logs"])


def test_documents_user_key_is_taken_as_users(report_emulator, http):
    name = pathways(report_emulator, http)[0]["ID"]
    logs = all_logs(logs_for(report_emulator, http, {"pathway": name}))
    emails = [logs[0]["email"], logs[5]["email"]]
    with_users = logs_for(report_emulator, http, {"pathway": name, "users": emails})
    with_user = logs_for(report_emulator, http, {"pathway": name, "user": emails})
    assert with_user["data"] == with_users["data"]
    assert {log["email"] for log in all_logs(with_user)} == set(emails)


def test_groups_filter(report_emulator, http):
    name = pathways(report_emulator, http)[0]["ID"]
    logs = all_logs(logs_for(report_emulator, http, {"pathway": name}))
    group = logs[0]["groups"][0]
    answer = logs_for(report_emulator, http, {"pathway": name, "groups": [group]})
    chosen = all_logs(answer)
    assert chosen and all(group in log["groups"] for log in chosen)
    assert {log["email"] for log in chosen} == {log["email"] for log in logs if group in log["groups"]}


def test_filters_combine(report_emulator, http):
    name = pathways(report_emulator, http)[0]["ID"]
    activities = logs_for(report_emulator, http, {"pathway": name})["data"][0]["activities"]
    logs = activities[0]["logs"]
    group = logs[0]["groups"][0]
    emails = [log["email"] for log in logs[:6]]
    answer = logs_for(report_emulator, http, {
        "pathway": name, "activities": [a["ID"] for a in activities[:3]], "types": [activities[0]["type"]],
        "groups": [group], "users": emails,
    })
    chosen = answer["data"][0]["activities"]
    assert [a["ID"] for a in chosen] == [a["ID"] for a in activities[:3] if a["type"] == activities[0]["type"]]
    expected = {log["email"] for log in logs[:6] if group in log["groups"]}
    for activity in chosen:
        assert {log["email"] for log in activity["logs"]} == expected


def test_filters_matching_nothing_give_empty_lists(report_emulator, http):
    name = pathways(report_emulator, http)[0]["ID"]
    assert logs_for(report_emulator, http, {"pathway": name, "activities": ["No Such Activity"]})["data"][0]["activities"] == []
    assert logs_for(report_emulator, http, {"pathway": name, "types": ["hologram"]})["data"][0]["activities"] == []
    answer = logs_for(report_emulator, http, {"pathway": name, "users": ["nobody@nowhere.test"]})
    assert answer["data"][0]["activities"]
    for activity in answer["data"][0]["activities"]:
        assert activity["logs"] == [] and activity["stats"] == {"total": 0, "completed": 0}


def test_document_request_examples_are_accepted(report_emulator, http):
    use_world(report_emulator, {"falkor": {"pathways": [{"name": "Pathway A"}]}})
    for example in sorted((FIXTURES / "requests").glob("*.json")):
        response = post(report_emulator, http, json.loads(example.read_text()))
        assert response.status_code == 200, (example.name, response.text)
        assert response.json()["data"][0]["pathway"]["name"] == "Pathway A"


@pytest.mark.report_emulator(scenario={"strict": True})
def test_the_documents_curl_examples_pass_strict_mode(report_emulator, http):
    """The document's curl lines send the JSON with -d and no Content-Type (curl then says
    application/x-www-form-urlencoded); the document never asks for application/json."""
    import shutil
    import subprocess

    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    report_emulator.load_scenario({"strict": True, "world": {"falkor": {"pathways": [{"name": "Pathway A"}]}}})
    token = report_emulator.credentials["falkor"]["token"]
    for example in sorted((FIXTURES / "requests").glob("*.json")):
        run = subprocess.run([curl, "-sS", "-X", "POST", f"{report_emulator.url}{PATH}",
                              "-H", f"Authorization: Basic {token}", "-d", example.read_text(),
                              "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30)
        body, _, status = run.stdout.rpartition("\n")
        assert status == "200", (example.name, run.stdout, run.stderr)
        assert json.loads(body)["data"][0]["pathway"]["name"] == "Pathway A"
    assert [e["path"] for e in report_emulator.journal()] == [PATH] * len(list((FIXTURES / "requests").glob("*.json")))
    assert report_emulator.violations() == []


# -- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, words",
    [
        ({}, ["pathway", "required"]),
        ({"pathway": ["A", "B"]}, ["pathway", "single string"]),
        ({"pathway": 42}, ["pathway"]),
        ({"pathway": None}, ["pathway"]),
        ({"pathway": ""}, ["pathway", "empty"]),
        ({"pathway": "{p}", "activities": "Story A"}, ["activities", "array of strings"]),
        ({"pathway": "{p}", "types": [1, 2]}, ["types", "array of strings"]),
        ({"pathway": "{p}", "groups": {"a": 1}}, ["groups", "array of strings"]),
        ({"pathway": "{p}", "users": [None]}, ["users", "array of strings"]),
        ({"pathway": "{p}", "user": "joe"}, ["user", "array of strings"]),
        (["{p}"], ["JSON object"]),
        ("just a string", ["JSON object"]),
    ],
)
def test_bad_body_shapes_are_400_naming_the_problem(report_emulator, http, body, words):
    name = pathways(report_emulator, http)[0]["name"]
    body = json.loads(json.dumps(body).replace("{p}", name))
    response = post(report_emulator, http, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["status"] == "error" and list(payload) == ["status", "message"]
    for word in words:
        assert word in payload["message"]


@pytest.mark.parametrize("raw", ["{pathway : \"Pathway A\"}", "", "\xff\xfe", "[" * 100_000],
                         ids=["unquoted-key", "empty", "not-utf8", "too-deep"])
def test_non_json_is_400(report_emulator, http, raw):
    response = http.post(f"{report_emulator.url}{PATH}", data=raw.encode("latin-1"), headers=auth(report_emulator))
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert "JSON" in response.json()["message"] or "empty" in response.json()["message"]


def test_unknown_pathway_is_404(report_emulator, http):
    response = post(report_emulator, http, {"pathway": "Pathway That Does Not Exist"})
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": response.json()["message"]}
    assert "Pathway That Does Not Exist" in response.json()["message"]


def test_unknown_huge_pathway_is_not_echoed_whole(report_emulator, http):
    response = post(report_emulator, http, {"pathway": "x" * 100_000})
    assert response.status_code == 404
    message = response.json()["message"]
    assert "x" * 200 + "..." in message and len(message) < 400


def test_other_paths_and_methods_get_the_falkor_envelope(report_emulator, http):
    response = http.get(f"{report_emulator.url}{PATH}", headers=auth(report_emulator))
    assert response.status_code == 405 and response.json()["status"] == "error"
    response = http.post(f"{report_emulator.url}/v1/logs/nothing", headers=auth(report_emulator))
    assert response.status_code == 404 and response.json()["status"] == "error"


def test_error_fixture_matches_our_envelope(report_emulator, http):
    theirs = json.loads((FIXTURES / "error.json").read_text())
    same_shape(post(report_emulator, http, {"pathway": "nope"}).json(), theirs)


# -- the document's example, determinism, time ------------------------------------------------------


def test_document_example_matches_our_shapes(report_emulator, http):
    theirs = json.loads((FIXTURES / "pathway-logs-success.json").read_text())
    wanted = {(a["type"], a["fulfilmentType"]): a for a in theirs["data"][0]["activities"]}
    found = {}
    for pathway in pathways(report_emulator, http):
        answer = logs_for(report_emulator, http, {"pathway": pathway["ID"]})
        same_shape({**answer, "data": []}, {**theirs, "data": []})
        same_shape(answer["data"][0]["pathway"], theirs["data"][0]["pathway"])
        for activity in answer["data"][0]["activities"]:
            key = (activity["type"], activity["fulfilmentType"])
            completed = [log for log in activity["logs"] if log["status"]["complete"]]
            if key in wanted and completed and key not in found:
                found[key] = True
                same_shape({**activity, "logs": completed}, wanted[key])
    assert set(found) == set(wanted)


@pytest.mark.report_emulator(seed=5, now="2026-03-01T12:00:00Z")
def test_same_seed_same_bytes(report_emulator, http):
    name = pathways(report_emulator, http)[0]["ID"]

    def body_without_time():
        response = post(report_emulator, http, {"pathway": name})
        return re.sub(rb'"response_time":[^}]*', b"", response.content)

    first = body_without_time()
    report_emulator.reset(seed=5, now="2026-03-01T12:00:00Z")
    assert pathways(report_emulator, http)[0]["ID"] == name
    assert body_without_time() == first
    report_emulator.reset(seed=6, now="2026-03-01T12:00:00Z")
    assert pathways(report_emulator, http)[0]["ID"] != name


def test_nothing_after_now_and_users_progress_as_time_moves(report_emulator, http):
    name = pathways(report_emulator, http)[0]["ID"]
    at_start = logs_for(report_emulator, http, {"pathway": name})
    report_emulator.set_time(report_emulator.now - timedelta(days=180))
    earlier = logs_for(report_emulator, http, {"pathway": name})
    now = report_emulator.now
    earlier_logs = all_logs(earlier)
    assert all(datetime.fromisoformat(log["status"]["timestamp"]) <= now for log in earlier_logs)
    assert len({log["email"] for log in earlier_logs}) < len({log["email"] for log in all_logs(at_start)})
    completed_then = sum(a["stats"]["completed"] for a in earlier["data"][0]["activities"])
    completed_at_start = sum(a["stats"]["completed"] for a in at_start["data"][0]["activities"])
    assert completed_then < completed_at_start


def test_world_summary_lists_pathways(report_emulator, http):
    summary = report_emulator.world["falkor"]
    assert summary == {"pathways": pathways(report_emulator, http)}
    assert all(list(p) == ["ID", "name"] for p in summary["pathways"])


def test_scenario_world_names_pathways_and_sets_their_count(report_emulator, http):
    use_world(report_emulator, {"falkor": {"pathway_count": 3, "pathways": [
        {"name": "Pathway A", "ID": "EVAA-AAAA-00AA"}, {"name": "Become A Store Owner"}]}})
    found = pathways(report_emulator, http)
    assert len(found) == 3
    assert found[0] == {"ID": "EVAA-AAAA-00AA", "name": "Pathway A"}
    assert found[1]["name"] == "Become A Store Owner" and ID_FORM.match(found[1]["ID"])
    answer = logs_for(report_emulator, http, {"pathway": "EVAA-AAAA-00AA"})
    assert answer["data"][0]["pathway"]["name"] == "Pathway A"


def test_scenario_sets_the_accounts_utc_offset(report_emulator, http):
    report_emulator.load_scenario({"name": "new-york", "falkor": {"utc_offset": "-05:00"}})
    name = pathways(report_emulator, http)[0]["ID"]
    logs = all_logs(logs_for(report_emulator, http, {"pathway": name}))
    assert logs and all(log["status"]["timestamp"].endswith("-05:00") for log in logs)


def test_scenario_rejects_a_malformed_utc_offset(report_emulator, http):
    response = http.put(f"{report_emulator.url}/_emulator/scenario", json={"name": "x", "falkor": {"utc_offset": "2 hours"}})
    assert response.status_code == 400
    assert any("utc_offset" in key for key in response.json()["errors"])


def test_scenario_rate_limit_answers_429_in_the_falkor_envelope(report_emulator, http):
    report_emulator.load_scenario({"name": "tight", "falkor": {"rate_limit": 2}})
    name = pathways(report_emulator, http)[0]["ID"]
    assert [post(report_emulator, http, {"pathway": name}).status_code for _ in range(2)] == [200, 200]
    response = post(report_emulator, http, {"pathway": name})
    assert response.status_code == 429
    assert response.json()["status"] == "error" and "rate_limit" in response.json()["message"]
    assert int(response.headers["Retry-After"]) >= 1
    report_emulator.advance(61)
    assert post(report_emulator, http, {"pathway": name}).status_code == 200
