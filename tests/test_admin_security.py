"""An admin API that can be closed (issue 16, section 4): HTTP Basic with --admin-auth, the Host check
against DNS rebinding (--allowed-host), and no state-changing call from a web page on another origin.

Over plain HTTP against the fixture's server and real `serve` processes, and in a real headless
Chromium (Debian's `chromium`, driven by Playwright) for the two browser attacks: a page whose name
resolves to 127.0.0.1 (DNS rebinding, simulated with Chromium's own host resolver rules) and a page on
another origin posting `text/plain` and form bodies to the admin API.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from servers import EmulatorProcess

ATTACKER = "attacker.example"
STRIGO = "/api/v1/events/{id}/reports/exercises"


def clock(url: str, **kwargs) -> str:
    return requests.get(f"{url}/_emulator/clock", **kwargs).json()["now"]


def strigo_call(url: str, **kwargs) -> requests.Response:
    """A vendor call with the vendor's own credentials (the defaults: the admin API may be closed)."""
    headers = {"Authorization": "Bearer emulator-org:strigo-emulator-key", **kwargs.pop("headers", {})}
    return requests.get(f"{url}{STRIGO.format(id='no-such-event')}", headers=headers, **kwargs)


# --- Host: DNS rebinding, over HTTP --------------------------------------------------------------

def test_a_foreign_host_name_is_refused_naming_it_and_the_flag(report_emulator, http):
    url = report_emulator.url
    before = clock(url)
    for method, path, body in [("GET", "/_emulator/credentials", None), ("GET", "/_emulator/ui", None),
                               ("POST", "/_emulator/clock/advance", {"seconds": 86400}), ("POST", "/_emulator/reset", {})]:
        answer = http.request(method, f"{url}{path}", json=body, headers={"Host": f"{ATTACKER}:{report_emulator.url.rsplit(':', 1)[1]}"})
        assert answer.status_code == 403, (method, path, answer.text)
        message = answer.json()["errors"]["Host"][0]
        assert ATTACKER in message and "--allowed-host" in message and "DNS rebinding" in message
        assert "strigo-emulator-key" not in answer.text
    assert clock(url) == before
    # Health checks call by whatever name they have: health answers any name, and tells nothing but "ok".
    assert http.get(f"{url}/_emulator/health", headers={"Host": ATTACKER}).json() == {"status": "ok"}


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.8.9.10", "[::1]"])
def test_loopback_names_are_accepted_with_any_port(report_emulator, http, host):
    for port in ("", ":1", f":{report_emulator.url.rsplit(':', 1)[1]}"):
        answer = http.get(f"{report_emulator.url}/_emulator/credentials", headers={"Host": f"{host}{port}"})
        assert answer.status_code == 200, (host, port, answer.text)


def test_vendor_paths_answer_any_host_name(report_emulator):
    """Vendor paths stay open, as the vendors' own are; only their own credentials guard them."""
    event = report_emulator.world["strigo"]["events"][0]["id"]
    headers = {"Authorization": "Bearer emulator-org:strigo-emulator-key", "Host": ATTACKER}
    answer = requests.get(f"{report_emulator.url}{STRIGO.format(id=event)}", headers=headers)
    assert answer.status_code == 200


# --- Origin and content type, over HTTP ----------------------------------------------------------

@pytest.mark.parametrize("origin", ["http://attacker.example", "http://127.0.0.1:1", "https://localhost", "null"])
def test_a_state_changing_call_from_another_origin_is_refused(report_emulator, http, origin):
    before = clock(report_emulator.url)
    answer = http.post(f"{report_emulator.url}/_emulator/clock/advance", json={"seconds": 86400},
                       headers={"Origin": origin})
    assert answer.status_code == 403
    assert origin in answer.json()["errors"]["Origin"][0]
    for method in ("PUT", "DELETE"):
        assert http.request(method, f"{report_emulator.url}/_emulator/scenario", json={"name": "x"},
                            headers={"Origin": origin}).status_code == 403
    assert clock(report_emulator.url) == before
    # Reading is not changing: a page on another origin cannot read the answer without CORS, which is never granted.
    read = http.get(f"{report_emulator.url}/_emulator/clock", headers={"Origin": origin})
    assert read.status_code == 200 and "Access-Control-Allow-Origin" not in read.headers


