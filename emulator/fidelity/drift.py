"""`report-emulator drift DIR`: where the recorded vendor and the emulator differ, on shape, not values.

Each recorded exchange is compared twice:

1. With the emulator's contract of its operation (the same declarations the OpenAPI documents and
   strict mode use): the status is documented, the content type is, and the JSON body keeps to the
   documented schema (field names and nesting, types, formats of dates and uuids, enum values,
   required fields; a field not declared where the schema closes the object).
2. With the emulator's own answer to the same request, from an emulator run in this process (manual
   clock at the first recording's time, seed 1): the same status, content type, documented headers,
   gzip or not, CSV columns in the same order, and JSON of the same shape (a field the emulator always
   sends and the vendor lacks, a field the vendor sends that neither the emulator nor the contract
   has, a value of another type or format).

To get comparable answers the request is sent with the emulator's own credentials where the recording
masked the vendor's (an invalid one where the vendor refused it with 401 or 403), with ids of the
emulator's world where the vendor's are unknown to it, and, for Echo360, with the emulator's own request
ids, tokens and signed links, its clock moved so that each report request has the status the vendor
gave it. Places are JSON pointers in which `*` stands for every item of an array, `status`,
`header <name>`, `Content-Type`, `body` (gzip or not) or `CSV column <name>`.
"""
from __future__ import annotations

import base64
import csv
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from . import har
from .recordings import Exchange, read_folder

PROCESSING_SECONDS = 600  # an Echo360 request is Pending this long in the comparing emulator
EXPIRY_SECONDS = 14 * 86400
ARRAY_ITEMS = 1000  # items of one array compared (the rest are alike or not, the shape is the same)
ABSENT = "absent"


@dataclass
class Finding:
    operation: str
    place: str
    what: str
    vendor: Any = None
    emulator: Any = None
    contract: Any = None
    file: str = ""

    def line(self) -> str:
        sides = [f"vendor: {_show(self.vendor)}"]
        if self.emulator is not None:
            sides.append(f"emulator: {_show(self.emulator)}")
        if self.contract is not None:
            sides.append(f"contract: {_show(self.contract)}")
        return f"{self.operation}  {self.place}  {self.what}  ({'; '.join(sides)})  [{self.file}]"


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class Report:
    exchanges: int = 0
    operations: dict[str, int] = field(default_factory=dict)  # label -> exchanges compared
    findings: list[Finding] = field(default_factory=list)
    bad_input: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 2 if self.bad_input else (1 if self.findings else 0)


# --- shapes ----------------------------------------------------------------------------------------


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _loose(kinds: set[str]) -> set[str]:
    return {"number" if k == "integer" else k for k in kinds if k != "null"}


class Shape:
    """What every value at one place looked like: kinds, string formats, fields (objects), items (arrays)."""

    def __init__(self):
        self.kinds: set[str] = set()
        self.formats: set[str] = set()
        self.fields: dict[str, Shape] = {}
        self.present: Counter = Counter()
        self.objects = 0
        self.items: Shape | None = None

    def add(self, value: Any) -> "Shape":
        self.kinds.add(kind(value))
        if isinstance(value, str) and value:
            self.formats.add(har.string_format(value) or "plain")
        elif isinstance(value, dict):
            self.objects += 1
            for key, item in value.items():
                self.present[key] += 1
                self.fields.setdefault(key, Shape()).add(item)
        elif isinstance(value, list):
            self.items = self.items or Shape()
            for item in value[:ARRAY_ITEMS]:
                self.items.add(item)
        return self


def _pointer(base: str, key: str) -> str:
    return f"{base}/{key.replace('~', '~0').replace('/', '~1')}"


