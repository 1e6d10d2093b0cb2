"""The pytest plugin as a client project uses it: installed, not imported by the test file.

The tests that take `run` run twice: with the fixture's own server in-process, and against a shared
`serve` process (REPORT_EMULATOR_URL) in a pytest session of its own with `-n 2`, where each xdist
worker takes a tenant of its own and removes it at the end.
"""
from __future__ import annotations

import pytest
import requests
from servers import EmulatorProcess


@pytest.fixture(scope="module")
def shared_server():
    server = EmulatorProcess("--clock", "real")  # the fixture makes its tenants' clocks manual
    yield server.url
    server.stop()


@pytest.fixture(params=["in-process", "shared"])
def run(request, pytester, monkeypatch):
    """Run pytester's project: in-process, or against the shared server with `-n 2` (then every tenant
    the session took is gone afterwards)."""
    if request.param == "in-process":
        return pytester.runpytest_inprocess
    url = request.getfixturevalue("shared_server")
    monkeypatch.setenv("REPORT_EMULATOR_URL", url)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # this suite's own, when it runs under xdist

    def shared(*args):
        result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", *args)
        assert [t["tenant"] for t in requests.get(f"{url}/_emulator/tenants").json()["tenants"]] == ["default"]
        return result

    return shared


def test_fixture_in_a_client_project(pytester, run):
    pytester.makepyfile(
        """
        import pytest, requests

        def test_first(report_emulator):
            assert requests.get(report_emulator.url + "/_emulator/health").json() == {"status": "ok"}
            assert set(report_emulator.credentials) == {"strigo", "echo360", "falkor", "parkup"}
            report_emulator.advance(3600)
            requests.get(report_emulator.url + "/api/v3/nothing")
            assert [e["path"] for e in report_emulator.journal()] == ["/api/v3/nothing"]

        def test_second_is_reset(report_emulator):
            # the clock and the journal were reset between tests
            assert report_emulator.journal() == []
            clock = requests.get(report_emulator.url + "/_emulator/clock").json()
            assert clock["mode"] == "manual"
            assert report_emulator.now.microsecond == 0

        @pytest.mark.report_emulator(seed=7, now="2026-01-15T00:00:00Z")
        def test_marker(report_emulator):
            assert requests.get(report_emulator.url + "/_emulator/clock").json()["now"] == "2026-01-15T00:00:00Z"
            assert report_emulator.snapshot()["state"]["values"]["world"]["seed"] == 7
        """
    )
    result = run("-q")
    result.assert_outcomes(passed=3)


def test_marker_is_registered(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["*report_emulator(seed=None, now=None, scenario=None, strict=None)*"])


def test_server_is_shared_across_tests(pytester, run):
    """Holds in any order (pytest-randomly shuffles tests): whichever runs second compares."""
    pytester.makepyfile(
        """
        seen = []

        def test_a(report_emulator):
            seen.append(report_emulator.url)
            assert len(set(seen)) == 1

        def test_b(report_emulator):
            seen.append(report_emulator.url)
            assert len(set(seen)) == 1
        """
    )
    run("-q").assert_outcomes(passed=2)


def test_unknown_marker_arguments_fail_the_test_listing_the_valid_ones(pytester, run):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.report_emulator(sede=7)
        def test_misspelt(report_emulator):
            pass

        @pytest.mark.report_emulator(7)
        def test_positional(report_emulator):
            pass
        """
    )
    result = run("-q")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*unknown argument sede; valid: now, scenario, seed, strict*"])
    result.stdout.fnmatch_lines(["*keyword arguments only (now, scenario, seed, strict)*"])


def test_strict_marker_turns_strict_mode_on_and_wins_over_the_scenario(pytester, run):
    pytester.makepyfile(
        """
        import pytest, requests

        def health(report_emulator):
            return requests.get(report_emulator.url + "/api/v1/health", params={"colour": "red"})

        @pytest.mark.report_emulator(strict=True)
        def test_strict(report_emulator):
            assert health(report_emulator).status_code == 422
            assert requests.get(report_emulator.url + "/_emulator/violations").json()["strict"] is True

        @pytest.mark.report_emulator(scenario={"strict": True}, strict=False)
        def test_lenient_over_a_strict_scenario(report_emulator):
            assert health(report_emulator).status_code == 200

        def test_default_is_lenient(report_emulator):
            assert health(report_emulator).status_code == 200
        """
    )
    run("-q").assert_outcomes(passed=3)


def test_marker_loads_a_shipped_scenario_by_name(pytester, run):
    pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.report_emulator(scenario="parkup-outage")
        def test_outage(report_emulator):
            answer = requests.post(report_emulator.url + "/api/v3/business/report/event/user", json={})
            assert answer.status_code == 500 and answer.json() == {"error": "Internal server error"}
        """
    )
    run("-q").assert_outcomes(passed=1)


