"""The /_emulator admin API through a real socket."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest


def test_health(report_emulator, http):
    response = http.get(f"{report_emulator.url}/_emulator/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_clock_is_manual_and_cut_to_the_second(report_emulator, http):
    body = http.get(f"{report_emulator.url}/_emulator/clock").json()
    assert body["mode"] == "manual"
    assert body["now"].endswith("Z")
    datetime.fromisoformat(body["now"].replace("Z", "+00:00"))


def test_clock_set_advance_and_reset(report_emulator, http):
    url = report_emulator.url
    start = http.get(f"{url}/_emulator/clock").json()["now"]
    body = http.post(f"{url}/_emulator/clock", json={"now": "2026-01-15T00:00:00Z"}).json()
    assert body == {"now": "2026-01-15T00:00:00Z", "mode": "manual"}
    body = http.post(f"{url}/_emulator/clock/advance", json={"seconds": 90}).json()
    assert body["now"] == "2026-01-15T00:01:30Z"
    http.post(f"{url}/_emulator/reset")
    assert http.get(f"{url}/_emulator/clock").json()["now"] == start


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/_emulator/clock", {"now": "yesterday"}, "now"),
        ("/_emulator/clock", {}, "now"),
        ("/_emulator/clock/advance", {"seconds": "ten"}, "seconds"),
        ("/_emulator/clock/advance", {"seconds": -5}, "seconds"),
        ("/_emulator/reset", {"seed": "x"}, "seed"),
    ],
)
def test_bad_admin_input_names_the_field_and_changes_nothing(report_emulator, http, path, body, field):
    before = http.get(f"{report_emulator.url}/_emulator/clock").json()
    response = http.post(f"{report_emulator.url}{path}", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert field in payload["errors"]
    assert field in payload["error"]
    assert http.get(f"{report_emulator.url}/_emulator/clock").json() == before


def test_malformed_json_body_is_a_400(report_emulator, http):
    response = http.post(f"{report_emulator.url}/_emulator/clock", data="{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_unknown_admin_path_is_json(report_emulator, http):
    response = http.get(f"{report_emulator.url}/_emulator/nothing-here")
    assert response.status_code == 404
    assert "error" in response.json()


def test_credentials_have_every_vendor(report_emulator, http):
    body = http.get(f"{report_emulator.url}/_emulator/credentials").json()
    assert set(body["strigo"]) == {"org_id", "api_key"}
    assert set(body["echo360"]) == {"client_id", "client_secret"}
    assert set(body["falkor"]) == {"token"}
    assert set(body["parkup"]) == {"token", "refresh_token"}
    assert body == report_emulator.credentials


def test_journal_records_vendor_calls_only(report_emulator, http):
    url = report_emulator.url
    http.get(f"{url}/_emulator/health")
    http.get(f"{url}/api/v1/no-such-report?x=1")
    entries = http.get(f"{url}/_emulator/journal").json()["requests"]
    assert [(e["method"], e["path"], e["query"], e["status"], e["vendor"]) for e in entries] == [
        ("GET", "/api/v1/no-such-report", "x=1", 404, "strigo")
    ]
    assert entries[0]["at"] == http.get(f"{url}/_emulator/clock").json()["now"]
    assert report_emulator.journal() == entries
    assert http.get(f"{url}/_emulator/journal?vendor=echo360").json() == {"requests": []}
    http.delete(f"{url}/_emulator/journal")
    assert http.get(f"{url}/_emulator/journal").json() == {"requests": []}


def test_journal_is_bounded_in_entries_and_bytes():
    from emulator.core.journal import Journal
    from emulator.core.store.memory import MemoryStore

    journal = Journal(MemoryStore(), cap=3)
    for i in range(5):
        journal.record({"method": "GET", "path": f"/{i}", "vendor": "strigo"})
    assert [e["path"] for e in journal.entries()] == ["/2", "/3", "/4"]
    journal = Journal(MemoryStore(), cap=100, max_bytes=1000)
    for i in range(20):
        journal.record({"method": "GET", "path": f"/{i}", "body": "x" * 200})
    kept = journal.entries()
    assert [e["path"] for e in kept] == [f"/{i}" for i in range(20 - len(kept), 20)] and 2 <= len(kept) <= 4


def test_reset_with_seed_then_without_returns_to_start_seed(report_emulator, http):
    url = report_emulator.url
    assert http.post(f"{url}/_emulator/reset", json={"seed": 42}).json()["seed"] == 42
    assert report_emulator.emulator.world.seed == 42
    assert http.post(f"{url}/_emulator/reset").json()["seed"] == 1


def test_fixture_levers(report_emulator):
    start = report_emulator.now
    report_emulator.advance(60)
    assert report_emulator.now == start + timedelta(seconds=60)
    report_emulator.set_time("2026-03-01T12:00:00Z")
    assert report_emulator.now.isoformat() == "2026-03-01T12:00:00+00:00"


@pytest.mark.report_emulator(seed=9, now="2026-02-02T02:02:02Z")
def test_marker_sets_seed_and_time(report_emulator):
    assert report_emulator.emulator.world.seed == 9
    assert report_emulator.now.isoformat() == "2026-02-02T02:02:02+00:00"


# --- issue 16, section 6 -----------------------------------------------------------------------


def test_an_empty_scenario_put_is_a_400_and_keeps_the_scenario(report_emulator, http):
    url = report_emulator.url
    report_emulator.load_scenario({"name": "kept", "rules": [{"match": {"path": "/v1/x"}, "respond": {"status": 418}}]})
    for body, mimetype in ((b"", "application/yaml"), (b"  \n", "application/yaml"), (b"", "application/json"),
                           (b"---\n", "application/yaml"), (b"# nothing\n", "application/yaml"),
                           (b"null", "application/json")):
        answer = http.put(f"{url}/_emulator/scenario", data=body, headers={"Content-Type": mimetype})
        assert answer.status_code == 400
        assert answer.json()["errors"] == {"_body": ["empty: a scenario is required"]}
        assert "DELETE /_emulator/scenario" in answer.json()["error"]
    assert http.get(f"{url}/_emulator/scenario").json()["scenario"]["name"] == "kept"
    assert http.delete(f"{url}/_emulator/scenario").json()["scenario"] is None  # the documented way


def test_a_scenario_put_that_is_not_utf8_is_a_400_naming_the_encoding(report_emulator, http):
    answer = http.put(f"{report_emulator.url}/_emulator/scenario", data="name: café\n".encode("latin-1"),
                      headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 400
    assert answer.json()["errors"]["_body"] == ["not UTF-8 text (byte 0xe9 at offset 9); scenarios are UTF-8"]
    assert report_emulator.scenario["scenario"] is None


def test_the_fixture_refuses_a_scenario_file_that_is_not_utf8_with_a_scenario_error(report_emulator, tmp_path):
    from emulator.core.scenarios import ScenarioError

    latin1 = tmp_path / "cafe.yaml"
    latin1.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as caught:
        report_emulator.load_scenario(latin1)
    assert str(latin1) in caught.value.message and "not UTF-8 text (byte 0xe9 at offset 9)" in caught.value.message
    assert caught.value.errors == {"_file": ["not UTF-8 text (byte 0xe9 at offset 9); scenarios are UTF-8"]}


def test_the_clock_mode_changes_through_the_admin_api(report_emulator, http):
    url = report_emulator.url
    http.post(f"{url}/_emulator/clock", json={"now": "2026-01-15T00:00:00Z"})
    # manual -> real keeps the time, and then the time moves with the wall clock.
    assert http.post(f"{url}/_emulator/clock", json={"mode": "real"}).json()["mode"] == "real"
    now = datetime.fromisoformat(http.get(f"{url}/_emulator/clock").json()["now"].replace("Z", "+00:00"))
    start = datetime.fromisoformat("2026-01-15T00:00:00+00:00")
    assert start <= now < start + timedelta(minutes=5)
    # real -> manual with a time, in one call; it then stands still.
    body = http.post(f"{url}/_emulator/clock", json={"mode": "manual", "now": "2026-02-01T12:00:00Z"}).json()
    assert body == {"now": "2026-02-01T12:00:00Z", "mode": "manual"}
    assert http.get(f"{url}/_emulator/clock").json() == body
    # real with a time: the clock runs from that time.
    body = http.post(f"{url}/_emulator/clock", json={"mode": "real", "now": "2026-03-01T00:00:00Z"}).json()
    assert body["mode"] == "real" and body["now"].startswith("2026-03-01T00:0")
    # manual alone keeps the time it had.
    body = http.post(f"{url}/_emulator/clock", json={"mode": "manual"}).json()
    assert body["mode"] == "manual" and body["now"].startswith("2026-03-01T00:0")
    # A reset returns the clock to its start mode.
    http.post(f"{url}/_emulator/reset")
    assert http.get(f"{url}/_emulator/clock").json()["mode"] == "manual"
    http.post(f"{url}/_emulator/clock", json={"mode": "real"})
    http.post(f"{url}/_emulator/reset")
    assert http.get(f"{url}/_emulator/clock").json()["mode"] == "manual"


@pytest.mark.parametrize("body, field", [({"mode": "fast"}, "mode"), ({"mode": "real", "now": "later"}, "now"),
                                         ({"mode": 1}, "mode")])
def test_a_bad_clock_mode_is_refused_and_changes_nothing(report_emulator, http, body, field):
    before = http.get(f"{report_emulator.url}/_emulator/clock").json()
    answer = http.post(f"{report_emulator.url}/_emulator/clock", json=body)
    assert answer.status_code == 400 and field in answer.json()["errors"]
    assert http.get(f"{report_emulator.url}/_emulator/clock").json() == before