class Comparison:
    """One operation's findings, merged by (place, what) so that the contract and the emulator agree once."""

    def __init__(self, label: str, file: str, error: bool, document: dict | None):
        self.label = label
        self.file = file
        self.error = error
        self.document = document or {}
        self.found: dict[tuple[str, str], Finding] = {}

    def add(self, place: str, what: str, vendor: Any, emulator: Any = None, contract: Any = None) -> None:
        if self.error and not place.startswith(("status", "header", "Content-Type")):
            what = f"error envelope: {what}"
        key = (place, what)
        found = self.found.get(key)
        if found is None:
            self.found[key] = Finding(self.label, place, what, vendor, emulator, contract, self.file)
        else:
            found.emulator = found.emulator if emulator is None else emulator
            found.contract = found.contract if contract is None else contract

    # -- against the contract's schema -----------------------------------------------------------

    def resolve(self, schema: Any) -> dict:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 50:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.document.get("components", {}).get("schemas", {}).get(name, {})
            seen += 1
        return schema if isinstance(schema, dict) else {}

    def check(self, value: Any, schema: Any, at: str) -> None:
        schema = self.resolve(schema)
        choices = schema.get("oneOf") or schema.get("anyOf")
        if choices:
            best = None
            for choice in choices:
                trial = Comparison(self.label, self.file, False, self.document)
                trial.check(value, choice, at)
                if best is None or len(trial.found) < len(best.found):
                    best = trial
            for finding in best.found.values():
                self.add(finding.place, finding.what, finding.vendor, contract=finding.contract)
            return
        expected = schema.get("type")
        if value is None:
            if expected and not schema.get("nullable"):
                self.add(at, "type", "null", contract=expected)
            return
        actual = kind(value)
        if expected and not (actual == expected or (expected == "number" and actual == "integer")):
            self.add(at, "type", actual, contract=expected)
            return
        if "enum" in schema and value not in schema["enum"]:
            self.add(at, "enum value", value, contract=schema["enum"])
        if isinstance(value, str) and value and schema.get("format") in ("date-time", "date", "uuid"):
            got = har.string_format(value) or "plain"
            if got != schema["format"]:
                self.add(at, "format", got, contract=schema["format"])
        if isinstance(value, dict):
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties", True)
            for key, item in value.items():
                if key in properties:
                    self.check(item, properties[key], _pointer(at, key))
                elif isinstance(extra, dict):
                    self.check(item, extra, _pointer(at, key))
                elif extra is False:
                    self.add(_pointer(at, key), "unknown field", kind(item), contract=ABSENT)
            for key in schema.get("required", []):
                if key not in value:
                    self.add(_pointer(at, key), "missing field", ABSENT,
                             contract=self.resolve(properties.get(key, {})).get("type", "present"))
        elif isinstance(value, list) and "items" in schema:
            for item in value[:ARRAY_ITEMS]:
                self.check(item, schema["items"], at + "/*")

    def declares(self, schema: Any, parts: list[str]) -> bool:
        """Whether the contract names the field at this place (a property, or a schema for other fields)."""
        schema = self.resolve(schema)
        if not parts:
            return True
        for choice in schema.get("oneOf") or schema.get("anyOf") or []:
            if self.declares(choice, parts):
                return True
        head, rest = parts[0], parts[1:]
        if head == "*":
            return "items" in schema and self.declares(schema["items"], rest)
        if head in schema.get("properties", {}):
            return self.declares(schema["properties"][head], rest)
        extra = schema.get("additionalProperties")
        return isinstance(extra, dict) and self.declares(extra, rest)

    # -- against the emulator's answer ------------------------------------------------------------

    def shapes(self, vendor: Shape, emulator: Shape, at: str, schema: Any, parts: list[str]) -> None:
        vk, ek = _loose(vendor.kinds), _loose(emulator.kinds)
        if vk and ek and vk.isdisjoint(ek):
            self.add(at or "/", "type", _kinds(vendor.kinds), emulator=_kinds(emulator.kinds))
            return
        vf, ef = vendor.formats, emulator.formats
        if vf and ef and vf.isdisjoint(ef):
            self.add(at or "/", "format", "/".join(sorted(vf)), emulator="/".join(sorted(ef)))
        if vendor.objects and emulator.objects:
            for key, inner in vendor.fields.items():
                if key not in emulator.fields:
                    if schema is None or not self.declares(schema, parts + [key]):
                        self.add(_pointer(at, key), "unknown field", _kinds(inner.kinds), emulator=ABSENT)
            for key, inner in emulator.fields.items():
                if emulator.present[key] == emulator.objects and vendor.present.get(key, 0) < vendor.objects:
                    self.add(_pointer(at, key), "missing field", ABSENT, emulator=_kinds(inner.kinds))
            for key in vendor.fields.keys() & emulator.fields.keys():
                self.shapes(vendor.fields[key], emulator.fields[key], _pointer(at, key), schema, parts + [key])
        if vendor.items and emulator.items and vendor.items.kinds and emulator.items.kinds:
            self.shapes(vendor.items, emulator.items, at + "/*", schema, parts + ["*"])

    def columns(self, vendor: list[str], emulator: list[str]) -> None:
        """CSV columns: missing, unknown, and moved (those outside the longest common order)."""
        def family(name: str) -> str:
            return "".join("N" if c.isdigit() else c for c in name)

        emulator_families = {family(c) for c in emulator}
        vendor_families = {family(c) for c in vendor}
        for name in vendor:
            if name not in emulator and family(name) not in emulator_families:
                self.add(f"CSV column {name}", "unknown column", f"position {vendor.index(name) + 1}", emulator=ABSENT)
        for name in emulator:
            if name not in vendor and family(name) not in vendor_families:
                self.add(f"CSV column {name}", "missing column", ABSENT, emulator=f"position {emulator.index(name) + 1}")
        common_v = [c for c in vendor if c in emulator]
        common_e = [c for c in emulator if c in vendor]
        keep = set(_lcs(common_v, common_e))
        for name in common_v:
            if name not in keep:
                self.add(f"CSV column {name}", "moved column", f"position {vendor.index(name) + 1}",
                         emulator=f"position {emulator.index(name) + 1}")


