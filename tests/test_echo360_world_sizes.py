"""Echo360 world sizes from a scenario, through real HTTP: 0 is taken literally (an empty world, as
Strigo, Falkor and ParkUp take it), a world that cannot be made and one past the Echo360 bound are
refused with 400 naming the field, the active scenario kept."""
from __future__ import annotations

import csv
import gzip
import io
from datetime import timedelta

import pytest

from emulator.vendors.echo360.data import MAX_SIZES
from emulator.vendors.echo360.reports import REPORTS

API = "/public/api/v1/reporting"


def put(report_emulator, http, scenario: dict):
    return http.put(f"{report_emulator.url}/_emulator/scenario", json=scenario)


def echo_world(report_emulator, http) -> tuple[dict, dict]:
    body = http.get(f"{report_emulator.url}/_emulator/world", params={"vendor": "echo360"}).json()
    return body["echo360"], body["page"]["totals"]["echo360"]


def every_report(report_emulator, http, days: int = 7) -> dict[str, list[dict]]:
    """Every report over the last `days` days (the all-time asset report as it is), as the vendor's own
    calls give them: a token, submissions three at a time (the in-flight limit), the clock moved past
    their processing, the files downloaded and read."""
    creds = report_emulator.credentials["echo360"]
    token = http.post(f"{report_emulator.url}/oauth2/access_token", params={
        "grant_type": "client_credentials", **creds}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    today = report_emulator.now.date()
    window = {"start": (today - timedelta(days=days)).isoformat(), "end": today.isoformat()}
    tables = {}
    names = list(REPORTS)
    for i in range(0, len(names), 3):
        ids = {}
        for name in names[i:i + 3]:
            answer = http.post(f"{report_emulator.url}{API}/requests/{name}", headers=auth,
                               json={"parameters": {} if name == "asset" else window})
            assert answer.status_code == 200, answer.text
            ids[name] = answer.json()["requestId"]
        report_emulator.advance(120)
        for name, request_id in ids.items():
            detail = http.get(f"{report_emulator.url}{API}/requests/{request_id}", headers=auth).json()
            assert detail["status"] == "Available", detail
            download = http.get(detail["signedAssets"][0])
            assert download.status_code == 200, download.text
            table = list(csv.reader(io.StringIO(gzip.decompress(download.content).decode())))
            assert table[0] == list(REPORTS[name].columns)
            tables[name] = [dict(zip(table[0], row)) for row in table[1:]]
    listed = http.get(f"{report_emulator.url}{API}/requests", headers=auth)
    assert listed.status_code == 200 and len(listed.json()["requests"]) == len(REPORTS)
    return tables


# --- 0 is taken literally ----------------------------------------------------------------------------

def test_no_students_is_a_world_of_lectures_nobody_watched(report_emulator, http):
    assert put(report_emulator, http, {"name": "empty", "world": {"echo360": {"students": 0}}}).status_code == 200
    world, totals = echo_world(report_emulator, http)
    assert totals["courses"] == 12 and totals["media"] == 600 and world["media"]  # the defaults, as before
    tables = every_report(report_emulator, http)
    assert {name: len(rows) for name, rows in tables.items() if name != "asset"} == dict.fromkeys(
        [name for name in REPORTS if name != "asset"], 0)
    # The asset report lists every video captured, none of them viewed or downloaded.
    assert len(tables["asset"]) > 50
    assert {(int(r["view_count"]), int(r["downloads"]), float(r["view_duration_in_minutes"]))
            for r in tables["asset"]} == {(0, 0, 0.0)}


@pytest.mark.parametrize("section", [{"media": 0}, {"media": 0, "courses": 0}, {"media": 0, "courses": 0, "students": 0}])
def test_no_media_is_a_world_with_nothing_to_report(report_emulator, http, section):
    assert put(report_emulator, http, {"name": "empty", "world": {"echo360": section}}).status_code == 200
    world, totals = echo_world(report_emulator, http)
    assert world["media"] == [] and totals["media"] == 0
    assert totals["courses"] == section.get("courses", 12) == len(world["courses"])
    assert world["reports"] == list(REPORTS)  # the catalogue is the vendor's, whatever the world
    tables = every_report(report_emulator, http)
    assert {name: len(rows) for name, rows in tables.items()} == dict.fromkeys(REPORTS, 0)


def test_a_small_world_is_taken_as_given(report_emulator, http):
    """1 of each (the least a world made sense with before 0 was taken) still makes a world with views."""
    answer = put(report_emulator, http, {"name": "tiny", "world": {"echo360": {"students": 1, "media": 20, "courses": 1}}})
    assert answer.status_code == 200, answer.text
    world, totals = echo_world(report_emulator, http)
    assert totals == {"reports": len(REPORTS), "courses": 1, "media": 20}
    tables = every_report(report_emulator, http, days=1)
    assert len({r["userid"] for r in tables["videoview"]}) <= 1


# --- refused whole, naming the field -------------------------------------------------------------

REFUSED = [
    ({"echo360": {"courses": 0}}, "world.echo360.courses", "0 courses cannot hold 600 media"),
    ({"scale": 3, "echo360": {"courses": 0}}, "world.echo360.courses", "0 courses cannot hold 1,800 media"),
    ({"echo360": {"courses": 0, "media": 1}}, "world.echo360.courses", "0 courses cannot hold 1 media"),
    ({"echo360": {"students": MAX_SIZES["students"] + 1}}, "world.echo360.students", "asks for 300,001 students"),
    ({"echo360": {"students": 1_000_000}}, "world.echo360.students", "asks for 1,000,000 students at scale 1"),
    ({"scale": 1000, "echo360": {"media": 1_000_000}}, "world.echo360.media", "asks for 1,000,000 media at scale 1000"),
    ({"echo360": {"courses": 12_001}}, "world.echo360.courses", "asks for 12,001 courses"),
]


@pytest.mark.parametrize("world, field, words", REFUSED)
def test_a_world_echo360_cannot_make_or_past_its_bound_is_refused_naming_the_field(report_emulator, http, world,
                                                                                    field, words):
    assert put(report_emulator, http, {"name": "kept", "world": {"echo360": {"students": 30}}}).status_code == 200
    before = echo_world(report_emulator, http)
    answer = put(report_emulator, http, {"name": "refused", "world": world})
    assert answer.status_code == 400, answer.text
    assert list(answer.json()["errors"]) == [field]
    assert words in answer.json()["errors"][field][0] and field in answer.json()["error"]
    # Nothing changed: the scenario and its world are the ones before.
    assert http.get(f"{report_emulator.url}/_emulator/scenario").json()["scenario"]["name"] == "kept"
    assert echo_world(report_emulator, http) == before


def test_every_size_at_its_bound_is_taken(report_emulator, http):
    """The bound is what --scale 1000 makes by default: asking for it is fine, at any scale."""
    assert MAX_SIZES == {"students": 300_000, "media": 600_000, "courses": 12_000}
    for scale in (1, 1000):
        answer = put(report_emulator, http, {"name": "edge", "world": {"scale": scale, "echo360": MAX_SIZES}})
        assert answer.status_code == 200, answer.text
    _, totals = echo_world(report_emulator, http)
    assert totals["courses"] == 12_000 and totals["media"] == 600_000


def test_the_defaults_at_the_largest_scale_are_taken(report_emulator, http):
    answer = put(report_emulator, http, {"name": "largest", "world": {"scale": 1000}})
    assert answer.status_code == 200, answer.text
    _, totals = echo_world(report_emulator, http)
    assert totals["courses"] == 12_000 and totals["media"] == 600_000


def test_the_fixture_refuses_a_world_echo360_cannot_make_with_a_scenario_error(report_emulator):
    from emulator.core.scenarios import ScenarioError

    with pytest.raises(ScenarioError) as caught:
        report_emulator.load_scenario({"world": {"echo360": {"courses": 0}}})
    assert list(caught.value.errors) == ["world.echo360.courses"]
    assert "cannot be made" in str(caught.value)
