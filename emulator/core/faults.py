"""The scenario layer at request time: latency, canned answers and connection faults.

`before_vendor_request` runs before every vendor handler: it draws the vendor's latency, asks the
active scenario which rule (if any) answers, and then sleeps, answers, or lets the vendor answer
(a delay-only rule, or `malformed_body`, which cuts the vendor's own answer in
`after_vendor_request`). `break_connection` runs after the journal has recorded the request. Delays sleep in the request's own thread: waitress serves the others
from its other threads meanwhile.
"""
from __future__ import annotations

import logging
import socket
import struct
import time

from flask import Response, current_app, g, request
from .tenants import current_emulator

log = logging.getLogger(__name__)


def before_vendor_request() -> Response | None:
    if request.path.startswith("/_emulator"):
        return None
    emulator = current_emulator()
    active = emulator.active
    if active is None:
        return None
    spec = emulator.vendor_for_path(request.path)
    pause_ms = active.latency_ms(spec.name if spec else None)
    rule = active.pick(request)
    if rule is None:
        _sleep(pause_ms)
        return None
    g.rule = rule.name
    pause_ms += rule.delay_ms
    if rule.respond is not None:
        _sleep(pause_ms + rule.respond.get("delay_ms", 0))
        return canned_response(rule.respond)
    _sleep(pause_ms)
    if rule.fault:
        g.fault = rule.fault
    if rule.fault == "connection_reset":
        return Response(b"", 200)  # never written: break_connection resets the socket first
    if rule.fault == "empty_response":
        return Response(b"", 200, content_type="application/json")
    return None  # a delay-only rule, or malformed_body: the vendor answers


def after_vendor_request(response: Response) -> Response:
    """malformed_body: the vendor's own answer, cut in half (so it is no longer valid JSON)."""
    if g.get("fault") == "malformed_body":
        response.direct_passthrough = False  # a streamed or file answer is read whole, then cut
        body = response.get_data()
        response.set_data(body[: len(body) // 2])
    return response


def break_connection(response: Response) -> Response:
    """connection_reset, once the journal has the request (so a client that sees the reset sees the entry)."""
    if g.get("fault") == "connection_reset" and not reset_connection(request.environ):
        log.warning("connection_reset needs the waitress server; answering with an empty response instead")
    return response


def canned_response(respond: dict) -> Response:
    if "json" in respond:
        response = current_app.json.response(respond["json"])
    elif "body" in respond:
        response = Response(respond["body"], content_type="text/plain; charset=utf-8")
    else:
        response = Response(b"")
        response.headers.pop("Content-Type", None)
    response.status_code = respond.get("status", 200)
    for name, value in (respond.get("headers") or {}).items():
        response.headers[name] = value
    return response


def reset_connection(environ: dict) -> bool:
    """Close the client's socket with no answer, as a TCP reset; False when not served by waitress.

    The channel (waitress's connection object) is reached through the `waitress.client_disconnected`
    callable it puts in the environ. SO_LINGER 0 makes the close send RST; marking the channel as
    disconnected keeps the task from writing, and `will_close` plus a trigger has waitress's own
    loop close the socket, so its bookkeeping stays right and it keeps serving everything else.
    """
    probe = environ.get("waitress.client_disconnected")
    channel = getattr(probe, "__self__", None)
    sock = getattr(channel, "socket", None)
    if sock is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass  # already gone: closing it is all that is left
    channel.connected = False
    channel.will_close = True
    channel.server.pull_trigger()
    return True


def _sleep(ms: float) -> None:
    """Hold this request for ms milliseconds (recorded in the journal as delay_ms)."""
    g.delay_ms = round(ms, 3)
    if ms > 0:
        time.sleep(ms / 1000)