def _kinds(kinds: set[str]) -> str:
    shown = sorted(k for k in kinds if k != "null") or ["null"]
    return "/".join(shown)


def _lcs(a: list[str], b: list[str]) -> list[str]:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            out.append(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def csv_header(body: bytes) -> list[str] | None:
    data = har.gunzip_prefix(body) if har.is_gzip(body) else body
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not line:
        return None
    return next(csv.reader([line], delimiter=har.sniff_delimiter(line)), None)


# --- the run -----------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class Driver:
    """The in-process emulator, and what it takes to send it each recorded request."""

    def __init__(self, start):
        from ..app import create_app
        from ..settings import Settings

        self.app = create_app(Settings(clock="manual", now=start))
        self.client = self.app.test_client()
        self.emulator = self.app.extensions["emulator"]
        self.emulator.load_scenario({"echo360": {"processing_seconds": PROCESSING_SECONDS}})
        self.world = self.client.get("/_emulator/world").get_json()
        self.adapter = self.app.url_map.bind("emulator.invalid")
        self.state: dict[str, Any] = {"ids": {}, "links": {}, "advanced": set(), "advances": 0}

    def credentials(self, vendor: str) -> dict[str, str]:
        return self.emulator.vendors[vendor].credentials()

    def call(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes) -> Answer:
        result = self.client.open(path, method=method, query_string=urlencode(query), headers=headers, data=body)
        answer = Answer(result.status_code, {k.lower(): v for k, v in result.headers.items()}, result.get_data())
        result.close()
        return answer

    def identify(self, exchange: Exchange) -> tuple[str | None, dict]:
        from werkzeug.exceptions import HTTPException
        from werkzeug.routing import RequestRedirect

        path, here = exchange.local_path()
        if not here:
            signed = any(har.is_signature_param(n) for n, _ in parse_qsl(exchange.query, keep_blank_values=True))
            if exchange.vendor == "echo360" and signed:
                return "echo360.download", {"asset_name": path.rsplit("/", 1)[-1]}
            return None, {}
        try:
            endpoint, args = self.adapter.match(path, method=exchange.method)
        except (HTTPException, RequestRedirect):
            return None, {}
        return endpoint, args

    def advance(self, seconds: int) -> None:
        self.client.post("/_emulator/clock/advance", json={"seconds": seconds})
        self.state["advances"] += 1

    def echo360_token(self, fresh: bool = False) -> str:
        state = self.state
        if fresh or "access_token" not in state or state.get("token_advances") != state["advances"]:
            creds = self.credentials("echo360")
            answer = self.client.post("/oauth2/access_token", query_string={
                "grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]})
            token = answer.get_json() or {}
            state["access_token"] = token.get("access_token", "")
            state["refresh_token"] = token.get("refresh_token", "")
            state["token_advances"] = state["advances"]
        return state["access_token"]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class Drift:
    def __init__(self, folder: str):
        self.folder = folder
        self.report = Report()
        self.documents: dict[str, dict] = {}

    def run(self) -> Report:
        from ..settings import parse_instant

        found = read_folder(self.folder)
        self.report.bad_input = found.problems
        exchanges = found.exchanges
        self.report.exchanges = len(exchanges)
        if not exchanges:
            if not found.problems:
                self.report.bad_input.append((self.folder, "holds no recording"))
            return self.report
        try:
            start = parse_instant(exchanges[0].entry.get("startedDateTime", ""))
        except (ValueError, TypeError):
            start = None
        self.driver = Driver(start)
        self.lookahead = self._final_statuses(exchanges)
        for exchange in exchanges:
            try:
                self.compare(exchange)
            except Exception as exc:  # a recording this code did not foresee: name it, go on with the rest
                self.report.bad_input.append((exchange.file, f"could not be compared: {type(exc).__name__}: {exc}"))
        return self.report

    def _final_statuses(self, exchanges: list[Exchange]) -> dict[str, str]:
        """Echo360: each recorded request id's first status past Pending (Available, Failed, Missing)."""
        final: dict[str, str] = {}
        for exchange in exchanges:
            if exchange.vendor != "echo360" or exchange.failed:
                continue
            for request_id, status in _echo360_statuses(_json(exchange.response_body())):
                if status in ("Available", "Failed", "Missing"):  # the outcomes the emulator can give
                    final.setdefault(request_id, status)
        return final

    def document(self, vendor: str) -> dict:
        from ..core.openapi import build_document
        from ..vendors import VENDORS

        if vendor not in self.documents:
            spec = next(v for v in VENDORS if v.name == vendor)
            self.documents[vendor] = build_document(spec.contract) if spec.contract else {}
        return self.documents[vendor]

    def compare(self, exchange: Exchange) -> None:
        from ..vendors import VENDORS

        if exchange.failed:
            self.report.notes.append(f"{exchange.file}: the upstream gave no answer ({exchange.entry['_failure'].get('message', '')}); not compared")
            return
        driver = self.driver
        endpoint, args = driver.identify(exchange)
        spec = next(v for v in VENDORS if v.name == exchange.vendor)
        path, _ = exchange.local_path()
        if endpoint is None or not endpoint.startswith(exchange.vendor + "."):
            label = f"{exchange.method} {path}"
            self.report.operations[label] = self.report.operations.get(label, 0) + 1
            self.report.findings.append(Finding(label, "path", "operation the emulator does not have",
                                                exchange.response["status"], ABSENT, None, exchange.file))
            return
        op = spec.contract.for_endpoint(endpoint) if spec.contract else None
        if op is not None and op.method != exchange.method:
            op = next((o for o in spec.contract.operations if o.endpoint == endpoint and o.method == exchange.method), op)
        label = f"{op.method} {op.path}" if op else ("GET {signed asset link}" if endpoint == "echo360.download"
                                                       else f"{exchange.method} {path}")
        self.report.operations[label] = self.report.operations.get(label, 0) + 1
        status = exchange.response["status"]
        comparison = Comparison(label, exchange.file, status >= 400, self.document(exchange.vendor))
        emulator = self.ask_emulator(exchange, endpoint, args)
        self.compare_answers(exchange, op, comparison, emulator)
        self.report.findings.extend(comparison.found.values())

    # -- sending the recorded request to the emulator ---------------------------------------------

    def ask_emulator(self, exchange: Exchange, endpoint: str, args: dict) -> Answer | None:
        driver = self.driver
        vendor = exchange.vendor
        refused = exchange.response["status"] in (401, 403)
        success = 200 <= exchange.response["status"] < 300
        headers = {h["name"]: h["value"] for h in exchange.request.get("headers", [])
                   if h["name"].lower() not in har.HOP_BY_HOP
                   and h["name"].lower() not in ("host", "content-length", "accept-encoding")}
        query = parse_qsl(exchange.query, keep_blank_values=True)
        body = exchange.request_body()
        creds = driver.credentials(vendor)
        auth = next((k for k in headers if k.lower() == "authorization"), None)
        masked_auth = auth is not None and headers[auth].endswith(har.MASK)
        bad = "invalid-credential"
        if vendor == "strigo":
            if masked_auth:
                headers[auth] = f"Bearer {bad}:{bad}" if refused else f"Bearer {creds['org_id']}:{creds['api_key']}"
            if success:
                for key, kind_ in (("event_id", "events"), ("course_id", "courses")):
                    known = [e["id"] for e in driver.world.get("strigo", {}).get(kind_, [])]
                    if key in args and known and args[key] not in known:
                        args[key] = known[0]
        elif vendor == "falkor":
            if masked_auth:
                headers[auth] = "Basic " + (base64.b64encode(bad.encode()).decode() if refused else creds["token"])
            payload = _json(body)
            pathways = driver.world.get("falkor", {}).get("pathways", [])
            if success and isinstance(payload, dict) and pathways and payload.get("pathway") not in \
                    {p["ID"] for p in pathways} | {p["name"] for p in pathways}:
                payload["pathway"] = pathways[0]["name"]
                body = json.dumps(payload).encode()
        elif vendor == "parkup":
            if masked_auth:
                headers[auth] = f"Bearer {bad}" if refused else f"Bearer {driver.state.get('parkup_token') or creds['token']}"
            payload = _json(body)
            if isinstance(payload, dict):
                if payload.get("refresh_token") == har.MASK:
                    payload["refresh_token"] = bad if refused else creds["refresh_token"]
                users = driver.world.get("parkup", {}).get("users", [])
                if success and "refId" in payload and users and not any(
                        u["refId"] == payload.get("refId") and payload.get("customerId") in (None, u["customerId"])
                        for u in users):
                    payload["refId"] = users[0]["refId"]
                    if payload.get("customerId") is not None:
                        payload["customerId"] = users[0]["customerId"]
                body = json.dumps(payload).encode()
        elif vendor == "echo360":
            result = self.echo360_request(exchange, endpoint, args, headers, query, body, refused)
            if result is None:
                return None
            path, query, body = result
            return self.echo360_after(exchange, endpoint, driver.call(exchange.method, path, query, headers, body))
        path = driver.adapter.build(endpoint, args)
        answer = driver.call(exchange.method, path, query, headers, body)
        if vendor == "parkup" and endpoint == "parkup.access_token" and answer.status == 200:
            driver.state["parkup_token"] = (_json(answer.body) or {}).get("access_token")
        return answer

    def echo360_request(self, exchange, endpoint, args, headers, query, body, refused):
        driver = self.driver
        state = driver.state
        bad = "invalid-credential"
        if endpoint == "echo360.download":
            link = state["links"].get(args["asset_name"])
            if link is None:
                self.report.notes.append(f"{exchange.file}: no emulator link for asset {args['asset_name']}; "
                                         "compared with the contract only")
                return None
            parts = urlsplit(link)
            return parts.path, parse_qsl(parts.query, keep_blank_values=True), body
        if endpoint == "echo360.access_token":
            creds = driver.credentials("echo360")
            media = media_type(next((v for k, v in headers.items() if k.lower() == "content-type"), ""))

            def fix(pairs):
                out = []
                for name, value in pairs:
                    if name == "client_id":
                        value = creds["client_id"]
                    elif name == "client_secret":
                        value = bad if refused else creds["client_secret"]
                    elif name == "refresh_token":
                        value = bad if refused else state.get("refresh_token", bad)
                    out.append((name, value))
                return out

            query = fix(query)
            if media == "application/x-www-form-urlencoded" and body:
                body = urlencode(fix(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))).encode()
            return "/oauth2/access_token", query, body
        token = bad if refused else driver.echo360_token()
        for name in list(headers):
            if name.lower() == "authorization" and headers[name].endswith(har.MASK):
                headers[name] = f"Bearer {token}"
        query = [(n, token if n == "access_token" and v == har.MASK else v) for n, v in query]
        payload = _json(body)
        if isinstance(payload, dict) and payload.get("access_token") == har.MASK:
            payload["access_token"] = token
            body = json.dumps(payload).encode()
        # The clock: each request the vendor had past Pending is past Pending here too.
        for request_id, status in _echo360_statuses(_json(exchange.response_body())):
            mine = state["ids"].get(request_id)
            if mine and status in ("Available", "Failed", "Missing", "Expired") and (mine, status) not in state["advanced"]:
                done = {s for m, s in state["advanced"] if m == mine}
                if not done:
                    driver.advance(PROCESSING_SECONDS + 1)
                if status == "Expired" and "Expired" not in done:
                    driver.advance(EXPIRY_SECONDS)
                state["advanced"].add((mine, status))
                token = bad if refused else driver.echo360_token()
                for name in list(headers):
                    if name.lower() == "authorization" and not refused:
                        headers[name] = f"Bearer {token}"
        for key in ("report_or_request", "request_id"):
            if key in args and args[key] in state["ids"]:
                args[key] = state["ids"][args[key]]
        if endpoint == "echo360.submit":
            recorded = _json(exchange.response_body()) or {}
            outcome = self.lookahead.get(recorded.get("requestId"), "Available") if isinstance(recorded, dict) else "Available"
            driver.emulator.load_scenario({"echo360": {"processing_seconds": PROCESSING_SECONDS, "outcomes": [outcome]}})
        return driver.adapter.build(endpoint, args), query, body

    def echo360_after(self, exchange: Exchange, endpoint: str, answer: Answer) -> Answer:
        state = self.driver.state
        recorded, mine = _json(exchange.response_body()), _json(answer.body)
        if not (isinstance(recorded, dict) and isinstance(mine, dict)):
            return answer
        if endpoint == "echo360.access_token":
            state["access_token"] = mine.get("access_token", state.get("access_token"))
            state["refresh_token"] = mine.get("refresh_token", state.get("refresh_token"))
            state["token_advances"] = state["advances"]
        if endpoint == "echo360.submit" and recorded.get("requestId") and mine.get("requestId"):
            state["ids"][recorded["requestId"]] = mine["requestId"]
        for theirs, ours in zip(recorded.get("signedAssets") or [], mine.get("signedAssets") or []):
            if isinstance(theirs, str) and isinstance(ours, str):
                state["links"][urlsplit(theirs).path.rsplit("/", 1)[-1]] = ours
        return answer

    # -- comparing ------------------------------------------------------------------------------

    def compare_answers(self, exchange: Exchange, op, comparison: Comparison, emulator: Answer | None) -> None:
        status = exchange.response["status"]
        if emulator is not None and emulator.status != status:
            comparison.add("status", "status code", status, emulator=emulator.status)
        reply = op.responses.get(status) if op is not None else None
        if op is not None and reply is None:
            comparison.add("status", "status code the contract does not document", status, contract=sorted(op.responses))
        same = emulator if emulator is not None and emulator.status == status else None
        body = exchange.response_body()
        vendor_media = media_type(exchange.header(exchange.response, "Content-Type")
                                  or (exchange.response.get("content") or {}).get("mimeType"))
        if same is not None and media_type(same.headers.get("content-type")) != vendor_media:
            comparison.add("Content-Type", "content type", vendor_media or ABSENT,
                           emulator=media_type(same.headers.get("content-type")) or ABSENT)
        if reply is not None and (reply.schema is not None or reply.example is not None or reply.alternatives):
            documented = sorted({reply.content_type, *reply.alternatives})
            if vendor_media not in documented:
                comparison.add("Content-Type", "content type the contract does not document", vendor_media or ABSENT,
                               contract=documented)
        if same is not None and reply is not None:
            for name in reply.headers:
                theirs = exchange.header(exchange.response, name)
                ours = same.headers.get(name.lower())
                if (theirs is None) != (ours is None):
                    comparison.add(f"header {name}", "documented header", "present" if theirs is not None else ABSENT,
                                   emulator="present" if ours is not None else ABSENT)
        if same is not None and har.is_gzip(body) != har.is_gzip(same.body):
            comparison.add("body", "gzip", "gzip" if har.is_gzip(body) else "not gzip",
                           emulator="gzip" if har.is_gzip(same.body) else "not gzip")
        if "json" in vendor_media:
            self.compare_json(exchange, op, status, vendor_media, comparison, same, body)
        elif "csv" in vendor_media or har.is_gzip(body) or vendor_media in ("application/octet-stream", "application/gzip"):
            theirs = csv_header(body)
            ours = csv_header(same.body) if same is not None else None
            if theirs and ours:
                comparison.columns(theirs, ours)

    def compare_json(self, exchange, op, status, media, comparison, same, body) -> None:
        if exchange.response_cut():
            self.report.notes.append(f"{exchange.file}: the JSON body was cut when recorded; its fields are not compared")
            return
        try:
            theirs = json.loads(body)
        except ValueError:
            comparison.add("body", "not valid JSON", "malformed", contract="application/json")
            return
        schema = None
        if op is not None:
            content = (comparison.document.get("paths", {}).get(op.path, {}).get(op.method.lower(), {})
                       .get("responses", {}).get(str(status), {}).get("content", {}))
            schema = (content.get(media) or content.get("application/json") or {}).get("schema")
        if schema is not None:
            comparison.check(theirs, schema, "")
        if same is not None and "json" in media_type(same.headers.get("content-type")):
            ours = _json(same.body)
            if ours is not None or same.body.strip() == b"null":
                comparison.shapes(Shape().add(theirs), Shape().add(ours), "", schema, [])


def _echo360_statuses(payload: Any) -> list[tuple[str, str]]:
    """(requestId, status) of each report request in an Echo360 answer (a detail, or a list)."""
    if not isinstance(payload, dict):
        return []
    items = payload.get("requests") if isinstance(payload.get("requests"), list) else [payload]
    return [(i["requestId"], i["status"]) for i in items
            if isinstance(i, dict) and isinstance(i.get("requestId"), str) and isinstance(i.get("status"), str)]


def run(folder: str) -> Report:
    return Drift(folder).run()


# --- output --------------------------------------------------------------------------------------


def as_text(report: Report) -> str:
    lines = []
    for name, problem in report.bad_input:
        lines.append(f"bad input: {name}: {problem}")
    for finding in report.findings:
        lines.append(f"drift: {finding.line()}")
    for note in report.notes:
        lines.append(f"note: {note}")
    lines.append(f"{report.exchanges} exchanges, {len(report.operations)} operations, {len(report.findings)} "
                 f"differences, {len(report.bad_input)} bad files")
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    return json.dumps({
        "exchanges": report.exchanges,
        "operations": report.operations,
        "findings": [asdict(f) for f in report.findings],
        "bad_input": [{"file": name, "problem": problem} for name, problem in report.bad_input],
        "notes": report.notes,
        "exit_code": report.exit_code,
    }, indent=2) + "\n"


def as_junit(report: Report) -> str:
    """One test case per operation (fails with its differences), one per bad file (an error)."""
    cases = []
    for label in sorted(report.operations):
        mine = [f for f in report.findings if f.operation == label]
        name = quoteattr(label)
        if mine:
            text = escape("\n".join(f.line() for f in mine))
            cases.append(f'  <testcase classname="drift" name={name}><failure message='
                         f'{quoteattr(f"{len(mine)} differences from the emulator")}>{text}</failure></testcase>')
        else:
            cases.append(f'  <testcase classname="drift" name={name}/>')
    for file, problem in report.bad_input:
        cases.append(f'  <testcase classname="recording" name={quoteattr(file)}><error message='
                     f'{quoteattr(problem)}/></testcase>')
    failures = sum(1 for label in report.operations if any(f.operation == label for f in report.findings))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="report-emulator drift" tests="{len(cases)}" failures="{failures}" '
            f'errors="{len(report.bad_input)}">\n' + "\n".join(cases) + "\n</testsuite>\n")