def test_a_state_changing_call_from_the_same_origin_is_accepted(report_emulator, http):
    before = report_emulator.now
    answer = http.post(f"{report_emulator.url}/_emulator/clock/advance", json={"seconds": 60},
                       headers={"Origin": report_emulator.url})
    assert answer.status_code == 200 and (report_emulator.now - before).total_seconds() == 60


CROSS_SITE_BODIES = [
    ("text/plain", b'{"seconds": 86400}'),
    ("text/plain;charset=UTF-8", b'{"seconds": 86400}'),
    ("application/x-www-form-urlencoded", b'{"seconds": 86400}'),
    ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="seconds"\r\n\r\n86400\r\n--x--\r\n'),
]


@pytest.mark.parametrize("content_type, body", CROSS_SITE_BODIES)
def test_bodies_any_web_page_can_send_are_refused_415_naming_the_type(report_emulator, http, content_type, body):
    before = clock(report_emulator.url)
    for method, path in [("POST", "/_emulator/clock/advance"), ("POST", "/_emulator/reset"),
                         ("PUT", "/_emulator/scenario"), ("DELETE", "/_emulator/journal")]:
        answer = http.request(method, f"{report_emulator.url}{path}", data=body, headers={"Content-Type": content_type})
        assert answer.status_code == 415, (method, path, answer.text)
        assert content_type.split(";")[0] in answer.json()["errors"]["Content-Type"][0]
    assert clock(report_emulator.url) == before


@pytest.mark.parametrize("content_type", ["application/yaml", "application/x-yaml", "text/yaml", "application/json", None])
def test_a_scenario_in_yaml_or_json_still_loads(report_emulator, http, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"name": "typed"}' if content_type in ("application/json", None) else b"name: typed\n"
    answer = http.put(f"{report_emulator.url}/_emulator/scenario", data=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["scenario"]["name"] == "typed"


# --- --admin-auth, --allowed-host: real serve processes ------------------------------------------

@pytest.fixture(scope="module")
def closed():
    """A server with --admin-auth (the password holds a colon, as it may)."""
    server = EmulatorProcess("--admin-auth", "admin:s3cret:pw", "--clock", "manual")
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["/_emulator/credentials", "/_emulator/clock", "/_emulator/ui",
                                  "/_emulator/ui/static/app.js", "/_emulator/openapi/admin.json", "/_emulator/docs",
                                  "/_emulator/nope"])
def test_admin_auth_asks_for_http_basic_on_every_admin_path(closed, path):
    for auth in (None, ("admin", "wrong"), ("other", "s3cret:pw"), ("admin", "s3cret")):
        answer = requests.get(f"{closed.url}{path}", auth=auth)
        assert answer.status_code == 401, (path, auth)
        assert answer.headers["WWW-Authenticate"].startswith('Basic realm="report-emulator admin"')
        assert answer.json()["errors"]["Authorization"] and "--admin-auth" in answer.json()["error"]
        assert "s3cret" not in answer.text
    assert requests.get(f"{closed.url}{path}", auth=("admin", "s3cret:pw")).status_code in (200, 404)


def test_admin_auth_guards_changes_and_the_right_credentials_make_them(closed):
    before = clock(closed.url, auth=("admin", "s3cret:pw"))
    refused = requests.post(f"{closed.url}/_emulator/clock/advance", json={"seconds": 3600})
    assert refused.status_code == 401
    assert clock(closed.url, auth=("admin", "s3cret:pw")) == before
    made = requests.post(f"{closed.url}/_emulator/clock/advance", json={"seconds": 3600}, auth=("admin", "s3cret:pw"))
    assert made.status_code == 200 and made.json()["now"] != before


def test_with_admin_auth_health_and_vendor_paths_stay_open(closed):
    assert requests.get(f"{closed.url}/_emulator/health").json() == {"status": "ok"}  # health checks need no secret
    assert requests.post(f"{closed.url}/_emulator/health").status_code == 401  # only GET is open
    assert strigo_call(closed.url).status_code == 404  # the vendor's own answer: no such event
    token = requests.post(f"{closed.url}/oauth2/access_token",
                          params={"grant_type": "client_credentials", "client_id": "emulator-client",
                                  "client_secret": "echo360-emulator-secret"})
    assert token.status_code == 200 and token.json()["access_token"]


