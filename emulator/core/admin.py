"""The /_emulator blueprint: health, reset, clock, credentials, world, journal."""
from __future__ import annotations

import difflib
import json
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..settings import CLOCK_MODES, format_instant, parse_instant
from .limits import WORLD_PAGE, WORLD_PAGE_MAX, LimitExceeded, read_json
from .regex import compile_regex, search
from .scenarios import MatchSchema, json_subset
from .tenants import current_emulator
from .world import Listing

admin = Blueprint("_emulator", __name__, url_prefix="/_emulator")


class AdminError(Exception):
    """A refused admin call: 400 {"error": message, "errors": {field path: [messages]}}."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.status = status


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"rules[0].respond.status": ["..."]}."""
    if isinstance(messages, list):
        return {prefix or "_schema": [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        flat.update(flatten_errors(value, path))
    return flat


def load_body(schema: Schema) -> dict:
    """The request's JSON body (empty allowed) loaded by schema, or an AdminError naming each field."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        payload: Any = {}
    else:
        try:
            payload = read_json(raw)
        except LimitExceeded as exc:
            raise AdminError(exc.message, {"_body": [exc.message]}, exc.status) from None
        except ValueError:
            raise AdminError("the request body is not valid JSON", {"_body": ["not valid JSON"]}) from None
    if not isinstance(payload, dict):
        raise AdminError("the request body must be a JSON object", {"_body": ["must be a JSON object"]})
    try:
        return schema.load(payload)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        detail = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items())
        raise AdminError(f"invalid request: {detail}", errors) from None


class Instant(fields.Field):
    """An ISO 8601 timestamp, naive meaning UTC."""

    default_error_messages = {"invalid": "not a valid ISO 8601 timestamp"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_instant(value)
        except ValueError:
            raise self.make_error("invalid") from None


class ResetSchema(Schema):
    seed = fields.Integer(strict=True, load_default=None, allow_none=True)
    now = Instant(load_default=None, allow_none=True)


class ClockSetSchema(Schema):
    """`now`, `mode` or both: a mode change keeps the time unless `now` is given too (one move)."""

    now = Instant(load_default=None)
    mode = fields.String(load_default=None, validate=validate.OneOf(CLOCK_MODES))

    @validates_schema
    def now_or_mode(self, data, **kwargs):
        if data.get("now") is None and data.get("mode") is None:
            raise ValidationError("Missing data for required field (give now, mode or both).", "now")


class AdvanceSchema(Schema):
    seconds = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, max=10 * 366 * 86400))


def emulator():
    return current_emulator()


def clock_json() -> dict:
    clock = emulator().clock
    return {"now": format_instant(clock.now()), "mode": clock.mode}


@admin.errorhandler(AdminError)
def _admin_error(exc: AdminError):
    return jsonify({"error": exc.message, "errors": exc.errors}), exc.status


@admin.get("/health")
def health():
    return jsonify({"status": "ok"})


@admin.post("/reset")
def reset():
    body = load_body(ResetSchema())
    emulator().reset(seed=body["seed"], now=body["now"])
    return jsonify({"status": "ok", "seed": emulator().world.seed, **clock_json()})


@admin.get("/clock")
def get_clock():
    return jsonify(clock_json())


@admin.post("/clock")
def set_clock():
    body = load_body(ClockSetSchema())
    if body["mode"] is not None:
        emulator().clock.set_mode(body["mode"], body["now"])
    else:
        emulator().clock.set(body["now"])
    return jsonify(clock_json())


@admin.post("/clock/advance")
def advance_clock():
    body = load_body(AdvanceSchema())
    emulator().clock.advance(body["seconds"])
    return jsonify(clock_json())


@admin.get("/credentials")
def credentials():
    return jsonify({name: model.credentials() for name, model in emulator().vendors.items()})


WORLD_QUERY = ("vendor", "offset", "limit")


def world_page() -> tuple[list[str], int, int]:
    """`?vendor=&offset=&limit=` of GET /world: the vendors asked for (default all), and the page of each list."""
    errors: dict[str, list[str]] = {}
    for key in request.args:
        if key not in WORLD_QUERY:
            errors[key] = [f"unknown parameter; parameters: {', '.join(WORLD_QUERY)}"]
    names = list(emulator().vendors)
    wanted = [v.strip() for v in request.args.get("vendor", "").split(",") if v.strip()] or names
    unknown = [v for v in wanted if v not in names]
    if unknown:
        errors["vendor"] = [f"unknown vendor {', '.join(map(repr, unknown))}; vendors: {', '.join(names)}"]
    bounds = {"offset": (0, 0, None), "limit": (WORLD_PAGE, 1, WORLD_PAGE_MAX)}
    page = {}
    for key, (default, low, high) in bounds.items():
        text = request.args.get(key)
        if text is None:
            page[key] = default
            continue
        value = int(text) if text.strip().isdigit() else None
        if value is None or value < low or (high is not None and value > high):
            within = f"from {low} to {high}" if high is not None else f"{low} or more"
            errors[key] = [f"must be a whole number, {within}, not {text[:40]!r}"]
        else:
            page[key] = value
    if errors:
        detail = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items())
        raise AdminError(f"invalid query: {detail}", errors)
    return [n for n in names if n in wanted], page["offset"], page["limit"]


@admin.get("/world")
def world():
    """Each vendor's ids, every list cut to one page ([offset, offset + limit)), with each list's total."""
    names, offset, limit = world_page()
    answer: dict[str, Any] = {}
    totals: dict[str, dict[str, int]] = {}
    for name in names:
        summary = emulator().vendors[name].world_summary()
        totals[name] = {key: len(value) for key, value in summary.items() if isinstance(value, (list, Listing))}
        answer[name] = {key: value[offset:offset + limit] if isinstance(value, (list, Listing)) else value
                        for key, value in summary.items()}
    answer["page"] = {"offset": offset, "limit": limit, "totals": totals}
    return jsonify(answer)


JOURNAL_FILTERS = ("vendor", "method", "path", "path_prefix", "rule")


def query_filters(allowed: tuple[str, ...]) -> dict[str, str | None]:
    """The query's filters, each of `allowed` (None when absent or empty); an unknown key or vendor is a
    400 naming it, so a typo never reads as "no calls" (as the dashboard's /_emulator/ui/state answers)."""
    errors: dict[str, list[str]] = {}
    for key in request.args:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            errors[key] = [f"unknown filter; {hint}filters: {', '.join(allowed)}"]
    vendor = request.args.get("vendor", "")
    if "vendor" in allowed and vendor and vendor not in emulator().vendors:
        errors["vendor"] = [f"unknown vendor; one of {', '.join(emulator().vendors)}"]
    if errors:
        detail = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items())
        raise AdminError(f"invalid query: {detail}", errors)
    return {key: request.args.get(key) or None for key in allowed}


@admin.get("/journal")
def journal():
    return jsonify({"requests": emulator().journal.entries(**query_filters(JOURNAL_FILTERS))})


@admin.delete("/journal")
def clear_journal():
    emulator().journal.clear()
    return jsonify({"requests": []})


class JournalMatchSchema(MatchSchema):
    """A scenario rule's `match`, applied to the journal; headers are not recorded, so cannot be matched."""

    @validates_schema(pass_original=True)
    def no_headers(self, data, original, **kwargs):
        if isinstance(original, dict) and "headers" in original:
            raise ValidationError("the journal does not record headers, so calls cannot be matched by them", "headers")


NEAR_MISSES = 10  # most near misses answered


def entry_matches(match: dict, entry: dict) -> bool:
    """Whether a journal entry is a call `match` (a scenario rule's match) would have matched."""
    return all(score == 1.0 for score in _criteria(match, entry).values())


def _criteria(match: dict, entry: dict) -> dict[str, float]:
    """Each criterion of `match` scored on `entry`: 1.0 holds, 0.0 fails (the path may score between)."""
    from urllib.parse import parse_qs

    scores: dict[str, float] = {}
    if "method" in match:
        scores["method"] = float(entry["method"] == match["method"].upper())
    if "path" in match:
        same = entry["path"] == match["path"]
        scores["path"] = 1.0 if same else difflib.SequenceMatcher(None, entry["path"], match["path"]).ratio() * 0.99
    if "path_regex" in match:
        # RE2 (linear time); the pattern was checked when the body loaded, and RE2 keeps it compiled.
        scores["path_regex"] = float(search(compile_regex(match["path_regex"]), entry["path"]))
    if match.get("query"):
        sent = parse_qs(entry.get("query") or "", keep_blank_values=True)
        scores["query"] = sum(v in sent.get(k, []) for k, v in match["query"].items()) / len(match["query"])
    if "json" in match:
        try:
            body = json.loads(entry.get("body") or "null")
        except ValueError:
            body = _NOT_JSON
        scores["json"] = float(body is not _NOT_JSON and json_subset(match["json"], body))
    return scores


_NOT_JSON = object()


def near_misses(match: dict, entries: list[dict], limit: int = NEAR_MISSES) -> list[dict]:
    """The calls that almost matched: the same or a similar path (ratio >= 0.6) first, then those that
    meet the most other criteria; exact matches are not misses."""
    scored = []
    for entry in entries:
        criteria = _criteria(match, entry)
        if all(score == 1.0 for score in criteria.values()):
            continue
        path = min(criteria.get("path", 1.0), criteria.get("path_regex", 1.0))
        others = [v for k, v in criteria.items() if k not in ("path", "path_regex")]
        if ("path" in criteria or "path_regex" in criteria) and path < 0.6:
            continue
        if not ("path" in criteria or "path_regex" in criteria) and not any(others):
            continue
        scored.append((-(2 * path + 2 * (path == 1.0) + 0.5 * sum(others)), entry))
    scored.sort(key=lambda pair: pair[0])
    return [entry for _, entry in scored[:limit]]


@admin.post("/journal/count")
def journal_count():
    """How many recorded calls a rule's `match` matches: {"count": N}."""
    match = load_body(JournalMatchSchema())
    return jsonify({"count": sum(entry_matches(match, e) for e in emulator().journal.entries())})


@admin.post("/journal/near-misses")
def journal_near_misses():
    """The recorded calls closest to a rule's `match` that it does not match, closest first."""
    match = load_body(JournalMatchSchema())
    return jsonify({"near_misses": near_misses(match, emulator().journal.entries())})


@admin.put("/scenario")
def put_scenario():
    """Load a scenario (YAML or JSON body); a refused one changes nothing and names each wrong field."""
    from .scenarios import ScenarioError, not_utf8, parse_text, validate_scenario

    empty = AdminError("the request body is empty; send a scenario (YAML or JSON), or DELETE /_emulator/scenario "
                       "to clear it", {"_body": ["empty: a scenario is required"]})
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise empty
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = not_utf8(exc)
        raise AdminError(f"the scenario: {reason}", {"_body": [reason]}) from None
    as_json = (request.mimetype or "").endswith("json")
    try:
        parsed = parse_text(text, "the scenario", as_json=as_json)
        if parsed is None:  # a YAML document with nothing in it (`---`, only comments, `null`)
            raise empty
        data = validate_scenario(parsed, "the scenario")
        emulator().apply_scenario(data)
    except ScenarioError as exc:
        raise AdminError(exc.message, exc.errors) from None
    return jsonify(emulator().scenario_status())


@admin.get("/scenario")
def get_scenario():
    """The active scenario (or null) and, per rule, how many requests matched it and how many it answered."""
    return jsonify(emulator().scenario_status())


@admin.delete("/scenario")
def delete_scenario():
    emulator().apply_scenario(None)
    return jsonify(emulator().scenario_status())


@admin.get("/violations")
def violations():
    """Requests that broke their vendor's documented contract, oldest first (strict mode refuses them)."""
    vendor = query_filters(("vendor",))["vendor"]
    items = list(emulator().violations)
    if vendor:
        items = [v for v in items if v["vendor"] == vendor]
    return jsonify({"strict": emulator().strict, "violations": items})


@admin.delete("/violations")
def clear_violations():
    emulator().violations.clear()
    return jsonify({"strict": emulator().strict, "violations": []})


@admin.get("/openapi/<vendor>.json")
def openapi_document(vendor: str):
    from .openapi import build_admin_document, build_document

    if vendor == "admin":
        return jsonify(build_admin_document())
    spec = emulator().vendor_specs.get(vendor)
    if spec is None or spec.contract is None:
        known = ", ".join(n for n, s in emulator().vendor_specs.items() if s.contract is not None)
        raise AdminError(f"no OpenAPI document for vendor {vendor!r}; known: {known}, admin", {"vendor": ["unknown vendor"]}, 404)
    return jsonify(build_document(spec.contract))


@admin.get("/docs")
def docs():
    """A self-contained Swagger UI page (static files from the swagger-ui-bundle package, no CDN)."""
    from flask import render_template_string

    names = [n for n, s in emulator().vendor_specs.items() if s.contract is not None]
    return render_template_string(DOCS_PAGE, vendors=names)


@admin.get("/docs/static/<path:filename>")
def docs_static(filename: str):
    from flask import send_from_directory
    from swagger_ui_bundle import swagger_ui_path

    return send_from_directory(swagger_ui_path, filename, max_age=3600)


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>report-emulator API documents</title>
<link rel="stylesheet" href="docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/static/swagger-ui-bundle.js"></script>
<script src="docs/static/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({
  urls: [{% for v in vendors %}{url: "openapi/{{ v }}.json", name: "{{ v }}"}, {% endfor %}{url: "openapi/admin.json", name: "admin (/_emulator)"}],
  dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"
});
</script></body></html>
"""


@admin.get("/tenants")
def tenants():
    """Every tenant of this server (default first), with when it was made and last used (to the minute)."""
    return jsonify({"tenants": current_app.extensions["tenants"].listing()})


@admin.delete("/tenants/<tenant>")
def remove_tenant(tenant: str):
    """Remove a tenant and everything it holds; its next call makes it again, fresh."""
    from .tenants import DEFAULT_TENANT, NAME_RULE, TENANT_NAME, UnknownTenant

    if not TENANT_NAME.fullmatch(tenant):
        raise AdminError(f"no tenant {tenant[:80]!r}: {NAME_RULE}", {"tenant": [NAME_RULE]}, 404)
    if tenant == DEFAULT_TENANT:
        raise AdminError("the tenant default cannot be removed; POST /_emulator/reset clears it",
                         {"tenant": ["default cannot be removed"]})
    try:
        current_app.extensions["tenants"].remove(tenant)
    except UnknownTenant as exc:
        raise AdminError(exc.message, {"tenant": ["no such tenant"]}, 404) from None
    return jsonify({"removed": tenant})


@admin.get("/snapshot")
def get_snapshot():
    """The tenant's whole state as one JSON document (`?journal=1` adds the journal and violations);
    gzip when the client accepts it (Accept-Encoding: gzip)."""
    from flask import Response

    from .snapshots import encode, take

    journal = request.args.get("journal", "0").strip().lower() in ("1", "true", "yes")
    compress = "gzip" in (request.headers.get("Accept-Encoding") or "").lower()
    response = Response(encode(take(emulator(), journal=journal), compress), mimetype="application/json")
    if compress:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


@admin.put("/snapshot")
def put_snapshot():
    """Make the tenant exactly a snapshot's state; a refused one (malformed, truncated, foreign or newer)
    is 400 naming the problem, and the tenant stays as it was."""
    from .snapshots import SnapshotError, read, restore

    try:
        document = read(request.get_data(cache=True))
    except SnapshotError as exc:
        raise AdminError(exc.message, exc.errors) from None
    restore(emulator(), document)
    return jsonify({"restored": True, "tenant": emulator().tenant, **clock_json()})
