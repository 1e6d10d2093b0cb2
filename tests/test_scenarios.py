"""Scenario files through the admin API and the fixture: validation, loading, clearing, knobs, world, clock."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from emulator.__main__ import main
from emulator.core.scenarios import ScenarioError
from emulator.settings import Settings

PARKUP = "/api/v3/business/report/event/user"

VALID = {
    "name": "valid",
    "rules": [{"match": {"method": "POST", "path": PARKUP}, "respond": {"status": 500, "json": {"error": "Internal server error"}}}],
}


def put(report_emulator, http, body, content_type="application/json"):
    data = json.dumps(body) if not isinstance(body, str) else body
    return http.put(f"{report_emulator.url}/_emulator/scenario", data=data.encode(), headers={"Content-Type": content_type})


def active(report_emulator, http) -> dict:
    return http.get(f"{report_emulator.url}/_emulator/scenario").json()


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario, path, words",
    [
        ({"rules": [{"respond": {"status": "x"}}]}, "rules[0].respond.status", "integer"),
        ({"rules": [{"respond": {"status": 99}}]}, "rules[0].respond.status", "100"),
        ({"rules": [{"match": {"path_regex": "(unclosed"}, "respond": {}}]}, "rules[0].match.path_regex", "regular expression"),
        ({"rules": [{"fault": "meteor_strike"}]}, "rules[0].fault", "connection_reset"),
        ({"rules": [{"match": {"method": "FETCH"}, "delay_ms": 1}]}, "rules[0].match.method", "GET"),
        ({"rules": [{"match": {}, "respnd": {}}]}, "rules[0].respnd", "Unknown"),
        ({"rules": [{"match": {"path": "/x"}}]}, "rules[0]", "respond, fault or delay_ms"),
        ({"rules": [{"respond": {"status": 200}, "fault": "empty_response"}]}, "rules[0].fault", "not both"),
        ({"rules": [{"respond": {"json": {}, "body": "x"}}]}, "rules[0].respond.body", "not both"),
        ({"rules": [{"delay_ms": 3_600_000}]}, "rules[0].delay_ms", "60000"),
        ({"rules": [{"times": 0, "delay_ms": 1}]}, "rules[0].times", "1"),
        ({"rules": [{"after": -1, "delay_ms": 1}]}, "rules[0].after", "0"),
        ({"rules": "all of them"}, "rules", "list"),
        ({"seed": "seven"}, "seed", "integer"),
        ({"clock": {"now": "tomorrow"}}, "clock.now", "ISO 8601"),
        ({"clock": {"mode": "slow"}}, "clock.mode", "real"),
        ({"echo360": {"outcomes": ["Available", "Done"]}}, "echo360.outcomes[1]", "Missing"),
        ({"echo360": {"processing_seconds": -1}}, "echo360.processing_seconds", "0"),
        ({"strigo": {"rate_limit": 2.5}}, "strigo.rate_limit", "integer"),
        ({"strigo": {"rate_limits": 5}}, "strigo.rate_limits", "Unknown"),
        ({"latency": {"falkor": {"min_ms": 50, "max_ms": 10}}}, "latency.falkor.max_ms", "min_ms"),
        ({"latency": {"github": {"min_ms": 1}}}, "latency.github", "Unknown"),
        ({"world": {"strigo": {"events": [{"id": "e1"}]}}}, "world.strigo.events[0].name", "required"),
        ({"world": {"strigo": {"events": [{"id": "e1", "name": "A"}, {"id": "e1", "name": "B"}]}}}, "world.strigo.events", "duplicate"),
        ({"world": {"parkup": {"users": [{"refId": "CB1", "customerId": "abc"}]}}}, "world.parkup.users[0].customerId", "integer"),
        ({"world": {"echo360": {"students": -5}}}, "world.echo360.students", "0"),
        ({"credentials": {"strigo": {"api_key": ["a"]}}}, "credentials.strigo.api_key", "string"),
        ({"weather": "rain"}, "weather", "Unknown"),
    ],
)
def test_bad_scenario_is_refused_naming_the_field(report_emulator, http, scenario, path, words):
    response = put(report_emulator, http, scenario)
    assert response.status_code == 400
    body = response.json()
    assert path in body["errors"], body
    assert words.lower() in " ".join(body["errors"][path]).lower()
    assert path in body["error"]


def test_every_wrong_field_is_named_at_once(report_emulator, http):
    response = put(report_emulator, http, {"seed": "x", "rules": [{"respond": {"status": "x"}}, {"fault": "nope"}]})
    assert set(response.json()["errors"]) == {"seed", "rules[0].respond.status", "rules[1].fault"}


def test_yaml_syntax_error_names_the_line(report_emulator, http):
    text = "name: broken\nrules:\n  - match: {path: /x\n    respond: {status: 500}\n"
    response = put(report_emulator, http, text, "application/yaml")
    assert response.status_code == 400
    assert "line 4" in response.json()["error"]


def test_json_syntax_error_names_the_line(report_emulator, http):
    response = put(report_emulator, http, '{"name": "x",\n "rules": [}', "application/json")
    assert response.status_code == 400
    assert "line 2" in response.json()["error"]


def test_a_scenario_that_is_not_a_mapping_is_refused(report_emulator, http):
    response = put(report_emulator, http, "- just\n- a list\n", "application/yaml")
    assert response.status_code == 400
    assert "mapping" in response.json()["error"]


def test_a_refused_scenario_leaves_the_active_one_untouched(report_emulator, http):
    assert put(report_emulator, http, VALID).status_code == 200
    http.post(f"{report_emulator.url}{PARKUP}", json={})
    before = active(report_emulator, http)
    bad = {"seed": 99, "world": {"echo360": {"students": 10}}, "rules": [{"fault": "nope"}]}
    assert put(report_emulator, http, bad).status_code == 400
    assert active(report_emulator, http) == before
    assert before["rules"][0]["matched"] == 1
    assert report_emulator.emulator.world.seed == 1 and report_emulator.emulator.world.overrides == {}
    assert http.post(f"{report_emulator.url}{PARKUP}", json={}).status_code == 500


def test_fixture_load_scenario_raises_naming_fields_and_keeps_the_active_one(report_emulator):
    report_emulator.load_scenario(VALID)
    with pytest.raises(ScenarioError) as info:
        report_emulator.load_scenario({"rules": [{"respond": {"status": "x"}}]})
    assert "rules[0].respond.status" in info.value.errors
    assert report_emulator.emulator.scenario["name"] == "valid"


# --- loading, reading back, clearing ---------------------------------------------------------------


def test_yaml_body_loads_and_reads_back_with_counters(report_emulator, http):
    text = """
