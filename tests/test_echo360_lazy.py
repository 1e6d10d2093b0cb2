"""The Echo360 world made lazily, by index (issue 17, bounded memory at any scale), through real HTTP.

A `serve --scale 1000` process lists the world at once with arithmetic totals and writes a 1-day
report; two processes that touch the world in different orders give the same rows.
"""
from __future__ import annotations

import csv
import gzip
import io
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
import requests

from emulator.core.world import World
from emulator.vendors.echo360 import data
from servers import EmulatorProcess

NOW = "2026-01-15T00:00:00Z"
REPORTING = "/public/api/v1/reporting"


def token(url: str) -> dict:
    creds = requests.get(f"{url}/_emulator/credentials").json()["echo360"]
    answer = requests.post(f"{url}/oauth2/access_token", params={
        "grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def report_rows(url: str, name: str, start: str, end: str, seconds: float = 300) -> list[list[str]]:
    """Submit a report, move the clock past its processing time, wait for the file, download it."""
    auth = token(url)
    submitted = requests.post(f"{url}{REPORTING}/requests/{name}", headers=auth,
                              json={"parameters": {"start": start, "end": end}})
    assert submitted.status_code == 200, submitted.text
    request_id = submitted.json()["requestId"]
    requests.post(f"{url}/_emulator/clock/advance", json={"seconds": 120})
    deadline = time.monotonic() + seconds
    while True:  # the file is written in the background: a functional bound, not a timing
        detail = requests.get(f"{url}{REPORTING}/requests/{request_id}", headers=auth).json()
        if detail["status"] == "Available":
            break
        assert detail["status"] == "Pending" and time.monotonic() < deadline, detail
        time.sleep(0.2)
    link = urlsplit(detail["signedAssets"][0])
    download = requests.get(f"{url}{link.path}?{link.query}")
    assert download.status_code == 200
    return list(csv.reader(io.StringIO(gzip.decompress(download.content).decode())))


@pytest.fixture(scope="module")
def large():
    server = EmulatorProcess("--scale", "1000", "--seed", "3", "--clock", "manual", "--now", NOW)
    try:
        yield server
    finally:
        server.stop()


def test_the_world_listing_at_scale_1000_is_paged_with_arithmetic_totals(large):
    whole = requests.get(f"{large.url}/_emulator/world", timeout=60)
    assert whole.status_code == 200
    body = whole.json()
    totals = body["page"]["totals"]["echo360"]
    # 12 courses and 600 media at scale 1, times 1000; every media was captured before --now.
    assert totals == {"reports": 13, "courses": 12_000, "media": 600_000}
    echo = body["echo360"]
    assert len(echo["courses"]) == len(echo["media"]) == 100
    assert {m["kind"] for m in echo["media"]} == {"video", "presentation", "interactive"}
    created = [m["created"] for m in echo["media"]]
    assert created[0] < NOW and all(c.startswith("2026-01-") for c in created)  # newest first
    last = requests.get(f"{large.url}/_emulator/world", params={"vendor": "echo360", "offset": 599_990}).json()
    oldest = last["echo360"]["media"]
    assert len(oldest) == 10 and last["echo360"]["courses"] == []
    assert oldest[-1]["created"] < "2025-01-01"  # the history's start, 60 days before the year of activity
    # The same page twice (any process would give it): the listing is a function of the seed.
    again = requests.get(f"{large.url}/_emulator/world", params={"vendor": "echo360", "offset": 599_990}).json()
    assert again == last


def test_a_one_day_report_at_scale_1000_downloads(large):
    rows = report_rows(large.url, "presentation", "2026-01-13", "2026-01-14")
    header, rows = rows[0], rows[1:]
    assert header[:2] == ["presentationID", "presentationName"]
    # About 60 slide views a day at scale 1, times 1000.
    assert 30_000 < len(rows) < 90_000
    stamps = [r[header.index("event_timestamp")] for r in rows]
    assert stamps == sorted(stamps) and stamps[0] >= "2026-01-13T" and stamps[-1] < "2026-01-14T"
    assert len({r[header.index("userid")] for r in rows}) > 10_000


def test_two_processes_that_touch_the_world_in_different_orders_give_the_same_rows():
    """Workers share nothing but the seed: one process lists the world, the other writes another
    report first (other days, other media and people through its bounded caches)."""
    args = ("--scale", "40", "--seed", "5", "--clock", "manual", "--now", NOW)
    first, second = EmulatorProcess(*args), EmulatorProcess(*args)
    try:
        requests.get(f"{first.url}/_emulator/world", params={"offset": 23_000, "limit": 1000})
        a = report_rows(first.url, "videoview", "2026-01-13", "2026-01-14")
        report_rows(second.url, "viewsessions", "2026-01-06", "2026-01-13")
        requests.get(f"{second.url}/_emulator/world", params={"limit": 1000})
        b = report_rows(second.url, "videoview", "2026-01-13", "2026-01-14")
        assert len(a) > 10_000 and a == b
    finally:
        first.stop()
        second.stop()


def test_entities_do_not_depend_on_the_order_they_are_made_in():
    """Made by index from (seed, kind, index): the same whatever came first, past the caches' bounds."""
    anchor = datetime(2026, 1, 15, tzinfo=timezone.utc)
    sizes = {key: base * 100 for key, base in data.BASE_SIZES.items()}
    one, two = data.EchoWorld(World(9, anchor, 100), sizes), data.EchoWorld(World(9, anchor, 100), sizes)
    picks = list(range(0, sizes["media"], 7))
    forward = [one.media(i) for i in picks]
    for i in range(data.CACHE_MEDIA + 10):  # push the picks out of the second world's cache first
        two.media(sizes["media"] - 1 - i)
    backward = [two.media(i) for i in reversed(picks)][::-1]
    key = lambda m: (m.id, m.name, m.created, m.published, m.section.id, m.section.roster, [p.id for p in m.polls])
    assert [key(m) for m in forward] == [key(m) for m in backward]
    days = [one.capture_day(i) for i in range(sizes["media"])]
    assert days == sorted(days)  # the day is monotonic in the index, so a day's media are a range
    assert all(day_date_weekday < 5 for day_date_weekday in (data.day_date(d).weekday() for d in set(days)))
    assert sum(len(one.day_media(d)) for d in set(days)) == sizes["media"]
    assert [one.student(i).id for i in (5, 29_999, 5)] == [two.student(i).id for i in (5, 29_999, 5)]
