"""The pytest plugin as a client project uses it: installed, not imported by the test file."""
from __future__ import annotations


def test_fixture_in_a_client_project(pytester):
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
            assert report_emulator.emulator.world.seed == 7
        """
    )
    result = pytester.runpytest_inprocess("-q")
    result.assert_outcomes(passed=3)


def test_marker_is_registered(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["*report_emulator(seed=None, now=None, scenario=None)*"])


def test_server_is_shared_across_tests(pytester):
    pytester.makepyfile(
        """
        seen = []

        def test_a(report_emulator):
            seen.append(report_emulator.url)

        def test_b(report_emulator):
            seen.append(report_emulator.url)
            assert seen[0] == seen[1]
        """
    )
    pytester.runpytest_inprocess("-q").assert_outcomes(passed=2)
