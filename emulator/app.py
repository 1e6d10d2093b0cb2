"""create_app(settings): the factory. Core first, then each vendor."""
from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .core.access import AdminAccess
from .core.admin import admin
from .core.ui import home, ui
from .core.clock import wall_now
from .core.contract import check_request
from .core.faults import after_vendor_request, before_vendor_request, break_connection, held_body, transfer_of
from .core.limits import (JOURNAL_BODY_BYTES, JOURNAL_PATH_BYTES, JOURNAL_RESPONSE_BYTES, MAX_BODY_BYTES, bound_entry,
                          too_large_message)
from .core.registry import Emulator, Worlds, unpin
from .core.snapshots import read_file as read_snapshot_file
from .core.snapshots import restore as restore_snapshot
from .core.store import StaleGeneration, StoreUnavailable
from .core.tenants import ENVIRON_KEY, DEFAULT_TENANT, TenantLimit, TenantPaths, Tenants, current_emulator
from .fidelity.replay import replayed_answer
from .request_log import log_request
from .settings import Settings, format_instant
from .vendors import VENDORS

BODY_CAP = JOURNAL_BODY_BYTES  # bytes of a request body kept in the journal
# A call that resets overtake this many times in a row is answered 503 (Retry-After: 1) instead.
RESET_RETRIES = 8


class EmulatorFlask(Flask):
    def ensure_sync(self, func):
        """Every view and hook here is synchronous: skip Flask's per-call coroutine check (hot path)."""
        return func

    def wsgi_app(self, environ, start_response):
        """The answer, then its hold (a scenario delay or the latency knob: faults.held_body)."""
        return held_body(environ, super().wsgi_app(environ, start_response))

    def full_dispatch_request(self) -> Response:
        """Answer a call whole in one world: when a reset overtook it (one of its writes, the journal's
        last, carried the replaced generation and failed), answer it again in the new world.

        A vendor call's last write is its journal entry, so a call that overlapped a reset anywhere
        before it is answered again: the answer a client gets is one world's, never a mix, never a 500.
        """
        saved = dict(vars(g))
        for _ in range(RESET_RETRIES):
            try:
                return super().full_dispatch_request()
            except StaleGeneration:
                request.environ.pop("report_emulator.hold", None)  # the new world decides its own hold
                vars(g).clear()
                vars(g).update(saved)
        spec = vendor_for_path(request.path)
        message = f"the emulator was reset {RESET_RETRIES} times during this call; retry it"
        response = spec.error_response(503, message) if spec else jsonify({"error": message, "errors": {}})
        response.status_code = 503
        response.headers["Retry-After"] = "1"
        return response

    def handle_user_exception(self, e: Exception):
        """StaleGeneration goes past every error handler, to full_dispatch_request."""
        if isinstance(e, StaleGeneration):
            raise e
        return super().handle_user_exception(e)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    app = EmulatorFlask("emulator")
    app.json.sort_keys = False  # vendors' field order is part of their contract
    # A larger body is refused with 413 (see _refuse_large_body), also where a view reads it or a form.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY_BYTES
    worlds = Worlds()  # shared by every tenant: one world per identity in this process

    # --snapshot FILE: every tenant made on a fresh store starts from it (read and checked once, here)
    start_from = read_snapshot_file(settings.snapshot) if settings.snapshot else None

    def build(tenant: str, store=None) -> Emulator:
        made = Emulator(settings, store, worlds, tenant=tenant)
        for vendor in VENDORS:
            made.add_vendor(vendor)
        if start_from is not None and not made.resumed:
            restore_snapshot(made, start_from)
        return made

    emulator = build(DEFAULT_TENANT)
    app.extensions["emulator"] = emulator  # the tenant `default` (the unprefixed paths)
    app.wsgi_app = TenantPaths(app.wsgi_app)  # /tenants/<tenant>/... (core/tenants.py)
    app.extensions["admin_access"] = AdminAccess.from_settings(settings)
    # Registered before the vendors' own app-wide hooks (Strigo's rate limiter), so that the contract
    # check and the scenario's rules come first (a rule answers before anything of the vendor's runs)
    # and the journal records last, the answer as sent. One hook each side: less per-request overhead.
    app.before_request(_refuse_large_body)
    app.before_request(_before_vendor_request)
    app.after_request(_after_vendor_request)
    app.teardown_request(lambda _exc: unpin())
    app.register_blueprint(admin)
    app.register_blueprint(ui)  # the dashboard, /_emulator/ui
    app.add_url_rule("/", "home", home)  # a browser pointed at the base URL lands on the dashboard
    for vendor in VENDORS:
        app.register_blueprint(vendor.blueprint)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreUnavailable, _store_unavailable)
    app.register_error_handler(Exception, _unexpected_error)
    emulator.store.started()
    # After started(): the tenants' stores are views of the default's and take its settings from now.
    app.extensions["tenants"] = Tenants(emulator, build, settings.max_tenants, settings.tenant_idle_hours)
    return app