def test_admin_auth_from_the_environment_and_the_banner_names_only_the_user(monkeypatch):
    monkeypatch.setenv("EMULATOR_ADMIN_AUTH", "ops:env-secret")
    server = EmulatorProcess()
    try:
        banner = server.banner()
        assert requests.get(f"{server.url}/_emulator/world").status_code == 401
        assert requests.get(f"{server.url}/_emulator/world", auth=("ops", "env-secret")).status_code == 200
    finally:
        server.stop()
    assert "env-secret" not in banner + server.output()


@pytest.mark.parametrize("args, env, words", [
    (["--admin-auth", "hunter2"], {}, "--admin-auth"),
    (["--admin-auth", ":hunter2"], {}, "--admin-auth"),
    (["--admin-auth", "user:"], {}, "--admin-auth"),
    ([], {"EMULATOR_ADMIN_AUTH": "hunter2"}, "EMULATOR_ADMIN_AUTH"),
    (["--allowed-host", "example.com:8080"], {}, "without a port"),
    (["--allowed-host", "http://example.com"], {}, "--allowed-host"),
    ([], {"EMULATOR_ALLOWED_HOST": "ok.example bad/host"}, "EMULATOR_ALLOWED_HOST"),
])
def test_bad_admin_flags_stop_serve_in_one_line_without_repeating_the_password(args, env, words):
    done = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})
    assert done.returncode == 2
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "hunter2" not in done.stderr


def test_every_worker_process_guards_the_admin_api(tmp_path):
    server = EmulatorProcess("--workers", "2", "--state", f"sqlite:{tmp_path / 'state.db'}", "--admin-auth", "a:b")
    try:
        # Several connections, so that both workers answer some of them.
        answers = [requests.get(f"{server.url}/_emulator/clock", headers={"Connection": "close"}) for _ in range(12)]
        assert {a.status_code for a in answers} == {401}
        assert requests.get(f"{server.url}/_emulator/clock", headers={"Host": ATTACKER}, auth=("a", "b")).status_code == 403
        assert requests.get(f"{server.url}/_emulator/clock", auth=("a", "b")).status_code == 200
    finally:
        server.stop()


def test_allowed_hosts_from_the_flag_and_the_environment(monkeypatch):
    monkeypatch.setenv("EMULATOR_ALLOWED_HOST", "emulator.internal  ci.example.")
    from_env = EmulatorProcess()
    from_flag = EmulatorProcess("--allowed-host", "Emulator", "--allowed-host", "10.9.8.7")
    try:
        def status(server, host):
            return requests.get(f"{server.url}/_emulator/clock", headers={"Host": host}).status_code

        assert status(from_env, "emulator.internal:8080") == 200 and status(from_env, "CI.example") == 200
        assert status(from_env, "emulator") == 403 and status(from_env, ATTACKER) == 403
        assert status(from_flag, "emulator:80") == 200 and status(from_flag, "10.9.8.7") == 200
        assert status(from_flag, "emulator.internal") == 403 and status(from_flag, "10.9.8.6") == 403
    finally:
        from_env.stop()
        from_flag.stop()


def test_allowed_host_star_accepts_any_name():
    server = EmulatorProcess("--allowed-host", "*")
    try:
        assert requests.get(f"{server.url}/_emulator/clock", headers={"Host": ATTACKER}).status_code == 200
        # The Origin check still holds: a page may not change state from another origin.
        refused = requests.post(f"{server.url}/_emulator/reset", json={},
                                headers={"Host": ATTACKER, "Origin": "http://elsewhere.example"})
        assert refused.status_code == 403
    finally:
        server.stop()