name: from-yaml
rules:
  - name: outage
    match: {method: post, path: /api/v3/business/report/event/user}
    respond: {status: 500, json: {error: Internal server error}}
  - match: {path_regex: "^/v1/"}
    delay_ms: 5
"""
    response = put(report_emulator, http, text, "application/yaml")
    assert response.status_code == 200
    http.post(f"{report_emulator.url}{PARKUP}", json={})
    body = active(report_emulator, http)
    assert body["scenario"]["name"] == "from-yaml"
    assert body["scenario"]["rules"][0]["match"]["method"] == "POST"
    assert body["rules"] == [
        {"index": 0, "name": "outage", "kind": "respond", "matched": 1, "answered": 1},
        {"index": 1, "name": "rules[1]", "kind": "delay", "matched": 0, "answered": 0},
    ]


def test_no_scenario_reads_back_as_null(report_emulator, http):
    assert active(report_emulator, http) == {"scenario": None, "rules": []}


def test_put_replaces_and_resets_counters(report_emulator, http):
    put(report_emulator, http, VALID)
    http.post(f"{report_emulator.url}{PARKUP}", json={})
    put(report_emulator, http, VALID)
    assert active(report_emulator, http)["rules"][0]["matched"] == 0


def test_delete_and_reset_clear_the_scenario(report_emulator, http):
    for clear in (lambda: http.delete(f"{report_emulator.url}/_emulator/scenario"),
                  lambda: http.post(f"{report_emulator.url}/_emulator/reset")):
        put(report_emulator, http, {**VALID, "strigo": {"rate_limit": 3}})
        assert http.post(f"{report_emulator.url}{PARKUP}", json={}).status_code == 500
        assert clear().status_code == 200
        assert active(report_emulator, http) == {"scenario": None, "rules": []}
        assert report_emulator.emulator.knobs("strigo") == {}
        assert http.post(f"{report_emulator.url}{PARKUP}", json={}).status_code != 500


def test_load_scenario_from_a_file_and_from_several(report_emulator, tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text("name: first\nstrigo: {rate_limit: 5}\nrules:\n  - {match: {path: /a}, respond: {status: 401}}\n")
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"name": "second", "echo360": {"outcomes": ["Failed"]},
                                  "rules": [{"match": {"path": "/b"}, "respond": {"status": 402}}]}))
    assert report_emulator.load_scenario(str(first))["name"] == "first"
    merged = report_emulator.load_scenario([first, second])
    assert [r["respond"]["status"] for r in merged["rules"]] == [401, 402]  # later files add rules after
    assert merged["name"] == "second"
    assert report_emulator.emulator.knobs("strigo") == {"rate_limit": 5}
    assert report_emulator.emulator.knobs("echo360") == {"outcomes": ["Failed"]}


@pytest.mark.report_emulator(scenario=VALID)
def test_marker_scenario(report_emulator, http):
    assert http.post(f"{report_emulator.url}{PARKUP}", json={}).status_code == 500
    assert report_emulator.scenario["scenario"]["name"] == "valid"


# --- knobs, credentials, world, seed, clock ------------------------------------------------------


def test_vendor_knobs_are_exposed(report_emulator, http):
    knobs = {
        "strigo": {"rate_limit": 5},
        "echo360": {"processing_seconds": 3600, "outcomes": ["Failed", "Missing", "Available"], "rate_limit": 10},
        "falkor": {"rate_limit": 2},
        "parkup": {"rate_limit": 0},
    }
    assert put(report_emulator, http, knobs).status_code == 200
    for vendor, section in knobs.items():
        assert report_emulator.emulator.knobs(vendor) == section


def test_credentials_override(report_emulator, http):
    put(report_emulator, http, {"credentials": {"strigo": {"api_key": "scenario-key"}, "parkup": {"token": "t0k"}}})
    creds = http.get(f"{report_emulator.url}/_emulator/credentials").json()
    assert creds["strigo"]["api_key"] == "scenario-key"
    assert creds["parkup"]["token"] == "t0k"
    http.delete(f"{report_emulator.url}/_emulator/scenario")
    assert http.get(f"{report_emulator.url}/_emulator/credentials").json()["strigo"]["api_key"] != "scenario-key"


def test_world_and_seed_rebuild_the_world_and_clear_vendor_state(report_emulator, http):
    cleared = []
    model = report_emulator.emulator.vendors["parkup"]
    original_reset = model.reset
    model.reset = lambda: (cleared.append(True), original_reset())  # observe the clearing
    try:
        world = {
            "scale": 2,
            "strigo": {"event_count": 3, "events": [{"id": "evt-checkout", "name": "Checkout lab"}]},
            "echo360": {"students": 10, "media": 5, "courses": 2},
            "falkor": {"pathway_count": 1, "pathways": [{"name": "Pathway A", "ID": 77}]},
            "parkup": {"customer_count": 1, "users_per_customer": 2, "users": [{"refId": "CB6150", "customerId": 2847}]},
        }
        assert put(report_emulator, http, {"seed": 7, "world": world}).status_code == 200
        current = report_emulator.emulator.world
        assert (current.seed, current.scale) == (7, 2)
        assert current.overrides["strigo"]["events"] == [{"id": "evt-checkout", "name": "Checkout lab"}]
        assert current.overrides["parkup"]["users"] == [{"refId": "CB6150", "customerId": 2847}]
        assert "scale" not in current.overrides
        assert cleared
        cleared.clear()
        put(report_emulator, http, {"rules": [{"delay_ms": 1}], "seed": 7, "world": world})  # same world: kept
        assert report_emulator.emulator.world is current and not cleared
        http.delete(f"{report_emulator.url}/_emulator/scenario")
        assert (report_emulator.emulator.world.seed, report_emulator.emulator.world.overrides) == (1, {})
        assert cleared
    finally:
        model.reset = original_reset


def test_a_rules_only_scenario_keeps_the_world_of_the_last_reset(report_emulator, http):
    report_emulator.reset(seed=5)
    world = report_emulator.emulator.world
    put(report_emulator, http, VALID)
    assert report_emulator.emulator.world is world


def test_clock_section_sets_the_start_and_the_world_anchor(report_emulator, http):
    start = http.get(f"{report_emulator.url}/_emulator/clock").json()
    put(report_emulator, http, {"clock": {"mode": "manual", "now": "2026-01-15T00:00:00Z"}})
    assert http.get(f"{report_emulator.url}/_emulator/clock").json() == {"now": "2026-01-15T00:00:00Z", "mode": "manual"}
    assert report_emulator.emulator.world.anchor == datetime(2026, 1, 15, tzinfo=timezone.utc)
    http.post(f"{report_emulator.url}/_emulator/reset")
    assert http.get(f"{report_emulator.url}/_emulator/clock").json() == start


def test_clock_mode_switch_and_reset_restores_it(report_emulator, http):
    put(report_emulator, http, {"clock": {"mode": "real"}})
    assert http.get(f"{report_emulator.url}/_emulator/clock").json()["mode"] == "real"
    http.post(f"{report_emulator.url}/_emulator/reset")
    assert http.get(f"{report_emulator.url}/_emulator/clock").json()["mode"] == "manual"


def test_unquoted_yaml_timestamp_is_accepted(report_emulator, http):
    response = put(report_emulator, http, "clock: {now: 2026-02-01T12:00:00Z}\n", "application/yaml")
    assert response.status_code == 200
    assert http.get(f"{report_emulator.url}/_emulator/clock").json()["now"] == "2026-02-01T12:00:00Z"


def test_strict_flag_is_accepted(report_emulator, http):
    assert put(report_emulator, http, {"strict": True}).status_code == 200
    assert report_emulator.emulator.strict is True


# --- start-up: --scenario, EMULATOR_SCENARIO -----------------------------------------------------


def test_cli_refuses_a_bad_file_before_start_up_naming_each_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - respond: {status: abc}\n    fault: meteor\nbogus: 1\n")
    assert main(["serve", "--port", "0", "--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    for path in ("rules[0].respond.status", "rules[0].fault", "bogus"):
        assert path in err
    assert str(bad) in err


def test_cli_names_a_yaml_syntax_error_line_and_a_missing_file(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nrules: [\n")
    assert main(["serve", "--scenario", str(broken), "--scenario", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "missing.yaml" in err


def test_start_up_scenarios_from_the_environment_are_merged_in_order(tmp_path):
    from emulator.app import create_app

    first = tmp_path / "a.yaml"
    first.write_text("rules:\n  - {name: a, match: {path: /a}, respond: {status: 401}}\n")
    second = tmp_path / "b.yaml"
    second.write_text("rules:\n  - {name: b, match: {path: /b}, respond: {status: 402}}\nstrigo: {rate_limit: 9}\n")
    settings = Settings.from_env({"EMULATOR_SCENARIO": f"{first}:{second}"}, port=0)
    emulator = create_app(settings).extensions["emulator"]
    assert [r["name"] for r in emulator.scenario_status()["rules"]] == ["a", "b"]
    assert emulator.knobs("strigo") == {"rate_limit": 9}


def test_readme_scenario_examples_are_valid():
    """Every YAML example on the Scenarios page (docs/scenarios.md) validates (so the documentation works)."""
    import re
    from pathlib import Path

    import emulator.app  # noqa: F401  (each vendor registers its own knobs and world settings)
    from emulator.core.scenarios import parse_text, validate_scenario

    section = (Path(__file__).resolve().parent.parent / "docs" / "scenarios.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) >= 6  # respond, sequences, faults, delay, latency, knobs and world
    for block in blocks:
        validate_scenario(parse_text(block))
