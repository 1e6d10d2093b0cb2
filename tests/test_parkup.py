"""ParkUp POST /api/v3/business/report/event/user through a real socket."""
from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "parkup"
PATH = "/api/v3/business/report/event/user"
DATE_EVENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BAD_REQUEST = {"error": "Invalid date range or missing required parameters"}


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def auth(report_emulator) -> dict:
    return {"Authorization": f"Bearer {report_emulator.credentials['parkup']['token']}"}


def post(report_emulator, http, body, headers=None):
    return http.post(f"{report_emulator.url}{PATH}", json=body,
                     headers=headers if headers is not None else auth(report_emulator))


def users(report_emulator, http) -> list[dict]:
    return http.get(f"{report_emulator.url}/_emulator/world").json()["parkup"]["users"]


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def events(report_emulator, http, user, start: datetime, until: datetime, with_customer=True) -> list[dict]:
    body = {"refId": user["refId"], "from": iso(start), "until": iso(until)}
    if with_customer:
        body = {"customerId": user["customerId"], **body}
    response = post(report_emulator, http, body)
    assert response.status_code == 200, response.text
    return response.json()


def year(report_emulator) -> tuple[datetime, datetime]:
    now = report_emulator.now
    return now - timedelta(days=366), now


def use_world(report_emulator, overrides: dict) -> None:
    """Load a scenario whose `world:` section names entities and sets sizes."""
    report_emulator.load_scenario({"name": "parkup-world", "world": overrides})


# -- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic parkup-emulator-token"}, {"Authorization": "Bearer"}],
)
def test_missing_or_wrong_token_is_the_documented_401(report_emulator, http, headers):
    user = users(report_emulator, http)[0]
    response = post(report_emulator, http, {"refId": user["refId"], "from": "2025-06-01T00:00:00.000Z",
                                            "until": "2025-06-23T23:59:00.000Z"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == fixture("error-401.json")


# -- the answer -------------------------------------------------------------------------------------


def test_events_are_an_array_of_id_and_date_event_inside_the_window(report_emulator, http):
    user = users(report_emulator, http)[0]
    start, until = report_emulator.now - timedelta(days=30), report_emulator.now - timedelta(days=2, hours=5)
    found = events(report_emulator, http, user, start, until)
    assert found
    for event in found:
        assert list(event) == ["id", "dateEvent"]
        assert isinstance(event["id"], int) and not isinstance(event["id"], bool)
        assert DATE_EVENT.match(event["dateEvent"])
        assert start <= parse(event["dateEvent"]) <= until
    assert len({e["id"] for e in found}) == len(found)
    assert [e["dateEvent"] for e in found] == sorted(e["dateEvent"] for e in found)


def test_window_bounds_are_inclusive(report_emulator, http):
    user = users(report_emulator, http)[0]
    start, until = year(report_emulator)
    some = events(report_emulator, http, user, start, until)[10]
    instant = parse(some["dateEvent"])
    assert some in events(report_emulator, http, user, instant, instant)
    assert some not in events(report_emulator, http, user, instant + timedelta(seconds=1), until)


def test_ids_are_stable_across_windows_and_unique_across_users(report_emulator, http):
    user = users(report_emulator, http)[1]
    now = report_emulator.now
    wide = events(report_emulator, http, user, now - timedelta(days=60), now)
    first = events(report_emulator, http, user, now - timedelta(days=60), now - timedelta(days=20))
    second = events(report_emulator, http, user, now - timedelta(days=35), now)
    assert first and second
    cut = now - timedelta(days=20)
    assert first == [e for e in wide if parse(e["dateEvent"]) <= cut]
    overlap_first = [e for e in first if parse(e["dateEvent"]) >= now - timedelta(days=35)]
    overlap_second = [e for e in second if parse(e["dateEvent"]) <= cut]
    assert overlap_first == overlap_second
    every_id = Counter()
    start, until = year(report_emulator)
    for other in users(report_emulator, http)[:8]:
        every_id.update(e["id"] for e in events(report_emulator, http, other, start, until))
    assert every_id and max(every_id.values()) == 1


def test_customer_id_is_optional_and_may_be_a_numeric_string(report_emulator, http):
    user = users(report_emulator, http)[2]
    start, until = year(report_emulator)
    with_customer = events(report_emulator, http, user, start, until)
    without = events(report_emulator, http, user, start, until, with_customer=False)
    assert with_customer == without and with_customer
    response = post(report_emulator, http, {"customerId": str(user["customerId"]), "refId": user["refId"],
                                            "from": iso(start), "until": iso(until)})
    assert response.status_code == 200 and response.json() == with_customer
    response = post(report_emulator, http, {"customerId": None, "refId": user["refId"], "from": iso(start), "until": iso(until)})
    assert response.status_code == 200 and response.json() == with_customer


def test_offsets_in_from_and_until_are_read_as_instants(report_emulator, http):
    user = users(report_emulator, http)[0]
    start, until = year(report_emulator)
    utc = events(report_emulator, http, user, start, until)
    body = {"refId": user["refId"], "from": start.astimezone(timezone(timedelta(hours=-4))).isoformat(),
            "until": until.astimezone(timezone(timedelta(hours=2))).isoformat()}
    response = post(report_emulator, http, body)
    assert response.status_code == 200 and response.json() == utc


def test_usage_spreads_over_the_year_and_is_denser_on_weekdays(report_emulator, http):
    start, until = year(report_emulator)
    per_weekday = Counter()
    months = set()
    for user in users(report_emulator, http):
        for event in events(report_emulator, http, user, start, until):
            when = parse(event["dateEvent"])
            per_weekday[when.weekday() >= 5] += 1
            months.add((when.year, when.month))
    weekday_rate, weekend_rate = per_weekday[False] / 5, per_weekday[True] / 2
    assert weekday_rate > 1.5 * weekend_rate > 0
    assert len(months) >= 12


def test_nothing_after_now_and_the_clock_brings_new_events(report_emulator, http):
    user = users(report_emulator, http)[0]
    now = report_emulator.now
    far = now + timedelta(days=400)
    before = events(report_emulator, http, user, now - timedelta(days=30), far)
    assert before and all(parse(e["dateEvent"]) <= now for e in before)
    report_emulator.advance(14 * 86400)
    after = events(report_emulator, http, user, now - timedelta(days=30), far)
    assert after[: len(before)] == before
    assert len(after) > len(before)
    assert all(parse(e["dateEvent"]) <= report_emulator.now for e in after)
    report_emulator.set_time(now - timedelta(days=10))
    earlier = events(report_emulator, http, user, now - timedelta(days=30), far)
    assert earlier == [e for e in before if parse(e["dateEvent"]) <= now - timedelta(days=10)]


# -- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"refId": None}, "refId"),
        ({"refId": 6150}, "refId"),
        ({"refId": ""}, "refId"),
        ({"from": None}, "from"),
        ({"until": None}, "until"),
        ({"from": "yesterday"}, "from"),
        ({"until": "2025-13-45T00:00:00Z"}, "until"),
        ({"from": 1717200000}, "from"),
        ({"from": "0001-01-01T00:00:00+05:00"}, "from"),
        ({"customerId": "abc"}, "customerId"),
        ({"customerId": True}, "customerId"),
        ({"customerId": 12.5}, "customerId"),
        ({"from": "2025-06-24T00:00:00.000Z", "until": "2025-06-01T00:00:00.000Z"}, "from"),
    ],
)
def test_bad_fields_are_the_documented_400(report_emulator, http, change, field):
    user = users(report_emulator, http)[0]
    body = {"customerId": user["customerId"], "refId": user["refId"],
            "from": "2025-06-01T00:00:00.000Z", "until": "2025-06-23T23:59:00.000Z"}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = post(report_emulator, http, body)
    assert response.status_code == 400
    assert response.json() == BAD_REQUEST == fixture("error-400.json")
    assert field in response.headers["X-Emulator-Error"]