def vendor_for_path(path: str):
    """The vendor spec whose prefixes cover path, or None (admin and unknown paths)."""
    return current_emulator().vendor_for_path(path)


def _pick_tenant():
    """The request's first step (after an admin call's gate): the tenant's Emulator (core/tenants.py);
    past the limit, 503."""
    name = request.environ.get(ENVIRON_KEY, DEFAULT_TENANT)
    try:
        g.emulator = current_app.extensions["tenants"].get(name)
    except TenantLimit as exc:
        spec = vendor_for_path(request.path)
        if spec is not None:
            return spec.error_response(503, exc.message)
        return jsonify({"error": exc.message, "errors": {"tenant": [exc.message]}}), 503
    return None


def is_admin_path(path: str) -> bool:
    """The admin API and the dashboard (`/` leads to it): never journaled, never matched by a rule."""
    return path.startswith("/_emulator") or path == "/"


def _refuse_large_body():
    """A body past MAX_BODY_BYTES: 413 in the vendor's envelope (or admin JSON), at any size.

    A declared one is refused unread. A chunked one (no declared size) is read here, up to the limit
    (Werkzeug stops at it), so that it is refused the same way whatever the handler would do first.
    """
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        if len(request.get_data(cache=True)) >= MAX_BODY_BYTES:
            request.stream.read(1)  # Werkzeug stops at the limit; a byte past it raises RequestEntityTooLarge
    return None


def _before_vendor_request():
    """Before any handler: pin one consistent state for the request (the store's version is checked).

    Before an admin call (`/_emulator/...`), first its gate: a host, client or web page that may not make
    it is refused before anything is read (core/access.py). Before a vendor handler: start the timer,
    check the contract, then the scenario's rules and faults.
    """
    admin_call = is_admin_path(request.path)
    upstream = request.path.startswith("/_emulator/upstream/")
    if upstream or not admin_call:
        refusal = _pick_tenant()
        if refusal is not None:
            return refusal
        current_emulator().sync()
        # serve --replay DIR, or a scenario's replay: DIR (fidelity/replay.py): a recorded vendor call, or
        # a recorded download from a link on another host (rewritten under /_emulator/upstream/).
        replayed = replayed_answer()
        if replayed is not None:
            return replayed
    if admin_call:
        refusal = current_app.extensions["admin_access"].refusal() or (None if upstream else _pick_tenant())
        if refusal is None:
            current_emulator().sync()
        return refusal
    g.started = time.perf_counter()
    refusal = _check_contract()
    if refusal is not None:
        return refusal
    return before_vendor_request()


def _after_vendor_request(response: Response) -> Response:
    """After it: cut a malformed body, record the request in the journal, then reset a connection."""
    if is_admin_path(request.path):
        return response
    response = after_vendor_request(response)
    try:
        _record(response)
    except StoreUnavailable:  # the journal is in the store: a call answered during an outage is not recorded
        pass
    return break_connection(response)


