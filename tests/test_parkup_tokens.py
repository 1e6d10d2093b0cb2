"""ParkUp's token flow through a real socket: POST /api/v3/business/oauth/access_token swaps the refresh
token for an access token, POST /api/v3/business/validate names the business behind a bearer token, and
the report takes either the fixed token or an issued access token."""
from __future__ import annotations

import re

import pytest
import requests

TOKEN = "/api/v3/business/oauth/access_token"
VALIDATE = "/api/v3/business/validate"
REPORT = "/api/v3/business/report/event/user"
UNAUTHORIZED = {"error": "Invalid or missing authentication token"}
BAD_REQUEST = {"error": "Invalid date range or missing required parameters"}


def refresh_token(report_emulator) -> str:
    return report_emulator.credentials["parkup"]["refresh_token"]


def exchange(report_emulator, http, body=None) -> requests.Response:
    if body is None:
        body = {"refresh_token": refresh_token(report_emulator), "grant_type": "refresh_token"}
    return http.post(f"{report_emulator.url}{TOKEN}", json=body)


def access_token(report_emulator, http) -> str:
    response = exchange(report_emulator, http)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def validate(report_emulator, http, token: str) -> requests.Response:
    return http.post(f"{report_emulator.url}{VALIDATE}", headers=bearer(token))


def report(report_emulator, http, token: str) -> requests.Response:
    user = report_emulator.world["parkup"]["users"][0]
    body = {"customerId": user["customerId"], "refId": user["refId"],
            "from": "2000-01-01T00:00:00.000Z", "until": "2100-01-01T00:00:00.000Z"}
    return http.post(f"{report_emulator.url}{REPORT}", json=body, headers=bearer(token))


# -- the token exchange -------------------------------------------------------------------------------


def test_credentials_hold_the_refresh_token_and_the_fixed_token(report_emulator, http):
    creds = http.get(f"{report_emulator.url}/_emulator/credentials").json()["parkup"]
    assert set(creds) == {"token", "refresh_token"}
    assert creds["refresh_token"] and creds["refresh_token"] != creds["token"]


def test_exchange_answers_only_an_access_token(report_emulator, http):
    response = exchange(report_emulator, http)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["access_token"]
    token = body["access_token"]
    assert isinstance(token, str) and re.match(r"^[0-9a-f]{64}$", token)
    assert token not in report_emulator.credentials["parkup"].values()


def test_client_flow_exchange_validate_report(report_emulator, http):
    """What a real ParkUp client does: refresh token -> access token -> validate -> report."""
    token = access_token(report_emulator, http)
    assert validate(report_emulator, http, token).status_code == 200
    answer = report(report_emulator, http, token)
    assert answer.status_code == 200 and isinstance(answer.json(), list) and answer.json()
    assert answer.json() == report(report_emulator, http, report_emulator.credentials["parkup"]["token"]).json()


def test_refresh_token_is_reusable_and_each_exchange_issues_a_new_token(report_emulator, http):
    tokens = [access_token(report_emulator, http) for _ in range(3)]
    assert len(set(tokens)) == 3
    for token in tokens:
        assert report(report_emulator, http, token).status_code == 200


def test_fixed_token_still_works_for_report_and_validate(report_emulator, http):
    fixed = report_emulator.credentials["parkup"]["token"]
    assert report(report_emulator, http, fixed).status_code == 200
    assert validate(report_emulator, http, fixed).json() == validate(report_emulator, http, access_token(report_emulator, http)).json()


@pytest.mark.parametrize("body, named", [
    ({"refresh_token": "wrong", "grant_type": "refresh_token"}, "refresh_token"),
    ({"grant_type": "refresh_token"}, "refresh_token"),
    ({"refresh_token": "", "grant_type": "refresh_token"}, "refresh_token"),
    ({"refresh_token": 12345, "grant_type": "refresh_token"}, "refresh_token"),
    ({"refresh_token": None, "grant_type": "refresh_token"}, "refresh_token"),
    ({"refresh_token": "REFRESH"}, "grant_type"),
    ({"refresh_token": "REFRESH", "grant_type": "client_credentials"}, "grant_type"),
    ({"refresh_token": "REFRESH", "grant_type": "Refresh_Token"}, "grant_type"),
    ({"refresh_token": "REFRESH", "grant_type": ["refresh_token"]}, "grant_type"),
], ids=["wrong", "missing", "empty", "number", "null", "no-grant", "other-grant", "grant-case", "grant-list"])
def test_bad_grant_is_the_documented_401(report_emulator, http, body, named):
    body = {k: (refresh_token(report_emulator) if v == "REFRESH" else v) for k, v in body.items()}
    response = exchange(report_emulator, http, body)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert named in response.headers["X-Emulator-Error"]


