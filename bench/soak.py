"""Soak: minutes of mixed traffic on all four vendors, with the server's memory sampled.

Starts `python -m emulator serve` as a subprocess, then several client threads send a mix of good
calls, bad input (deep JSON, a YAML alias bomb, 1,000 unknown query parameters, wrong credentials,
malformed bodies) and big bodies (1 MB, and 11 MB, just past the 10 MiB limit) to every vendor, with the journal
filled to its cap. Every few seconds it reads the server's RSS from /proc. At the end it prints
memory at start, after warm-up, in the middle and at the end, and the 5xx count (the goal: flat
within 10% after warm-up, 0 5xx). Linux only (/proc).

    python bench/soak.py                 # 10 minutes
    python bench/soak.py --minutes 2
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta

import requests

from _common import free_port

DEEP = "[" * 100_000 + "]" * 100_000
ALIAS_BOMB = "\n".join(['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
                       + [f"{b}: &{b} [*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a}]"
                          for a, b in zip("abcdefgh", "bcdefghi")])
JSON_CT = {"Content-Type": "application/json"}
MANY_PARAMS = "&".join(f"p{n}=v" for n in range(1000))
ONE_MB = b'{"pathway": "' + b"x" * (1024 * 1024) + b'"}'
ELEVEN_MB = b"x" * 11_000_000  # 11 MB: just past the 10 MiB limit


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", str(port), "--clock", "manual"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


class Traffic:
    """One client thread's calls, chosen at random (seeded) from a weighted mix."""

    def __init__(self, url: str, seed: int, counts: Counter, lock: threading.Lock):
        self.url, self.rng, self.counts, self.lock = url, random.Random(seed), counts, lock
        self.http = requests.Session()
        self.world = self.http.get(f"{url}/_emulator/world").json()
        self.creds = self.http.get(f"{url}/_emulator/credentials").json()
        self.echo_token = None
        self.calls = [(self.strigo, 6), (self.strigo_bad, 2), (self.echo360, 5), (self.echo360_bad, 1),
                      (self.falkor, 4), (self.falkor_bad, 2), (self.parkup, 5), (self.parkup_bad, 2),
                      (self.admin_bad, 1), (self.big_body, 1)]
        self.choices = [call for call, weight in self.calls for _ in range(weight)]

    def send(self, method: str, path: str, **kwargs) -> requests.Response | None:
        try:
            response = self.http.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.count(f"error {type(exc).__name__}")
            self.http = requests.Session()
            return None
        self.count(f"{response.status_code // 100}xx")
        if response.status_code >= 500:
            self.count(f"5xx {method} {path[:60]} {response.text[:120]}")
        return response

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    def step(self) -> None:
        self.rng.choice(self.choices)()

    # --- each vendor, good calls and bad ---

    def strigo_auth(self) -> dict:
        creds = self.creds["strigo"]
        return {"Authorization": f"Bearer {creds['org_id']}:{creds['api_key']}"}

    def strigo(self) -> None:
        event = self.rng.choice(self.world["strigo"]["events"])["id"]
        course = self.rng.choice(self.world["strigo"]["courses"])["id"]
        path = self.rng.choice([f"/api/v1/events/{event}/reports/exercises",
                                f"/api/v1/events/{event}/reports/exercises?output=csv",
                                f"/api/v1/ondemand-courses/{course}/reports/enrollments"])
        self.send("GET", path, headers=self.strigo_auth())
        if self.rng.random() < 0.3:
            self.send("POST", f"/api/v1/events/{event}/reports/user-activity", json={}, headers=self.strigo_auth())

    def strigo_bad(self) -> None:
        event = self.rng.choice(self.world["strigo"]["events"])["id"]
        self.rng.choice([
            lambda: self.send("GET", f"/api/v1/events/{event}/reports/exercises?{MANY_PARAMS}", headers=self.strigo_auth()),
            lambda: self.send("GET", f"/api/v1/events/{event}/reports/exercises", headers={"Authorization": "Bearer x:y"}),
            lambda: self.send("POST", f"/api/v1/events/{event}/reports/user-activity", data=DEEP,
                              headers={**JSON_CT, **self.strigo_auth()}),
        ])()

    def take_echo_token(self) -> None:
        creds = self.creds["echo360"]
        answer = self.send("POST", "/oauth2/access_token", params={
            "grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]})
        self.echo_token = answer.json().get("access_token") if answer is not None and answer.ok else None

    def echo360(self) -> None:
        if self.echo_token is None or self.rng.random() < 0.1:
            self.take_echo_token()
        auth = {"Authorization": f"Bearer {self.echo_token}"}
        api = "/public/api/v1/reporting"
        kind = self.rng.random()
        if kind < 0.3:
            self.send("GET", f"{api}/reports", headers=auth)
        elif kind < 0.6:
            answer = self.send("GET", f"{api}/requests", headers=auth)
            if answer is not None and answer.ok:
                for item in answer.json().get("requests", [])[-2:]:
                    detail = self.send("GET", f"{api}/requests/{item['requestId']}", headers=auth)
                    links = detail.json().get("signedAssets") if detail is not None and detail.ok else None
                    if links and self.rng.random() < 0.2:
                        self.send("GET", links[0][len(self.url):])
        else:
            now = self.send("GET", "/_emulator/clock")
            today = date.fromisoformat(now.json()["now"][:10]) if now is not None and now.ok else date.today()
            start = today - timedelta(days=self.rng.randint(8, 300))
            body = {"parameters": {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}}
            if self.rng.random() < 0.5:  # the public client's way: the token in the body, extra keys
                body.update(access_token=self.echo_token, reportName="videoview")
                self.send("POST", f"{api}/requests/videoview", json=body)
            else:
                self.send("POST", f"{api}/requests/videoview", json=body, headers=auth)

    def echo360_bad(self) -> None:
        api = "/public/api/v1/reporting"
        self.rng.choice([
            lambda: self.send("POST", "/oauth2/access_token", params={"grant_type": "client_credentials",
                                                                      "client_id": "x", "client_secret": "y"}),
            lambda: self.send("GET", f"{api}/requests", headers={"Authorization": "Bearer nope"}),
            lambda: self.send("POST", f"{api}/requests/videoview", data=DEEP,
                              headers={**JSON_CT, "Authorization": f"Bearer {self.echo_token}"}),
        ])()

    def falkor_auth(self) -> dict:
        return {"Authorization": f"Basic {self.creds['falkor']['token']}", **JSON_CT}

    def falkor(self) -> None:
        pathway = self.rng.choice(self.world["falkor"]["pathways"])["ID"]
        self.send("POST", "/v1/logs/pathway-logs", data=json.dumps({"pathway": pathway}), headers=self.falkor_auth())

    def falkor_bad(self) -> None:
        self.rng.choice([
            lambda: self.send("POST", "/v1/logs/pathway-logs", data="{not json", headers=self.falkor_auth()),
            lambda: self.send("POST", "/v1/logs/pathway-logs", data=DEEP, headers=self.falkor_auth()),
            lambda: self.send("POST", "/v1/logs/pathway-logs", data='{"pathway": "NOPE"}', headers=self.falkor_auth()),
            lambda: self.send("POST", "/v1/logs/pathway-logs", data=ONE_MB, headers=self.falkor_auth()),
        ])()

    def parkup_auth(self) -> dict:
        return {"Authorization": f"Bearer {self.creds['parkup']['token']}", **JSON_CT}

    def parkup(self) -> None:
        user = self.rng.choice(self.world["parkup"]["users"])
        body = {"refId": user["refId"], "from": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
        if self.rng.random() < 0.2:
            self.send("POST", "/api/v3/business/oauth/access_token",
                      json={"refresh_token": self.creds["parkup"]["refresh_token"], "grant_type": "refresh_token"})
        self.send("POST", "/api/v3/business/report/event/user", data=json.dumps(body), headers=self.parkup_auth())

    def parkup_bad(self) -> None:
        self.rng.choice([
            lambda: self.send("POST", "/api/v3/business/report/event/user", data='{"refId": 5}', headers=self.parkup_auth()),
            lambda: self.send("POST", "/api/v3/business/report/event/user", data=DEEP, headers=self.parkup_auth()),
            lambda: self.send("POST", "/api/v3/business/report/event/user", json={"refId": "X"},
                              headers={"Authorization": "Bearer wrong"}),
        ])()

    def admin_bad(self) -> None:
        self.rng.choice([
            lambda: self.send("PUT", "/_emulator/scenario", data=ALIAS_BOMB, headers={"Content-Type": "application/yaml"}),
            lambda: self.send("POST", "/_emulator/clock/advance", data=DEEP, headers=JSON_CT),
            lambda: self.send("POST", "/_emulator/reset", data=DEEP, headers=JSON_CT),
        ])()

    def big_body(self) -> None:
        path = self.rng.choice(["/v1/logs/pathway-logs", "/api/v3/business/report/event/user", "/_emulator/clock"])
        self.send("POST", path, data=ELEVEN_MB, headers=JSON_CT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between memory samples (default 5)")
    args = parser.parse_args()

    port = free_port()
    proc = start(port)
    url = f"http://127.0.0.1:{port}"
    counts: Counter = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    samples: list[tuple[float, int]] = []

    def client(seed: int) -> None:
        traffic = Traffic(url, seed, counts, lock)
        for n in itertools.count():
            if stop.is_set():
                return
            traffic.step()
            if seed == 0 and n % 200 == 199:  # move time on, so Echo360 requests complete and expire
                traffic.send("POST", "/_emulator/clock/advance", json={"seconds": 3600})

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while (elapsed := time.monotonic() - began) < args.minutes * 60:
            samples.append((elapsed, rss_kib(proc.pid)))
            print(f"{elapsed:6.0f} s  RSS {samples[-1][1] / 1024:7.1f} MB  requests {sum(v for k, v in counts.items() if len(k) == 3)}",
                  flush=True)
            time.sleep(args.every)
        samples.append((time.monotonic() - began, rss_kib(proc.pid)))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
        proc.terminate()
        proc.wait(timeout=10)

    def at(fraction: float) -> tuple[float, int]:
        return samples[min(len(samples) - 1, int(len(samples) * fraction))]

    warm = at(0.2)  # warm-up: the first fifth (the journal fills to its cap, caches fill)
    middle, end = at(0.6), samples[-1]
    print()
    for name, (when, kib) in (("start", samples[0]), ("after warm-up", warm), ("middle", middle), ("end", end)):
        print(f"{name:>14}: {kib / 1024:7.1f} MB at {when:5.0f} s")
    growth = (end[1] - warm[1]) / warm[1] * 100
    print(f"growth after warm-up: {growth:+.1f}%  (goal: within 10%)")
    print(f"requests: {sum(v for k, v in counts.items() if len(k) == 3)}  by class: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if len(k) == 3))
    errors = {k: v for k, v in counts.items() if len(k) > 3}
    print(f"5xx: {counts.get('5xx', 0)}  (goal: 0)")
    for key, value in sorted(errors.items()):
        print(f"  {value:6d}  {key}")


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
