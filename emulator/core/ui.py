"""The dashboard for people (GET /_emulator/ui) and the few JSON helpers it reads.

The page is static HTML, CSS and JavaScript from the installed package (`emulator/ui/`): no build step,
no CDN. It polls `GET /_emulator/ui/state` about once a second (one request per open page, answered
304 when nothing changed, so an idle page costs a hash and a few bytes) and acts only through the
admin API, so everything it sends gets the admin API's validation and error envelope.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from flask import Blueprint, Response, current_app, jsonify, redirect, request, send_from_directory, url_for

from .. import __version__
from ..settings import format_instant
from .admin import AdminError
from .tenants import current_emulator

ui = Blueprint("_emulator_ui", __name__, url_prefix="/_emulator")

STATIC = Path(__file__).resolve().parent.parent / "ui"
JOURNAL_TAIL = 200  # journal entries the page shows at most (newest first), and the largest `limit`
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "none")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def shipped_scenarios_dir() -> Path:
    """Where the shipped scenarios live (the package's `emulator/scenarios/`)."""
    from ..scenarios import SHIPPED

    return Path(SHIPPED)


def shipped_scenarios() -> dict[str, Path]:
    """Shipped scenario files by name (the file name without `.yaml`), sorted by name."""
    folder = shipped_scenarios_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml")) if p.is_file()}


def describe_scenario(path: Path) -> str:
    """A scenario's `description:`, else the first paragraph of its leading comment."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("description"), str):
        return data["description"]
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        line = line.lstrip("#").strip()
        if not line:
            if lines:
                break
            continue
        lines.append(line)
    return " ".join(lines)


def _emulator():
    return current_emulator()


def _secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@ui.errorhandler(AdminError)
def _ui_error(exc: AdminError):
    return jsonify({"error": exc.message, "errors": exc.errors}), exc.status


def home():
    """GET /: a person who opens the base URL in a browser lands on the dashboard."""
    return redirect(url_for("_emulator_ui.page"))


@ui.get("/ui")
def page():
    response = send_from_directory(STATIC, "index.html", max_age=0)
    return _secured(response)


@ui.get("/ui/static/<path:filename>")
def static_file(filename: str):
    if filename not in ("app.js", "style.css"):
        raise AdminError(f"no dashboard file {filename!r}", {"filename": ["unknown file"]}, 404)
    return _secured(send_from_directory(STATIC, filename, max_age=0))


def _journal_tail(vendor: str | None, status: str | None, text: str | None, limit: int) -> tuple[int, list[dict]]:
    """The newest `limit` journal entries that pass the filters, newest first, and how many passed."""
    entries = _emulator().journal.entries(vendor=vendor or None)
    if status:
        if status == "none":
            entries = [e for e in entries if e["status"] is None]
        else:
            digit = int(status[0])
            entries = [e for e in entries if e["status"] is not None and e["status"] // 100 == digit]
    if text:
        needle = text.lower()
        entries = [e for e in entries if needle in e["path"].lower() or needle in (e.get("query") or "").lower()]
    return len(entries), entries[::-1][:limit]


@ui.get("/ui/state")
def state():
    """Everything the page shows that changes with traffic, in one answer; 304 when nothing changed.

    Filters: `vendor`, `status` (1xx ... 5xx, or `none` for a call that got no answer), `q` (text in
    the path or query), `limit` (1 to 200, default 200).
    """
    args = request.args
    errors: dict[str, list[str]] = {}
    vendor = args.get("vendor", "")
    if vendor and vendor not in _emulator().vendors:
        errors["vendor"] = [f"unknown vendor; one of {', '.join(_emulator().vendors)}"]
    status = args.get("status", "")
    if status and status not in STATUS_CLASSES:
        errors["status"] = [f"one of {', '.join(STATUS_CLASSES)}"]
    text = args.get("q", "")
    if len(text) > 200:
        errors["q"] = ["at most 200 characters"]
    limit_text = args.get("limit", str(JOURNAL_TAIL))
    limit = int(limit_text) if limit_text.isascii() and limit_text.isdigit() else 0
    if not 1 <= limit <= JOURNAL_TAIL:
        errors["limit"] = [f"a whole number from 1 to {JOURNAL_TAIL}"]
    if errors:
        detail = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items())
        raise AdminError(f"invalid dashboard query: {detail}", errors)
    matched, entries = _journal_tail(vendor, status, text, limit)
    emulator = _emulator()
    clock = emulator.clock
    payload = {
        "emulator": _about(emulator),
        "clock": {"now": format_instant(clock.now()), "mode": clock.mode},
        "scenario": emulator.scenario_status(),
        "journal": {"matched": matched, "shown": len(entries), "requests": entries},
        "echo360": {"requests": _echo360_overview()},
    }
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    response = Response(body, mimetype="application/json")
    response.set_etag(hashlib.blake2b(body, digest_size=12).hexdigest())
    response.headers["Cache-Control"] = "no-store"
    return response.make_conditional(request)


def _about(emulator) -> dict:
    """What this emulator is: version, seed, strict mode, store (a password masked) and tenant.

    There is one tenant today; `tenant` names it so the page shows it once several exist.
    """
    return {"version": __version__, "seed": emulator.world.seed, "strict": emulator.strict,
            "store": emulator.store.describe(), "tenant": None}


def _echo360_overview() -> list[dict]:
    model = _emulator().vendors.get("echo360")
    return model.overview(request.url_root) if model is not None else []


@ui.get("/echo360/requests")
def echo360_requests():
    """Every API client's Echo360 report requests, newest first, with their lifecycle's instants."""
    return jsonify({"requests": _echo360_overview()})


@ui.get("/scenarios")
def scenarios():
    """The shipped scenarios: {"scenarios": [{"name", "description"}]}."""
    return jsonify({"scenarios": [{"name": name, "description": describe_scenario(path)}
                                  for name, path in shipped_scenarios().items()]})


@ui.get("/scenarios/<path:name>")
def scenario_text(name: str):
    """A shipped scenario's YAML text (PUT it to /_emulator/scenario to load it)."""
    path = shipped_scenarios().get(name)
    if path is None:
        known = ", ".join(shipped_scenarios()) or "none"
        raise AdminError(f"no shipped scenario named {name!r}; known: {known}", {"name": ["unknown scenario"]}, 404)
    return Response(path.read_text(encoding="utf-8"), mimetype="application/yaml")