def own_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_bound_to_every_interface_the_machines_own_name_and_addresses_are_accepted():
    server = EmulatorProcess("--host", "0.0.0.0")
    try:
        def status(host):
            return requests.get(f"{server.url}/_emulator/clock", headers={"Host": host}).status_code

        assert status(f"{socket.gethostname()}:{server.port}") == 200
        assert status(ATTACKER) == 403 and status("203.0.113.9") == 403  # a name, or an address not this machine's
        address = own_address()
        if address is not None:
            answer = requests.get(f"http://{address}:{server.port}/_emulator/clock")
            assert answer.status_code == 200
    finally:
        server.stop()


def test_bound_to_loopback_the_machines_own_name_is_refused():
    """Only 0.0.0.0 or :: widen the names: on 127.0.0.1 the machine's name is not a name the server is bound to."""
    server = EmulatorProcess()
    try:
        answer = requests.get(f"{server.url}/_emulator/clock", headers={"Host": socket.gethostname()})
        assert answer.status_code == 403
    finally:
        server.stop()


# --- the pytest fixture ---------------------------------------------------------------------------

def test_the_fixture_works_with_admin_auth_set_for_its_server(pytester):
    pytester.makeconftest("""
import dataclasses
import pytest

@pytest.fixture(scope="session")
def report_emulator_settings(report_emulator_settings):
    return dataclasses.replace(report_emulator_settings, admin_auth="tester:pw")
""")
    pytester.makepyfile("""
import requests

def test_closed_yet_usable(report_emulator):
    assert report_emulator.admin_auth == ("tester", "pw")
    assert requests.get(report_emulator.url + "/_emulator/clock").status_code == 401
    assert requests.get(report_emulator.url + "/_emulator/clock", auth=report_emulator.admin_auth).status_code == 200
    before = report_emulator.now
    report_emulator.advance(60)
    assert (report_emulator.now - before).total_seconds() == 60
    report_emulator.load_scenario({"name": "x"})
    assert report_emulator.scenario["scenario"]["name"] == "x"
    assert report_emulator.credentials["strigo"]["api_key"]
    report_emulator.reset()

def test_open_by_default_is_not_this_session(report_emulator):
    assert report_emulator.admin_auth is not None
""")
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_the_fixture_reports_no_admin_auth_by_default(report_emulator):
    assert report_emulator.admin_auth is None


# --- in a real browser ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(chromium):
    """Headless Chromium in which attacker.example resolves to 127.0.0.1, as after a DNS rebinding."""
    return chromium(f"--host-resolver-rules=MAP {ATTACKER} 127.0.0.1")


FETCH_STATUS = """async ([method, path, body]) => {
  const init = {method, headers: {}};
  if (body !== null) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const answer = await fetch(path, init);
  return [answer.status, await answer.text()];
}"""


def test_dns_rebinding_in_chromium_cannot_read_or_change_anything(browser, report_emulator):
    """A page at attacker.example:PORT, once that name resolves to 127.0.0.1, calls the admin API as its
    own origin: every call is 403; the same script on localhost is answered (the test can fail)."""
    port = report_emulator.url.rsplit(":", 1)[1]
    before = report_emulator.now
    page = browser.new_page()
    try:
        page.goto(f"http://{ATTACKER}:{port}/")
        for method, path, body in [("GET", "/_emulator/credentials", None), ("GET", "/_emulator/ui", None),
                                   ("POST", "/_emulator/clock/advance", {"seconds": 86400}),
                                   ("PUT", "/_emulator/scenario", {"name": "rebound"})]:
            status, text = page.evaluate(FETCH_STATUS, [method, path, body])
            assert status == 403 and ATTACKER in text and "strigo-emulator-key" not in text, (method, path, text)
        assert report_emulator.now == before and report_emulator.scenario["scenario"] is None

        page.goto(f"http://localhost:{port}/")
        status, text = page.evaluate(FETCH_STATUS, ["GET", "/_emulator/credentials", None])
        assert status == 200 and "strigo-emulator-key" in text
        status, _ = page.evaluate(FETCH_STATUS, ["POST", "/_emulator/clock/advance", {"seconds": 60}])
        assert status == 200 and (report_emulator.now - before).total_seconds() == 60
    finally:
        page.close()