def test_assert_called_understands_a_query_string(report_emulator, http):
    http.get(f"{report_emulator.url}/api/v1/health?x=1&y=2")
    [entry] = report_emulator.assert_called("GET", "/api/v1/health?x=1")
    assert entry["query"] == "x=1&y=2"
    report_emulator.assert_called("GET", "/api/v1/health?x=1&y=2", times=1)
    report_emulator.assert_called("GET", "/api/v1/health", times=1)
    with pytest.raises(AssertionError) as info:
        report_emulator.assert_called("GET", "/api/v1/health?x=2")
    assert "GET /api/v1/health?x=1&y=2 -> 200" in str(info.value)  # the near miss: other parameters


def test_ini_options_set_the_session_seed_and_start_time(pytester, run):
    pytester.makeini("[pytest]\nreport_emulator_seed = 7\nreport_emulator_now = 2026-01-15T00:00:00Z\n")
    pytester.makepyfile(
        """
        import requests

        def test_defaults(report_emulator):
            assert report_emulator.snapshot()["state"]["values"]["world"]["seed"] == 7
            report_emulator.advance(60)
            report_emulator.reset()
            assert requests.get(report_emulator.url + "/_emulator/clock").json()["now"] == "2026-01-15T00:00:00Z"
        """
    )
    run("-q").assert_outcomes(passed=1)


def test_a_bad_ini_option_stops_the_session_naming_it(pytester, run):
    pytester.makeini("[pytest]\nreport_emulator_now = last tuesday\n")
    pytester.makepyfile("def test_uses(report_emulator):\n    pass\n")
    result = run("-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*report_emulator_now must be an ISO 8601 timestamp, not 'last tuesday'*"])


def test_fixture_has_a_docstring_shown_by_pytest_fixtures(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--fixtures")
    text = result.stdout.str()
    assert "report_emulator -- " in text
    block = text[text.index("report_emulator -- "):]
    assert "no docstring available" not in block.splitlines()[1]
    assert "A running report-emulator" in block


def test_repr_names_the_url_seed_clock_and_scenario(report_emulator):
    report_emulator.load_scenario("parkup-outage")
    text = repr(report_emulator)
    assert text.startswith(f"<ReportEmulator {report_emulator.url} seed=1 manual clock at ")
    assert "scenario='parkup-outage'" in text and "journal=0 calls" in text


def test_a_failing_assert_called_shows_the_near_misses_not_the_helpers_source(pytester, run):
    pytester.makepyfile(
        """
        import requests

        def test_wrong_method(report_emulator):
            requests.post(f"{report_emulator.url}/api/v1/health")
            report_emulator.assert_called("GET", "/api/v1/health")

        def test_violations(report_emulator):
            requests.get(f"{report_emulator.url}/api/v1/health", params={"colour": "red"})
            report_emulator.assert_no_violations()
        """
    )
    result = run("-p", "no:randomly")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "near misses:" in text and "POST /api/v1/health -> 405" in text
    assert "1 contract violation:" in text
    # the helpers' own lines are hidden: none of their source appears in the tracebacks
    assert "entry_matches(match, e)" not in text and "near_misses(match, entries)" not in text
    assert "lines.append(" not in text
    assert len(text.splitlines()) < 60, text
