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
    if spec is not None:
        bandwidth = emulator.knobs(spec.name).get("bandwidth")
        if bandwidth:
            g.bandwidth = bandwidth["bytes_per_second"]
    rule = active.pick(request)
    if rule is None:
        _sleep(pause_ms)
        return None
    g.rule = rule.name
    if rule.bandwidth:
        g.bandwidth = rule.bandwidth["bytes_per_second"]
    if rule.chunked_dribble:
        g.chunked_dribble = rule.chunked_dribble
    if rule.fault == "truncated_body":
        g.after_bytes = rule.after_bytes
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
    """malformed_body: the vendor's own answer, cut in half (so it is no longer valid JSON).

    truncated_body, chunked_dribble, bandwidth: the answer's body is sent by `shaped_body`.
    """
    fault = g.get("fault")
    if fault == "malformed_body":
        response.direct_passthrough = False  # a streamed or file answer is read whole, then cut
        body = response.get_data()
        response.set_data(body[: len(body) // 2])
    if fault == "truncated_body" or "chunked_dribble" in g or "bandwidth" in g:
        shape_body(response, fault == "truncated_body", g.get("after_bytes"), g.get("chunked_dribble"), g.get("bandwidth"))
    return response


def transfer_of(ctx) -> list[str]:
    """The body faults that touched a call, for its journal entry."""
    return [name for name in ("chunked_dribble", "bandwidth") if name in ctx]


PACE_SECONDS = 0.05  # bandwidth: the body goes out in pieces of at most this much time's worth of bytes


def shape_body(response: Response, truncate: bool, after_bytes: int | None, dribble: dict | None,
               bytes_per_second: int | None) -> None:
    """Send the answer's body cut (truncated_body), in pieces over time (chunked_dribble), or paced (bandwidth).

    The status and headers go out first with the whole body's Content-Length. With truncated_body
    only `after_bytes` (default: half) of it follow, then the connection closes: the client sees
    an incomplete read. A streamed answer (no Content-Length) is read whole first to know its size.
    """
    if response.content_length is None:
        response.direct_passthrough = False
        response.headers["Content-Length"] = str(len(response.get_data()))
    length = response.content_length or 0
    keep = length
    if truncate:
        keep = length // 2 if after_bytes is None else min(after_bytes, length)
    chunks = response.iter_encoded()
    sleep = pause_function(request.environ)
    closing = getattr(response.response, "close", None)

    def pieces():
        """The body's bytes, at most `keep` of them."""
        left = keep
        for chunk in chunks:
            if left <= 0:
                break
            if len(chunk) > left:
                chunk = chunk[:left]
            left -= len(chunk)
            yield chunk

    def dribbled():
        if not dribble:
            yield from pieces()
            return
        body = b"".join(pieces())
        n = dribble["chunks"]
        interval = dribble["total_ms"] / 1000 / n
        size = -(-len(body) // n) if body else 0
        for i in range(n):
            if i:
                sleep(interval)
            piece = body[i * size:(i + 1) * size]
            if piece or i == 0:
                yield piece
        sleep(interval)

    def paced():
        if not bytes_per_second:
            yield from dribbled()
            return
        step = max(1, int(bytes_per_second * PACE_SECONDS))
        for chunk in dribbled():
            for start in range(0, len(chunk), step):
                piece = chunk[start:start + step]
                sleep(len(piece) / bytes_per_second)
                yield piece

    def body():
        try:
            yield from paced()
        finally:
            if closing is not None:
                closing()

    response.direct_passthrough = True
    response.response = body()  # fewer bytes than Content-Length: the server closes the connection after them


def pause_function(environ: dict):
    """How this request waits: the server's own cooperative sleep when it offers one, else time.sleep."""
    return environ.get("report_emulator.sleep") or time.sleep


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
        pause_function(request.environ)(ms / 1000)