ATTACK_PAGE = """<!doctype html><html><body>
<iframe name="sink-form"></iframe><iframe name="sink-plain"></iframe>
<form id="form" method="POST" target="sink-form" action="{admin}/reset"><input name="seed" value="99"></form>
<form id="plain" method="POST" target="sink-plain" enctype="text/plain" action="{admin}/clock/advance">
  <input name='{{"seconds": 86400, "x": "' value='"}}'></form>
<script>
async function attack() {{
  const sent = [];
  for (const [path, body, type] of [["/clock/advance", '{{"seconds": 86400}}', "text/plain"],
                                     ["/clock/advance", new URLSearchParams({{seconds: "86400"}}), null],
                                     ["/clock", '{{"now": "2030-01-01T00:00:00Z"}}', "text/plain"],
                                     ["/reset", new Blob(['{{"seed": 99}}']), null]]) {{
    const init = {{method: "POST", mode: "no-cors", body}};  // PUT and DELETE cannot be sent no-cors
    if (type) init.headers = {{"Content-Type": type}};
    try {{ await fetch("{admin}" + path, init); sent.push("sent"); }} catch (err) {{ sent.push(String(err)); }}
  }}
  return sent;
}}
</script></body></html>"""


@pytest.fixture
def attacker_site(report_emulator):
    """A real web server for attacker.example on another port, serving a page that attacks the admin API."""
    page = ATTACK_PAGE.format(admin=f"{report_emulator.url}/_emulator").encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{ATTACKER}:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def wait_for_answers(page, statuses: list, count: int, seconds: float = 30) -> None:
    """Until `count` admin answers have been seen (the page's events are handled while it waits)."""
    for _ in range(int(seconds * 20)):
        if len(statuses) >= count:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"{len(statuses)} admin answers seen, {count} expected: {statuses}")


def test_cross_site_posts_in_chromium_are_refused(browser, report_emulator, attacker_site):
    """text/plain, form and untyped bodies sent by fetch (no-cors) and by form posts from a page on another
    origin, to a server on loopback: each reaches the server and is refused; nothing changes."""
    before = report_emulator.now
    seed = report_emulator.emulator.world.seed
    page = browser.new_page()
    statuses: list[tuple[str, str, int]] = []
    page.on("response", lambda r: statuses.append((r.request.method, r.url, r.status)) if "/_emulator/" in r.url else None)
    try:
        page.goto(attacker_site)
        assert page.evaluate("attack()") == ["sent"] * 4  # opaque answers: the page cannot see them
        # One call at a time, each seen answered before the next: a response event of a fetch can come
        # after evaluate() returns. Each form posts into a frame of its own: a second post into a frame
        # that already shows the server's (cross-origin) answer was sometimes never sent by Chromium.
        wait_for_answers(page, statuses, 4)
        for count, form in ((5, "form"), (6, "plain")):
            page.evaluate(f"document.getElementById('{form}').submit()")
            wait_for_answers(page, statuses, count)
        page.wait_for_timeout(200)
    finally:
        page.close()
    admin_calls = [(method, url.split("/_emulator")[1], status) for method, url, status in statuses]
    assert sorted(admin_calls) == sorted([("POST", "/clock/advance", 403), ("POST", "/clock/advance", 403),
                                          ("POST", "/clock", 403), ("POST", "/reset", 403),
                                          ("POST", "/reset", 403), ("POST", "/clock/advance", 403)])
    assert report_emulator.now == before and report_emulator.emulator.world.seed == seed


def test_the_dashboard_in_chromium_works_with_admin_auth(browser, closed):
    """Without credentials the page is 401; with them (as a person types them at the prompt) it loads and
    its own calls go through."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context()
    page = context.new_page()
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status))
    try:
        with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):  # no one to type them in
            page.goto(f"{closed.url}/_emulator/ui")
        assert statuses == [401]
    finally:
        context.close()
    context = browser.new_context(http_credentials={"username": "admin", "password": "s3cret:pw"})
    page = context.new_page()
    try:
        assert page.goto(f"{closed.url}/_emulator/ui").status == 200
        from playwright.sync_api import expect

        expect(page.locator("body")).not_to_be_empty()
        status, text = page.evaluate(FETCH_STATUS, ["POST", "/_emulator/clock/advance", {"seconds": 5}])
        assert status == 200, text
    finally:
        context.close()