@pytest.mark.parametrize("raw", [b"{refId: CB6150}", b"", b"[1, 2]", b"\"CB6150\"", b"\xff", b"[" * 100_000],
                         ids=["unquoted-key", "empty", "array", "string", "not-utf8", "too-deep"])
def test_non_json_or_non_object_bodies_are_the_documented_400(report_emulator, http, raw):
    response = http.post(f"{report_emulator.url}{PATH}", data=raw, headers=auth(report_emulator))
    assert response.status_code == 400
    assert response.json() == BAD_REQUEST


def test_unknown_user_is_the_documented_404(report_emulator, http):
    response = post(report_emulator, http, {"refId": "ZZ0000", "from": "2025-06-01T00:00:00.000Z", "until": "2025-06-23T23:59:00.000Z"})
    assert response.status_code == 404
    assert response.json() == fixture("error-404.json")
    assert "ZZ0000" in response.headers["X-Emulator-Error"]


def test_user_of_another_customer_is_the_documented_404(report_emulator, http):
    everyone = users(report_emulator, http)
    user = everyone[0]
    other = next(u["customerId"] for u in everyone if u["customerId"] != user["customerId"])
    response = post(report_emulator, http, {"customerId": other, "refId": user["refId"],
                                            "from": "2025-06-01T00:00:00.000Z", "until": "2025-06-23T23:59:00.000Z"})
    assert response.status_code == 404
    assert response.json() == {"error": "User not found"}


def test_other_paths_and_methods_get_the_parkup_envelope(report_emulator, http):
    response = http.get(f"{report_emulator.url}{PATH}", headers=auth(report_emulator))
    assert response.status_code == 405 and list(response.json()) == ["error"]
    response = http.post(f"{report_emulator.url}/api/v3/business/report/nothing", headers=auth(report_emulator))
    assert response.status_code == 404 and list(response.json()) == ["error"]