def _check_contract():
    """Check a vendor request against its documented contract: record violations; refuse them in strict mode.

    Runs on every request, so it stays cheap: one dict lookup for the operation, schema instances made
    once per operation (core/contract.py), the body read only where the operation has one.
    """
    emulator = current_emulator()
    spec = emulator.vendor_specs.get(request.blueprint or "")
    if spec is None or spec.contract is None:
        return None
    op = spec.contract.for_endpoint(request.endpoint)
    if op is None:
        return None
    body = request.get_data(cache=True) if op.body is not None else b""
    args = request.args.to_dict(flat=False) if request.query_string else {}  # most calls have no query: skip parsing one
    found = check_request(op, args, request.headers, body)
    if not found:
        return None
    g.violations = [v.as_dict() for v in found]
    at = format_instant(emulator.clock.now())
    strict = emulator.strict
    for violation in g.violations:
        emulator.violations.append({"vendor": spec.name, "method": request.method, "path": request.path[:JOURNAL_PATH_BYTES],
                                    "at": at, "strict": strict, **violation})
    if not strict:
        return None
    if spec.contract_error is not None:
        return spec.contract_error(found)
    return spec.error_response(400, "; ".join(v.message for v in found))


def _record(response: Response) -> None:
    """One journal entry for a vendor call (the proxies are resolved once: this runs on every call)."""
    req = request._get_current_object()
    ctx = g._get_current_object()
    emulator = current_emulator()
    spec = emulator.vendor_for_path(req.path)
    try:
        body = req.get_data(cache=True)
    except RequestEntityTooLarge:  # refused unread: nothing to keep
        body = b""
    fault = ctx.get("fault")
    entry = bound_entry({
        "method": req.method,
        "path": req.path,
        "query": req.query_string.decode("latin-1"),
        # A connection reset answered nothing: no status.
        "status": None if fault == "connection_reset" else response.status_code,
        "vendor": spec.name if spec else None,
        "at": format_instant(emulator.clock.now()),
        "wall_at": wall_now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        # The time to make the answer, plus the hold that follows it (faults.held_body: after this entry is written).
        "duration_ms": round((time.perf_counter() - ctx.get("started", time.perf_counter())) * 1000 + ctx.get("delay_ms", 0), 3),
        "rule": ctx.get("rule"),
        "fault": fault,
        "delay_ms": ctx.get("delay_ms", 0),  # latency and rule delays the scenario added
        "transfer": transfer_of(ctx),  # chunked_dribble, bandwidth: how the body went out
        "body": body or None,  # bound_entry decodes what it keeps
        "violations": ctx.get("violations") or [],
        # For the dashboard's detail and "copy as curl": headers both ways (masked), the answer's first KiB.
        "headers": req.headers,
        "response": None if fault == "connection_reset" else {"headers": response.headers, "body": _answer_head(response)},
    })
    emulator.journal.record(entry)
    if emulator.settings.log_requests:  # --log-requests
        log_request(entry)


def _answer_head(response: Response) -> bytes | None:
    """The start of an answer's body, or None for a streamed one (a report file), which is never read here."""
    if response.is_streamed or response.direct_passthrough:
        return None
    return response.get_data()[:JOURNAL_RESPONSE_BYTES] or None


def _http_error(exc: HTTPException):
    """404/405/... raised outside a vendor's own handlers: that vendor's envelope, or admin JSON."""
    spec = vendor_for_path(request.path)
    message = f"{exc.name}: {request.method} {request.path}"
    if exc.code == 404:
        message = f"No route for {request.method} {request.path}"
    elif exc.code == 405:
        message = f"Method {request.method} is not allowed on {request.path}"
    elif exc.code == 413:
        message = too_large_message()
    if spec is not None:
        response = spec.error_response(exc.code or 500, message)
    else:
        response = jsonify({"error": message, "errors": {"_body": [message]} if exc.code == 413 else {}})
        response.status_code = exc.code or 500
    if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _store_unavailable(exc: StoreUnavailable):
    """The store cannot answer (an outage, logged once by the store): 503 with Retry-After, in the
    vendor's own envelope or the admin API's."""
    spec = vendor_for_path(request.path)
    if spec is not None:
        response = spec.error_response(exc.status, exc.message)
    else:
        response = jsonify({"error": exc.message, "errors": {}})
        response.status_code = exc.status
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _unexpected_error(exc: Exception):
    """A bug in the emulator still answers in the vendor's envelope, never an HTML traceback."""
    from flask import current_app

    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    spec = vendor_for_path(request.path)
    message = f"Internal emulator error: {type(exc).__name__}: {exc}"
    if spec is not None:
        return spec.error_response(500, message)
    return jsonify({"error": message, "errors": {}}), 500
