"""The dashboard (/_emulator/ui): its JSON helpers through HTTP, and the page itself in a real headless
Chromium (Debian's `chromium`, driven by Playwright for Python; nothing is downloaded).

Without chromium the browser tests skip locally and fail under CI (`CI` set), where `.ci/run`
installs it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timedelta

import pytest

REQUESTS = "/public/api/v1/reporting/requests"


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def echo360_headers(report_emulator, http) -> dict:
    creds = report_emulator.credentials["echo360"]
    answer = http.post(f"{report_emulator.url}/oauth2/access_token",
                       params={"grant_type": "client_credentials", **creds})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def submit(report_emulator, http, headers, report="videoview", compression=False) -> str:
    today = report_emulator.now.date()
    answer = http.post(f"{report_emulator.url}{REQUESTS}/{report}", headers=headers,
                       json={"parameters": {"start": (today - timedelta(days=7)).isoformat(), "end": today.isoformat()},
                             "output": {"compression": compression}})
    assert answer.status_code == 200, answer.text
    return answer.json()["requestId"]


def strigo_headers(report_emulator) -> dict:
    creds = report_emulator.credentials["strigo"]
    return {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}


# --- the JSON helpers, through HTTP ------------------------------------------------------------------

def test_echo360_requests_newest_first_with_their_lifecycle(report_emulator, http):
    url = f"{report_emulator.url}/_emulator/echo360/requests"
    assert http.get(url).json() == {"requests": []}
    headers = echo360_headers(report_emulator, http)
    first = submit(report_emulator, http, headers, "videoview")
    second = submit(report_emulator, http, headers, "liveviews")
    rows = http.get(url).json()["requests"]
    assert [r["request_id"] for r in rows] == [second, first]  # newest first
    assert set(rows[0]) == {"request_id", "client_id", "report_name", "parameters", "status", "created", "available_at",
                            "outcome", "link_expires", "file_expires", "download_url"}
    pending = rows[1]
    assert pending["status"] == "Pending" and pending["report_name"] == "videoview"
    assert pending["client_id"] == report_emulator.credentials["echo360"]["client_id"]
    assert pending["outcome"] == "Available" and pending["download_url"] is None and pending["link_expires"] is None
    created = parse(pending["created"])
    assert parse(pending["available_at"]) - created == timedelta(seconds=120)
    assert parse(pending["file_expires"]) - created == timedelta(days=14)

    report_emulator.advance(120)
    available = {r["request_id"]: r for r in http.get(url).json()["requests"]}[first]
    assert available["status"] == "Available"
    assert parse(available["link_expires"]) - report_emulator.now == timedelta(days=7)
    download = http.get(available["download_url"])
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
    assert download.text.count("\n") >= 1

    report_emulator.advance(10 * 86400)  # the link would outlive the file: it stops at the file's expiry
    available = {r["request_id"]: r for r in http.get(url).json()["requests"]}[first]
    assert available["link_expires"] == available["file_expires"]
    report_emulator.advance(5 * 86400)
    expired = {r["request_id"]: r for r in http.get(url).json()["requests"]}[first]
    assert expired["status"] == "Expired" and expired["download_url"] is None and expired["link_expires"] is None


def test_shipped_scenarios_are_listed_and_served_as_text(report_emulator, http):
    listed = http.get(f"{report_emulator.url}/_emulator/scenarios").json()["scenarios"]
    names = [s["name"] for s in listed]
    assert "parkup-outage" in names and names == sorted(names)
    outage = next(s for s in listed if s["name"] == "parkup-outage")
    assert outage["description"].startswith("ParkUp is down")
    text = http.get(f"{report_emulator.url}/_emulator/scenarios/parkup-outage")
    assert text.status_code == 200 and "name: parkup-outage" in text.text
    assert text.headers["Content-Type"].startswith("application/yaml")
    loaded = http.put(f"{report_emulator.url}/_emulator/scenario", data=text.text)
    assert loaded.json()["scenario"]["name"] == "parkup-outage"


@pytest.mark.parametrize("name", ["nope", "..%2Fpyproject", "parkup-outage.yaml"])
def test_unknown_shipped_scenario_is_404_in_the_admin_envelope(report_emulator, http, name):
    answer = http.get(f"{report_emulator.url}/_emulator/scenarios/{name}")
    assert answer.status_code == 404
    body = answer.json()
    assert "no shipped scenario" in body["error"] and "parkup-outage" in body["error"]
    assert body["errors"] == {"name": ["unknown scenario"]}


@pytest.mark.parametrize("query, field", [
    ("vendor=acme", "vendor"), ("status=6xx", "status"), ("limit=0", "limit"), ("limit=abc", "limit"),
    ("limit=201", "limit"), ("limit=%C2%B2", "limit"), ("q=" + "x" * 201, "q"),
])
def test_dashboard_state_refuses_bad_filters(report_emulator, http, query, field):
    answer = http.get(f"{report_emulator.url}/_emulator/ui/state?{query}")
    assert answer.status_code == 400
    assert field in answer.json()["errors"] and field in answer.json()["error"]


def test_dashboard_state_filters_and_answers_304_when_nothing_changed(report_emulator, http):
    base = report_emulator.url
    http.get(f"{base}/api/v1/health")
    http.get(f"{base}/api/v1/events/nope/reports/exercises", headers=strigo_headers(report_emulator))
    http.post(f"{base}/v1/logs/pathway-logs", json={})
    state = http.get(f"{base}/_emulator/ui/state")
    journal = state.json()["journal"]
    assert journal["matched"] == 3 and [e["path"] for e in journal["requests"]][0] == "/v1/logs/pathway-logs"
    assert state.json()["clock"]["mode"] == "manual" and state.json()["scenario"] == {"scenario": None, "rules": []}
    again = http.get(f"{base}/_emulator/ui/state", headers={"If-None-Match": state.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert http.get(f"{base}/_emulator/ui/state?vendor=strigo&status=4xx").json()["journal"]["matched"] == 1
    assert http.get(f"{base}/_emulator/ui/state?q=HEALTH").json()["journal"]["matched"] == 1
    assert http.get(f"{base}/_emulator/ui/state?limit=1").json()["journal"]["shown"] == 1
    report_emulator.advance(1)
    changed = http.get(f"{base}/_emulator/ui/state", headers={"If-None-Match": state.headers["ETag"]})
    assert changed.status_code == 200
    assert len(report_emulator.journal()) == 3  # the dashboard's own calls are never journaled


def test_page_is_served_from_the_package_with_a_content_security_policy(report_emulator, http):
    page = http.get(f"{report_emulator.url}/_emulator/ui")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in page.text and "cdn" not in page.text.lower()
    for name in ("app.js", "style.css"):
        asset = http.get(f"{report_emulator.url}/_emulator/ui/static/{name}")
        assert asset.status_code == 200 and asset.content
    missing = http.get(f"{report_emulator.url}/_emulator/ui/static/../app.py")
    assert missing.status_code == 404 and "error" in missing.json()


# --- the page in a real browser ----------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser(chromium):
    return chromium()


def open_page(browser, report_emulator, width=1280, height=900):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # Chromium logs every 4xx answer as a console error ("Failed to load resource"): the page sends bad
    # input on purpose. A CSP violation ("Refused to ...") or a script error is a problem.
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.goto(f"{report_emulator.url}/_emulator/ui")
    expect(page.get_by_role("status")).to_have_text("live")
    page.evaluate("window.__loaded_once = true")  # gone if the page ever reloads
    return context, page, problems


@pytest.fixture
def page(browser, report_emulator):
    context, page, problems = open_page(browser, report_emulator)
    yield page
    assert page.evaluate("window.__loaded_once") is True
    context.close()
    assert problems == []  # no script error, no CSP violation


def test_vendor_calls_appear_in_the_journal_without_a_reload(report_emulator, http, page):
    from playwright.sync_api import expect

    base = report_emulator.url
    event = report_emulator.world["strigo"]["events"][0]["id"]
    expect(page.get_by_text("No vendor calls yet.")).to_be_visible()
    http.get(f"{base}/api/v1/events/{event}/reports/exercises", params={"output": "json"},
             headers=strigo_headers(report_emulator))
    http.post(f"{base}/api/v1/events/{event}/reports/user-activity", params={"trace": "on"},
              json={"from": "2026-01-01T00:00:00.000Z"}, headers=strigo_headers(report_emulator))
    http.post(f"{base}/v1/logs/pathway-logs", json={"pathway": "nope"})
    rows = page.locator("#journal-rows tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("/v1/logs/pathway-logs")  # newest first
    expect(rows.first).to_contain_text("401")
    expect(rows.nth(2)).to_contain_text(f"GET /api/v1/events/{event}/reports/exercises?output=json")
    expect(page.locator("#journal-count")).to_have_text("(3 calls)")

    page.get_by_label("Vendor").select_option("strigo")
    expect(rows).to_have_count(2)
    page.get_by_label("Status").select_option("4xx")
    expect(rows).to_have_count(0)
    page.get_by_label("Status").select_option("")
    page.get_by_label("Path contains").fill("user-activity")
    expect(rows).to_have_count(1)

    rows.first.click()
    detail = page.locator("#journal-detail")
    expect(detail).to_contain_text("trace=on")
    expect(detail.locator("pre.request-body")).to_have_text('{"from": "2026-01-01T00:00:00.000Z"}')
    page.get_by_role("button", name="Close details").click()
    expect(detail).to_be_hidden()


def test_advancing_an_hour_turns_a_pending_request_available_with_a_working_link(report_emulator, http, page):
    from playwright.sync_api import expect

    request_id = submit(report_emulator, http, echo360_headers(report_emulator, http), "videoview")
    item = page.locator(f'li.echo-item[data-request-id="{request_id}"]')
    expect(item.locator(".badge")).to_have_text("Pending")
    expect(item.get_by_role("link")).to_have_count(0)

    page.get_by_role("button", name="Advance 1 hour").click()
    expect(item.locator(".badge")).to_have_text("Available")
    moves = page.get_by_label("What the last clock move did")
    expect(moves).to_contain_text(f"videoview {request_id}: Pending → Available")
    link = item.get_by_role("link", name=f"Download videoview file of request {request_id}")
    download = http.get(link.get_attribute("href"))
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
    assert download.text.count("\n") >= 1
    expect(item.locator(".timeline li.done")).to_have_count(2)  # submitted, available; both expiries ahead
    expect(item.locator(".timeline")).to_contain_text("Link expires")

    page.get_by_role("button", name="Advance 1 minute").click()
    expect(moves.locator(".move").first).to_contain_text("No Echo360 request changed status.")


def test_loading_a_shipped_scenario_shows_its_rules_and_counters_rise(report_emulator, http, page):
    from playwright.sync_api import expect

    page.get_by_text("Load or edit a scenario").click()
    page.get_by_label("Shipped scenario").select_option("parkup-outage")
    expect(page.locator("#shipped-description")).to_contain_text("ParkUp is down")
    page.get_by_role("button", name="Load scenario").click()
    expect(page.locator("#scenario-name")).to_have_text("parkup-outage")
    rule = page.locator('#rules-rows tr[data-rule="parkup-down"]')
    expect(rule.locator(".matched")).to_have_text("0")
    assert report_emulator.scenario["scenario"]["name"] == "parkup-outage"

    answer = http.post(f"{report_emulator.url}/api/v3/business/report/event/user", json={})
    assert answer.status_code == 500
    expect(rule.locator(".matched")).to_have_text("1")
    expect(rule.locator(".answered")).to_have_text("1")

    page.get_by_role("button", name="Clear scenario").click()
    expect(page.locator("#scenario-name")).to_have_text("none")
    assert report_emulator.scenario["scenario"] is None


def test_a_yaml_mistake_is_shown_next_to_its_field_path_and_changes_nothing(report_emulator, page):
    from playwright.sync_api import expect

    report_emulator.load_scenario({"name": "kept"})
    expect(page.locator("#scenario-name")).to_have_text("kept")
    page.get_by_text("Load or edit a scenario").click()
    page.get_by_label("Scenario YAML").fill("name: broken\nrules:\n  - match: {path: /v1/logs/pathway-logs}\n"
                                           "    respond: {status: abc}\n")
    page.get_by_role("button", name="Load YAML").click()
    error = page.get_by_label("Scenario errors").locator('li[data-path="rules[0].respond.status"]')
    expect(error).to_contain_text("rules[0].respond.status")
    expect(error).to_contain_text("Not a valid integer.")
    assert report_emulator.scenario["scenario"]["name"] == "kept"
    expect(page.locator("#scenario-name")).to_have_text("kept")

    page.get_by_label("Scenario YAML").fill("rules: [\n")
    page.get_by_role("button", name="Load YAML").click()
    expect(page.get_by_label("Scenario errors").locator('li[data-path="_syntax"]')).to_contain_text("line")

    page.get_by_label("Scenario YAML").fill("name: fixed\n")
    page.get_by_role("button", name="Load YAML").click()
    expect(page.locator("#scenario-name")).to_have_text("fixed")
    expect(page.get_by_label("Scenario errors").locator("li")).to_have_count(0)


def test_injected_markup_is_shown_as_text_and_never_runs(report_emulator, http, page):
    from playwright.sync_api import expect

    script = "<script>window.__pwned = 1</script>"
    image = '<img src=x onerror="window.__pwned = 2">'
    http.get(f"{report_emulator.url}/api/v1/events/{script}/reports/exercises", params={"q": image},
             headers=strigo_headers(report_emulator))
    http.post(f"{report_emulator.url}/v1/logs/pathway-logs", data=image, headers={"Content-Type": "text/plain"})
    rows = page.locator("#journal-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator(".path")).to_contain_text(f"/api/v1/events/{script}/reports/exercises")
    rows.nth(0).click()
    expect(page.locator("#journal-detail pre.request-body")).to_have_text(image)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#journal script, #journal img").count() == 0


def test_clock_and_reset_errors_are_shown_next_to_their_fields_and_change_nothing(report_emulator, page):
    from playwright.sync_api import expect

    before = report_emulator.now
    page.get_by_label("Seconds").fill("soon")
    page.get_by_role("button", name="Advance", exact=True).click()
    expect(page.locator('#advance-form [data-error-for="seconds"]')).to_have_text("Not a valid number.")
    page.get_by_label("Set time").fill("yesterday")
    page.get_by_role("button", name="Set time").click()
    expect(page.locator('#set-form [data-error-for="now"]')).to_have_text("not a valid ISO 8601 timestamp")
    page.get_by_role("button", name="Reset…").click()
    page.get_by_label("Seed").fill("abc")
    page.get_by_role("button", name="Reset now").click()
    expect(page.locator('#reset-form [data-error-for="seed"]')).to_have_text("Not a valid integer.")
    page.get_by_role("button", name="Cancel").click()
    assert report_emulator.now == before

    page.get_by_label("Seconds").fill("90")
    page.get_by_role("button", name="Advance", exact=True).click()
    expect(page.locator('#advance-form [data-error-for="seconds"]')).to_have_text("")
    expect(page.get_by_label("What the last clock move did")).to_contain_text("Advanced 90 s:")
    assert report_emulator.now == before + timedelta(seconds=90)

    page.get_by_label("Set time").fill("2026-01-15T09:00:00Z")
    page.get_by_role("button", name="Set time").click()
    expect(page.locator("#now")).to_have_text("2026-01-15 09:00:00 UTC")

    page.get_by_role("button", name="Reset…").click()
    page.get_by_label("Seed").fill("5")
    page.get_by_label("Reset to time").fill("2026-02-01T00:00:00Z")
    page.get_by_role("button", name="Reset now").click()
    expect(page.locator("#now")).to_have_text("2026-02-01 00:00:00 UTC")
    expect(page.locator('#reset-form [data-error-for="seed"]')).to_have_text("")
    assert report_emulator.emulator.world.seed == 5


def test_each_vendor_has_copyable_credentials_and_a_curl_line_that_works(report_emulator, page):
    from playwright.sync_api import expect

    if shutil.which("curl") is None and not os.environ.get("CI"):
        pytest.skip("curl is not installed")
    page.get_by_role("button", name="Show secrets").click()
    expect(page.get_by_role("button", name="Hide secrets")).to_be_visible()
    for vendor, creds in report_emulator.credentials.items():
        section = page.locator(f'details.vendor[data-vendor="{vendor}"]')
        for key, value in creds.items():
            expect(section.get_by_role("button", name=f"Copy {vendor} {key}", include_hidden=True)).to_have_count(1)
            expect(section.locator(".kv", has_text=key).locator("code").first).to_have_text(value)
        line = section.locator("pre.curl-line").text_content()
        assert line.startswith("curl ") and report_emulator.url in line
        done = subprocess.run(["sh", "-c", line + " -sS -o /dev/null -w '%{http_code}'"], capture_output=True, text=True,
                              timeout=60)
        assert done.stdout == "200", (vendor, line, done.stdout, done.stderr)
    assert [e["status"] for e in report_emulator.journal()] == [200, 200, 200, 200]


def test_every_control_has_an_accessible_name(page):
    unnamed = page.evaluate("""() => Array.from(document.querySelectorAll('button, input, select, textarea, a[href]'))
        .filter((el) => !((el.labels && el.labels.length) || el.getAttribute('aria-label')
                          || el.getAttribute('aria-labelledby') || (el.textContent || '').trim()))
        .map((el) => el.outerHTML)""")
    assert unnamed == []


def test_readable_on_a_phone_without_sideways_scrolling(browser, report_emulator, http):
    from playwright.sync_api import expect

    submit(report_emulator, http, echo360_headers(report_emulator, http))
    context, page, problems = open_page(browser, report_emulator, width=375, height=800)
    expect(page.locator("li.echo-item")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.get_by_role("button", name="Advance 1 hour").is_visible()  # the clock comes first
    context.close()
    assert problems == []


# --- a dashboard people keep open (issue 20) ----------------------------------------------------------

def test_the_base_url_leads_to_the_dashboard_and_is_not_journaled(report_emulator, http):
    answer = http.get(f"{report_emulator.url}/", allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/_emulator/ui")
    assert http.get(f"{report_emulator.url}/").url == f"{report_emulator.url}/_emulator/ui"
    assert report_emulator.journal() == []


def test_the_banner_names_the_dashboard():
    from servers import EmulatorProcess

    server = EmulatorProcess()
    try:
        assert f"  dashboard: {server.url}/_emulator/ui (also {server.url}/)" in server.banner().splitlines()
    finally:
        server.stop()


def test_the_page_shows_version_seed_strict_mode_and_store(report_emulator, page):
    from playwright.sync_api import expect

    import emulator

    about = page.get_by_label("This emulator")
    expect(about.locator("#about-version")).to_have_text(emulator.__version__)
    expect(about.locator("#about-seed")).to_have_text("1")
    expect(about.locator("#about-strict")).to_have_text("off")
    expect(about.locator("#about-store")).to_have_text("memory")
    expect(about.locator("#about-tenant-row")).to_be_hidden()  # one tenant: nothing to name yet
    report_emulator.load_scenario({"strict": True, "seed": 9})
    expect(about.locator("#about-strict")).to_have_text("on")
    expect(about.locator("#about-seed")).to_have_text("9")


def test_columns_keep_a_fixed_height_so_clock_scenario_and_reset_stay_in_view(report_emulator, http, page):
    from playwright.sync_api import expect

    report_emulator.load_scenario({"name": "many", "echo360": {"max_in_flight": 20}})
    headers = echo360_headers(report_emulator, http)
    for _ in range(8):
        submit(report_emulator, http, headers)
    for n in range(60):
        http.get(f"{report_emulator.url}/api/v1/health", params={"n": n})
    expect(page.locator("li.echo-item")).to_have_count(8)
    expect(page.locator("#journal-rows tr")).to_have_count(69)
    assert page.evaluate("document.documentElement.scrollHeight") <= 900  # the page itself never grows
    for part in (page.locator("#clock"), page.locator("#scenario"), page.get_by_role("button", name="Reset…")):
        box = part.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 900, part
    # the long lists scroll inside their columns
    assert page.evaluate("(() => { const l = document.querySelector('#echo-list'); return l.scrollHeight > l.clientHeight; })()")
    assert page.evaluate("(() => { const w = document.querySelector('.journal-wrap'); return w.scrollHeight > w.clientHeight; })()")


def test_echo360_cards_say_what_holds_for_their_status(report_emulator, http, page):
    from playwright.sync_api import expect

    report_emulator.load_scenario({"echo360": {"outcomes": ["Failed", "Missing", "Available"]}})
    headers = echo360_headers(report_emulator, http)
    failed, missing, available = (submit(report_emulator, http, headers) for _ in range(3))
    card = {rid: page.locator(f'li.echo-item[data-request-id="{rid}"]') for rid in (failed, missing, available)}
    expect(card[failed]).to_contain_text("Will end Failed: no file will be made.")
    expect(card[failed].locator(".timeline")).not_to_contain_text("expires")
    expect(card[available].locator(".timeline")).to_contain_text("File expires")

    report_emulator.advance(120)
    for rid, status in ((failed, "Failed"), (missing, "Missing")):
        expect(card[rid].locator(".badge")).to_have_text(status)
        expect(card[rid]).to_contain_text(f"{status}: no file and no expiry; it stays {status}.")
        expect(card[rid].locator(".timeline")).not_to_contain_text("expires")
        expect(card[rid].locator(".timeline li")).to_have_count(2)  # submitted, then its end
        expect(card[rid].get_by_role("link")).to_have_count(0)
    expect(card[available].locator(".badge")).to_have_text("Available")
    expect(card[available].locator(".timeline")).to_contain_text("Link expires")
    expect(card[available].locator(".timeline")).to_contain_text("File expires")
    expect(card[available].get_by_role("link")).to_have_count(1)

    report_emulator.advance(15 * 86400)
    expect(card[available].locator(".badge")).to_have_text("Expired")
    expect(card[available].locator(".timeline")).to_contain_text("Expired, file deleted")
    expect(card[failed].locator(".badge")).to_have_text("Failed")  # never expires


def test_the_scenario_panel_names_every_loaded_scenario(report_emulator, page):
    from playwright.sync_api import expect

    report_emulator.load_scenario(["parkup-outage", "strigo-rate-limit"])
    expect(page.locator("#scenario-name")).to_have_text("parkup-outage + strigo-rate-limit")
    expect(page.get_by_label("Loaded scenarios").locator("li")).to_have_text(["parkup-outage", "strigo-rate-limit"])
    assert report_emulator.scenario["scenario"]["loaded"] == ["parkup-outage", "strigo-rate-limit"]
    report_emulator.load_scenario("parkup-outage")
    expect(page.locator("#scenario-name")).to_have_text("parkup-outage")
    expect(page.get_by_label("Loaded scenarios")).to_be_hidden()


def test_journal_times_show_the_date_when_not_the_emulators_today(report_emulator, http, page):
    from playwright.sync_api import expect

    report_emulator.set_time("2026-01-15T10:00:00Z")
    http.get(f"{report_emulator.url}/api/v1/health", params={"when": "then"})
    rows = page.locator("#journal-rows tr")
    expect(rows.first.locator("td.time")).to_have_text("10:00:00")
    report_emulator.advance(86400)
    http.get(f"{report_emulator.url}/api/v1/health", params={"when": "now"})
    expect(rows).to_have_count(2)
    expect(rows.first.locator("td.time")).to_have_text("10:00:00")  # today's: the time of day
    expect(rows.nth(1).locator("td.time")).to_have_text("2026-01-15 10:00:00")  # yesterday's: with its date


def test_a_calls_detail_shows_request_and_answer_and_copies_as_curl(report_emulator, http, page):
    from playwright.sync_api import expect

    if shutil.which("curl") is None and not os.environ.get("CI"):
        pytest.skip("curl is not installed")
    http.post(f"{report_emulator.url}/v1/logs/pathway-logs", json={"pathway": "nope"},
              headers={"Authorization": "Basic d3Jvbmc6d3Jvbmc=", "X-Client": "nightly"})
    rows = page.locator("#journal-rows tr")
    expect(rows).to_have_count(1)
    rows.first.click()
    detail = page.locator("#journal-detail")
    request = detail.get_by_label("Request", exact=True)
    expect(request.locator(".request-line")).to_have_text("POST /v1/logs/pathway-logs")
    expect(request.get_by_label("Request headers")).to_contain_text("Basic ***")  # never the secret
    expect(request.get_by_label("Request headers")).to_contain_text("nightly")
    expect(request.locator("pre.request-body")).to_have_text('{"pathway": "nope"}')
    answer = detail.get_by_label("Answer", exact=True)
    expect(answer.locator(".status-line")).to_have_text("401 Unauthorized")
    expect(answer.get_by_label("Answer headers")).to_contain_text("application/json")
    expect(answer.locator("pre.answer-body")).to_contain_text('"status":"error"')
    curl = detail.locator("pre.curl-call").text_content()
    assert curl.startswith("curl -X POST ") and "--data-binary '{\"pathway\": \"nope\"}'" in curl
    assert "'Authorization: Basic ***'" in curl and "d3Jvbmc6d3Jvbmc=" not in curl
    expect(detail.get_by_role("button", name="Copy as curl")).to_be_visible()

    # a call with no secret to hide: its curl line, run as it is, makes the same call
    http.get(f"{report_emulator.url}/api/v1/health", params={"probe": "1"})
    expect(rows).to_have_count(2)
    rows.first.click()
    expect(detail.locator(".status-line")).to_have_text("200 OK")
    line = detail.locator("pre.curl-call").text_content()
    done = subprocess.run(["sh", "-c", line + " -sS -o /dev/null -w '%{http_code}'"], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout == "200", (line, done.stderr)
    assert [e["query"] for e in report_emulator.journal()][-1] == "probe=1"


def test_reset_asks_for_confirmation(report_emulator, http, page):
    from playwright.sync_api import expect

    http.get(f"{report_emulator.url}/api/v1/health")
    expect(page.locator("#journal-rows tr")).to_have_count(1)
    page.get_by_role("button", name="Reset…").click()
    dialog = page.get_by_role("dialog", name="Reset the emulator?")
    expect(dialog).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert len(report_emulator.journal()) == 1  # nothing was reset
    page.get_by_role("button", name="Reset…").click()
    page.get_by_role("button", name="Reset now").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#journal-rows tr")).to_have_count(0)
    assert report_emulator.journal() == []


def test_the_screenshot_script_stages_a_page_that_shows_no_secret(browser):
    """scripts/screenshot.py's own steps, from the repository (as from a fresh clone): nothing secret is visible."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "screenshot.py"
    spec = importlib.util.spec_from_file_location("screenshot", path)
    screenshot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(screenshot)
    server = screenshot.start_server()
    try:
        screenshot.traffic(server.url)
        creds = server.app.extensions["emulator"].vendors
        secrets = [value for model in creds.values() for key, value in model.credentials().items()
                   if any(word in key for word in ("secret", "key", "token"))]
        assert len(secrets) >= 5
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        screenshot.stage(page, server.url)
        visible = page.evaluate("document.body.innerText")
        assert "Selected call" in visible and "Echo360 requests" in visible
        shown = [s for s in secrets if s in visible]
        assert shown == []
        context.close()
    finally:
        server.stop()