def test_documented_500_body_has_our_error_shape(report_emulator, http):
    theirs = fixture("error-500.json")
    ours = post(report_emulator, http, {"refId": "ZZ0000", "from": "2025-06-01T00:00:00Z", "until": "2025-06-02T00:00:00Z"}).json()
    assert list(ours) == list(theirs) and all(isinstance(v, str) for v in ours.values())


# -- world, document examples, determinism ----------------------------------------------------------


def test_world_summary_lists_users_with_customers(report_emulator, http):
    found = users(report_emulator, http)
    assert found == report_emulator.world["parkup"]["users"]
    assert len(found) >= 10 and len({u["refId"] for u in found}) == len(found)
    assert len({u["customerId"] for u in found}) >= 2
    for user in found:
        assert list(user) == ["refId", "customerId"]
        assert re.match(r"^[A-Z]{2}\d{4}$", user["refId"])
        assert isinstance(user["customerId"], int)


@pytest.mark.report_emulator(now="2025-06-24T12:00:00Z")
def test_document_request_and_answer_shapes(report_emulator, http):
    use_world(report_emulator, {"parkup": {"users": [{"refId": "CB6150", "customerId": 2847}]}})
    assert {"refId": "CB6150", "customerId": 2847} in users(report_emulator, http)
    request = fixture("request.json")
    response = post(report_emulator, http, request)
    assert response.status_code == 200
    ours, theirs = response.json(), fixture("success.json")
    assert ours
    for event in ours:
        assert list(event) == list(theirs[0])
        assert all(type(event[k]) is type(theirs[0][k]) for k in theirs[0])
        assert parse(request["from"]) <= parse(event["dateEvent"]) <= parse(request["until"])
    assert all(DATE_EVENT.match(e["dateEvent"]) for e in theirs)


def test_scenario_world_sets_customers_and_users(report_emulator, http):
    use_world(report_emulator, {"parkup": {"customer_count": 2, "users_per_customer": 3,
                                           "users": [{"refId": "CB6150", "customerId": 2847}, {"refId": "AA0001"}]}})
    found = users(report_emulator, http)
    assert found[0] == {"refId": "CB6150", "customerId": 2847}
    assert found[1]["refId"] == "AA0001"
    generated = found[2:]
    assert len(generated) == 6 and len({u["customerId"] for u in generated}) == 2
    start, until = year(report_emulator)
    assert events(report_emulator, http, found[0], start, until)


@pytest.mark.report_emulator(seed=9, now="2026-02-01T00:00:00Z")
def test_same_seed_same_bytes(report_emulator, http):
    user = users(report_emulator, http)[0]
    body = {"refId": user["refId"], "from": "2025-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}
    first = post(report_emulator, http, body).content
    report_emulator.reset(seed=9, now="2026-02-01T00:00:00Z")
    assert post(report_emulator, http, body).content == first
    report_emulator.reset(seed=10, now="2026-02-01T00:00:00Z")
    assert users(report_emulator, http)[0]["refId"] != user["refId"]


def test_documented_500_is_what_a_scenario_returns(report_emulator, http):
    report_emulator.load_scenario({"name": "parkup-down", "rules": [
        {"match": {"method": "POST", "path": PATH}, "times": 1, "respond": {"status": 500, "json": fixture("error-500.json")}}]})
    body = fixture("request.json")
    response = post(report_emulator, http, body)
    assert response.status_code == 500 and response.json() == fixture("error-500.json")
    assert post(report_emulator, http, body).status_code == 404  # the rule is spent; CB6150 is not in this world


def test_scenario_rate_limit_answers_429(report_emulator, http):
    report_emulator.load_scenario({"name": "tight", "parkup": {"rate_limit": 1}})
    user = users(report_emulator, http)[0]
    body = {"refId": user["refId"], "from": "2025-06-01T00:00:00Z", "until": "2025-06-02T00:00:00Z"}
    assert post(report_emulator, http, body).status_code == 200
    response = post(report_emulator, http, body)
    assert response.status_code == 429 and list(response.json()) == ["error"]
    assert int(response.headers["Retry-After"]) >= 1
    report_emulator.advance(61)
    assert post(report_emulator, http, body).status_code == 200


def test_more_customers_than_four_digit_ids_are_drawn_and_answered(report_emulator, http):
    """10,000 customers: more than the 9,000 four-digit ids (drawing distinct ones once never ended)."""
    use_world(report_emulator, {"parkup": {"customer_count": 10_000, "users_per_customer": 1}})
    found = []
    for offset in range(0, 10_000, 1000):
        page = http.get(f"{report_emulator.url}/_emulator/world",
                        params={"vendor": "parkup", "offset": offset, "limit": 1000}).json()
        found += page["parkup"]["users"]
    assert page["page"]["totals"]["parkup"]["users"] == 10_000
    assert len(found) == 10_000 and len({u["customerId"] for u in found}) == 10_000
    assert len({u["refId"] for u in found}) == 10_000
