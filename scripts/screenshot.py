"""Regenerate docs/ui.png, the dashboard screenshot on the documentation site's Dashboard page.

Starts an emulator on a free port with a fixed seed and time, sends some vendor traffic, loads a
shipped scenario and advances the clock through the page, then photographs the page in Debian's
chromium (Playwright for Python; nothing is downloaded):

    python scripts/screenshot.py [--out docs/ui.png] [--width 1280] [--height 900]

Works from a fresh clone once the package is installed (`pip install -e '.[test]'`): the scenario comes
from the running server. Secrets are hidden on the page unless asked for, so the picture shows none
(tests/test_ui.py stages the same page and checks its visible text).
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.app import create_app  # noqa: E402
from emulator.server import ServerThread  # noqa: E402
from emulator.settings import Settings, parse_instant  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
START = "2026-03-02T09:00:00Z"


def echo360_token(http: requests.Session, base: str, creds: dict) -> dict:
    token = http.post(f"{base}/oauth2/access_token", params={"grant_type": "client_credentials",
                                                               "client_id": creds["echo360"]["client_id"],
                                                               "client_secret": creds["echo360"]["client_secret"]}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def submit(http: requests.Session, base: str, headers: dict, report: str) -> None:
    http.post(f"{base}/public/api/v1/reporting/requests/{report}", headers=headers,
              json={"parameters": {"start": "2026-02-23", "end": "2026-03-02"}})


def traffic(base: str) -> None:
    """A little of every vendor's traffic, a contract violation, and the rules of a shipped scenario."""
    http = requests.Session()
    creds = http.get(f"{base}/_emulator/credentials").json()
    world = http.get(f"{base}/_emulator/world").json()
    shipped = http.get(f"{base}/_emulator/scenarios/echo360-slow-and-failing")  # from the installed package
    shipped.raise_for_status()
    http.put(f"{base}/_emulator/scenario", data=shipped.text).raise_for_status()
    strigo = {"Authorization": f"Bearer {creds['strigo']['org_id']}:{creds['strigo']['api_key']}"}
    event = world["strigo"]["events"][0]["id"]
    http.get(f"{base}/api/v1/events/{event}/reports/exercises", params={"output": "json"}, headers=strigo)
    http.get(f"{base}/api/v1/events/{event}/reports/exercises", params={"output": "xml"}, headers=strigo)
    echo = echo360_token(http, base, creds)
    for report in ("videoview", "videoview", "liveviews"):  # the first one meets the scenario's 503
        submit(http, base, echo, report)
    http.post(f"{base}/_emulator/clock/advance", json={"seconds": 7200})
    echo = echo360_token(http, base, creds)
    submit(http, base, echo, "viewsessions")
    submit(http, base, echo, "polling")
    http.get(f"{base}/public/api/v1/reporting/requests", headers=echo)
    pathway = world["falkor"]["pathways"][0]["ID"]
    http.post(f"{base}/v1/logs/pathway-logs", headers={"Authorization": f"Basic {creds['falkor']['token']}"},
              json={"pathway": pathway})
    user = world["parkup"]["users"][0]
    http.post(f"{base}/api/v3/business/report/event/user", headers={"Authorization": "Bearer wrong-token"},
              json={"customerId": user["customerId"], "refId": user["refId"],
                    "from": "2026-02-23T00:00:00.000Z", "until": "2026-03-02T00:00:00.000Z"})


def after_move(base: str) -> None:
    """One request that is still Pending when the picture is taken."""
    http = requests.Session()
    creds = http.get(f"{base}/_emulator/credentials").json()
    submit(http, base, echo360_token(http, base, creds), "videoview")


def stage(page, base: str) -> None:
    """The page as photographed: a clock move and what it did, a Pending request, a selected call."""
    page.goto(f"{base}/_emulator/ui")
    page.get_by_text("live", exact=True).wait_for()
    page.get_by_label("Seconds").fill("7200")
    page.get_by_role("button", name="Advance", exact=True).click()
    page.get_by_label("What the last clock move did").get_by_text("Advanced").wait_for()
    after_move(base)
    page.get_by_text("Pending", exact=True).first.wait_for()
    page.locator("#journal-rows tr").filter(has_text="output=xml").click()
    page.get_by_role("button", name="Close details").wait_for()
    page.locator(".journal-wrap").evaluate("wrap => { wrap.scrollTop = 0; }")  # the click scrolled it


def start_server() -> ServerThread:
    return ServerThread(create_app(Settings(port=0, clock="manual", now=parse_instant(START), seed=1)), "127.0.0.1", 0).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "ui.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900, help="the viewport's height; the picture is the viewport")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        parser.error("chromium is not on PATH (apt-get install chromium)")
    server = start_server()
    try:
        traffic(server.url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            stage(page, server.url)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            browser.close()
    finally:
        server.stop()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
