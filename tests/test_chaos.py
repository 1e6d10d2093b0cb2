"""Seeded chaos through real HTTP, one process and `--workers 2` on a shared store: a rule with
`probability: P` answers the n-th matching call if and only if a hash of (seed, rule, n) falls under P."""
from __future__ import annotations

import math

import pytest
import requests

from servers import MODES, serve_in_mode

PARKUP = "/api/v3/business/report/event/user"
CALLS = 2000
P = 0.05


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    process = serve_in_mode(request.param, tmp_path_factory.mktemp("chaos"))
    yield process
    process.stop()


def chaos(seed: int, **rule) -> dict:
    return {"seed": seed, "rules": [{"match": {"path": PARKUP}, "respond": {"status": 503, "json": {"error": "chaos"}}, **rule}]}


def put(server, http, scenario) -> requests.Response:
    return http.put(f"{server.url}/_emulator/scenario", json=scenario)


def failed_calls(server, http, calls: int = CALLS) -> list[int]:
    """The 1-based numbers of the calls the rule answered (503), in a row of `calls` plain calls."""
    failed = []
    for n in range(1, calls + 1):
        status = http.post(f"{server.url}{PARKUP}", json={}).status_code
        assert status in (503, 401), status  # the rule's answer, or ParkUp's own (no token)
        if status == 503:
            failed.append(n)
    return failed


def test_the_same_seed_fails_the_same_calls_at_a_binomial_rate(server, http):
    runs = []
    for _ in range(2):
        assert put(server, http, chaos(7, probability=P)).status_code == 200  # a new scenario: counters from 0
        runs.append(failed_calls(server, http))
    assert runs[0] == runs[1]
    # Five standard deviations either side of n*P (100 of 2,000): a fair draw falls outside about once in 2 million.
    mean, sd = CALLS * P, math.sqrt(CALLS * P * (1 - P))
    assert mean - 5 * sd <= len(runs[0]) <= mean + 5 * sd, len(runs[0])
    status = http.get(f"{server.url}/_emulator/scenario").json()["rules"][0]
    assert (status["matched"], status["answered"]) == (CALLS, len(runs[1]))

    assert put(server, http, chaos(8, probability=P)).status_code == 200
    assert failed_calls(server, http, 400) != [n for n in runs[0] if n <= 400]  # another seed, other calls


def test_times_and_after_count_only_the_calls_that_won_the_draw(server, http):
    assert put(server, http, chaos(7, probability=0.5)).status_code == 200
    won = failed_calls(server, http, 60)
    assert 5 <= len(won) <= 55
    assert put(server, http, chaos(7, probability=0.5, after=2, times=3)).status_code == 200
    assert failed_calls(server, http, 60) == won[2:5]  # the same draws: the 3rd, 4th and 5th winners answer
    status = http.get(f"{server.url}/_emulator/scenario").json()["rules"][0]
    assert (status["matched"], status["answered"]) == (60, 3)


def test_probability_one_answers_every_call(server, http):
    assert put(server, http, chaos(1, probability=1)).status_code == 200
    assert failed_calls(server, http, 20) == list(range(1, 21))


@pytest.mark.parametrize("value", [0, -0.1, 1.01, "half", None, float("nan")], ids=repr)
def test_probability_out_of_range_is_refused_and_the_active_scenario_stays(server, http, value):
    before = chaos(3, probability=0.25)
    assert put(server, http, before).status_code == 200
    active = http.get(f"{server.url}/_emulator/scenario").json()["scenario"]
    data = '{"rules": [{"match": {"path": "%s"}, "fault": "empty_response", "probability": %s}]}' % (
        PARKUP, "NaN" if value != value else requests.compat.json.dumps(value))
    response = http.put(f"{server.url}/_emulator/scenario", data=data, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "rules[0].probability" in response.json()["errors"], response.json()
    assert http.get(f"{server.url}/_emulator/scenario").json()["scenario"] == active