@pytest.mark.parametrize("raw", [b"", b"{refresh_token: x}", b"[]", b"\"parkup-emulator-refresh-token\"", b"\xff"],
                         ids=["empty", "unquoted-key", "array", "string", "not-utf8"])
def test_body_that_is_not_a_json_object_is_the_documented_400(report_emulator, http, raw):
    response = http.post(f"{report_emulator.url}{TOKEN}", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == BAD_REQUEST
    assert "JSON" in response.headers["X-Emulator-Error"]


def test_unknown_body_keys_are_ignored(report_emulator, http):
    response = exchange(report_emulator, http, {"refresh_token": refresh_token(report_emulator),
                                                "grant_type": "refresh_token", "scope": "all"})
    assert response.status_code == 200


def test_refresh_token_from_a_scenario_replaces_the_default(report_emulator, http):
    old = refresh_token(report_emulator)
    report_emulator.load_scenario({"credentials": {"parkup": {"refresh_token": "rotated"}}})
    assert refresh_token(report_emulator) == "rotated"
    assert exchange(report_emulator, http, {"refresh_token": old, "grant_type": "refresh_token"}).status_code == 401
    assert exchange(report_emulator, http, {"refresh_token": "rotated", "grant_type": "refresh_token"}).status_code == 200


# -- tokens as state: expiry, reset, determinism --------------------------------------------------------


def test_access_token_lasts_an_hour_on_the_emulator_clock(report_emulator, http):
    token = access_token(report_emulator, http)
    report_emulator.advance(3599)
    assert report(report_emulator, http, token).status_code == 200
    report_emulator.advance(1)
    for answer in (report(report_emulator, http, token), validate(report_emulator, http, token)):
        assert answer.status_code == 401 and answer.json() == UNAUTHORIZED
        assert "expired" in answer.headers["X-Emulator-Error"]
    assert report(report_emulator, http, report_emulator.credentials["parkup"]["token"]).status_code == 200
    assert report(report_emulator, http, access_token(report_emulator, http)).status_code == 200


def test_scenario_sets_the_access_token_life(report_emulator, http):
    report_emulator.load_scenario({"parkup": {"access_token_seconds": 60}})
    token = access_token(report_emulator, http)
    report_emulator.advance(59)
    assert validate(report_emulator, http, token).status_code == 200
    report_emulator.advance(1)
    assert validate(report_emulator, http, token).status_code == 401


@pytest.mark.parametrize("value", [0, -5, "60", 1.5])
def test_scenario_refuses_a_bad_access_token_life(report_emulator, http, value):
    answer = http.put(f"{report_emulator.url}/_emulator/scenario", json={"parkup": {"access_token_seconds": value}})
    assert answer.status_code == 400
    assert "access_token_seconds" in answer.text


def test_reset_forgets_issued_tokens(report_emulator, http):
    token = access_token(report_emulator, http)
    assert http.post(f"{report_emulator.url}/_emulator/reset").status_code == 200
    answer = report(report_emulator, http, token)
    assert answer.status_code == 401 and answer.json() == UNAUTHORIZED


@pytest.mark.report_emulator(seed=21)
def test_tokens_never_repeat_across_a_reset_and_a_refused_request_issues_none(report_emulator, http):
    first = [exchange(report_emulator, http).json()["access_token"] for _ in range(2)]
    business = validate(report_emulator, http, report_emulator.credentials["parkup"]["token"]).content
    report_emulator.reset(seed=21)
    assert exchange(report_emulator, http, {"refresh_token": "wrong", "grant_type": "refresh_token"}).status_code == 401
    assert http.post(f"{report_emulator.url}{TOKEN}", data=b"[]").status_code == 400
    assert report_emulator.emulator.store.get("parkup:serial") is None  # the refused requests drew nothing
    again = [exchange(report_emulator, http).json()["access_token"] for _ in range(2)]
    assert report_emulator.emulator.store.get("parkup:serial") == 2
    # Nothing issued before the reset is issued (or accepted) after it; the world is the same.
    assert not set(again) & set(first) and len(set(again)) == 2
    assert all(validate(report_emulator, http, token).status_code == 401 for token in first)
    assert validate(report_emulator, http, report_emulator.credentials["parkup"]["token"]).content == business
    report_emulator.reset(seed=22)
    assert validate(report_emulator, http, report_emulator.credentials["parkup"]["token"]).content != business


# -- validate -----------------------------------------------------------------------------------------


def test_validate_answers_the_business(report_emulator, http):
    response = validate(report_emulator, http, access_token(report_emulator, http))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    business = response.json()
    assert list(business) == ["id", "name", "brandimagen"]
    assert type(business["id"]) is int and business["id"] > 0
    assert isinstance(business["name"], str) and business["name"].strip()
    assert re.match(r"^https://\S+\.(png|jpg)$", business["brandimagen"])


def test_validate_ignores_a_body(report_emulator, http):
    fixed = report_emulator.credentials["parkup"]["token"]
    plain = validate(report_emulator, http, fixed).json()
    with_body = http.post(f"{report_emulator.url}{VALIDATE}", headers=bearer(fixed), json={"anything": 1})
    assert with_body.status_code == 200 and with_body.json() == plain


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer"}, {"Authorization": "Basic parkup-emulator-token"},
    {"Authorization": "Bearer parkup-emulator-refresh-token"},
], ids=["none", "wrong", "empty", "basic", "refresh-token-as-bearer"])
def test_validate_bad_token_is_the_documented_401(report_emulator, http, headers):
    response = http.post(f"{report_emulator.url}{VALIDATE}", headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["X-Emulator-Error"]


def test_scenario_world_names_the_business(report_emulator, http):
    report_emulator.load_scenario({"world": {"parkup": {"business": {"id": 7, "name": "Estacionamientos Acme"}}}})
    business = validate(report_emulator, http, report_emulator.credentials["parkup"]["token"]).json()
    assert business["id"] == 7 and business["name"] == "Estacionamientos Acme"
    assert "7" in business["brandimagen"]
    report_emulator.load_scenario({"world": {"parkup": {"business": {"brandimagen": "https://example.test/logo.png"}}}})
    assert validate(report_emulator, http, access_token(report_emulator, http)).json()["brandimagen"] == "https://example.test/logo.png"


def test_scenario_rate_limit_counts_every_parkup_call(report_emulator, http):
    report_emulator.load_scenario({"parkup": {"rate_limit": 2}})
    token = access_token(report_emulator, http)
    assert validate(report_emulator, http, token).status_code == 200
    for answer in (exchange(report_emulator, http), validate(report_emulator, http, token)):
        assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1


def test_strict_mode_refuses_undocumented_token_request_fields(report_emulator, http):
    report_emulator.load_scenario({"strict": True})
    body = {"refresh_token": refresh_token(report_emulator), "grant_type": "refresh_token", "scope": "all"}
    response = exchange(report_emulator, http, body)
    assert response.status_code == 400 and response.json() == BAD_REQUEST
    assert "scope" in response.headers["X-Emulator-Error"]
    assert exchange(report_emulator, http).status_code == 200


def test_report_consume_is_not_emulated(report_emulator, http):
    """No answer shape is known for report/consume: it stays a 404 in ParkUp's envelope (README fidelity notes)."""
    response = http.post(f"{report_emulator.url}/api/v3/business/report/consume", headers=bearer(access_token(report_emulator, http)),
                         json={"parkingId": 1, "from": "2025-06-01T00:00:00.000Z", "until": "2025-06-23T23:59:00.000Z"})
    assert response.status_code == 404 and list(response.json()) == ["error"]
