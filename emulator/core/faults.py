"""The scenario layer at request time: latency, canned answers and connection faults.

`before_vendor_request` runs before every vendor handler: it draws the vendor's latency, asks the
active scenario which rule (if any) answers, and then sleeps, answers, or lets the vendor answer
(a delay-only rule, or `malformed_body`, which cuts the vendor's own answer in
`after_vendor_request`). `break_connection` runs after the journal has recorded the request.

Every wait (a delay, the latency knob, a dribbled or paced body) is part of the answer's body, after
the app has made the answer and recorded it: the body yields `environ["report_emulator.wait"](seconds)`
and the server (emulator/server.py) waits in its event loop, holding no thread, while every other
request is served. Under another WSGI server (no such key) the body sleeps with `time.sleep`.
A held call therefore finishes as it started: a reset or a new scenario during its wait changes nothing of it.
"""
from __future__ import annotations

import logging
import socket
import struct
import time

from flask import Response, current_app, g, request

from .streaming import replayable
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
        _hold(pause_ms)
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
        _hold(pause_ms + rule.respond.get("delay_ms", 0))
        return canned_response(rule.respond)
    _hold(pause_ms)
    if rule.fault:
        g.fault = rule.fault
    if rule.fault == "connection_reset":
        return Response(b"", 200)  # never written: break_connection resets the socket first
    if rule.fault == "empty_response":
        return Response(b"", 200, content_type="application/json")
    return None  # a delay-only rule, or malformed_body: the vendor answers


def after_vendor_request(response: Response) -> Response:
    """malformed_body: the vendor's own answer, cut in half (so it is no longer valid JSON).

    truncated_body, chunked_dribble, bandwidth: the answer's body is sent by `shape_body`.
    """
    fault = g.get("fault")
    if fault == "malformed_body":
        length = body_length(response)
        response.headers["Content-Length"] = str(length // 2)
        chunks = response.iter_encoded()
        response.direct_passthrough = True
        response.response = _first_bytes(chunks, length // 2, getattr(response.response, "close", None))
    if fault == "truncated_body" or "chunked_dribble" in g or "bandwidth" in g:
        shape_body(response, fault == "truncated_body", g.get("after_bytes"), g.get("chunked_dribble"), g.get("bandwidth"))
    return response


def body_length(response: Response) -> int:
    """The answer's length in bytes. A streamed answer made in core/streaming.py is measured by
    generating it once more (nothing kept); any other streamed answer is read whole."""
    if response.content_length is not None:
        return response.content_length
    body = replayable(response)
    if body is not None:
        return body.measure()
    response.direct_passthrough = False
    return len(response.get_data())


def _first_bytes(chunks, keep: int, closing=None):
    """At most keep bytes of chunks; closes the original body at the end. The server's markers in a
    streamed body (streaming.gathered's send_now) are left out: a body cut by size is sent as cut."""
    try:
        left = keep
        for chunk in chunks:
            if left <= 0:
                break
            if not isinstance(chunk, bytes):
                continue
            if len(chunk) > left:
                chunk = chunk[:left]
            left -= len(chunk)
            yield chunk
    finally:
        if closing is not None:
            closing()


def _pieces_of(chunks, size: int):
    """chunks re-cut into pieces of exactly size bytes (the last may be shorter); one piece held at a time."""
    held = bytearray()
    for chunk in chunks:
        held += chunk
        while size and len(held) >= size:
            yield bytes(held[:size])
            del held[:size]
    if held:
        yield bytes(held)


def transfer_of(ctx) -> list[str]:
    """The body faults that touched a call, for its journal entry."""
    return [name for name in ("chunked_dribble", "bandwidth") if name in ctx]


PACE_SECONDS = 0.05  # bandwidth: the body goes out in pieces of at most this much time's worth of bytes


def shape_body(response: Response, truncate: bool, after_bytes: int | None, dribble: dict | None,
               bytes_per_second: int | None) -> None:
    """Send the answer's body cut (truncated_body), in pieces over time (chunked_dribble), or paced (bandwidth).

    The status and headers go out first with the whole body's Content-Length. With truncated_body
    only `after_bytes` (default: half) of it follow, then the connection closes: the client sees
    an incomplete read. A streamed answer (no Content-Length) is measured first (`body_length`: a
    report streamed as generated is generated twice, never held); with bandwidth alone it stays
    streamed, paced, with no Content-Length. chunked_dribble holds one of its N pieces at a time.
    """
    length = response.content_length
    if length is None and (truncate or dribble):
        length = body_length(response)
        response.headers["Content-Length"] = str(length)
    keep = length
    if truncate and length is not None:
        keep = length // 2 if after_bytes is None else min(after_bytes, length)
    chunks = response.iter_encoded()
    pause = pause_function(request.environ)
    closing = getattr(response.response, "close", None)

    def pieces():
        """The body's bytes, at most `keep` of them (all of them when the length is not known)."""
        if keep is None:
            yield from chunks
        else:
            yield from _first_bytes(chunks, keep)

    def dribbled():
        if not dribble:
            yield from pieces()
            return
        n = dribble["chunks"]
        interval = dribble["total_ms"] / 1000 / n
        size = -(-keep // n) if keep else 0
        cut = _pieces_of(pieces(), size)
        for i in range(n):
            if i:
                yield from pause(interval)
            piece = next(cut, b"")
            if piece or i == 0:
                yield piece
        yield from pause(interval)

    def paced():
        if not bytes_per_second:
            yield from dribbled()
            return
        step = max(1, int(bytes_per_second * PACE_SECONDS))
        for chunk in dribbled():
            if not isinstance(chunk, bytes):  # the dribble's own pause
                yield chunk
                continue
            for start in range(0, len(chunk), step):
                piece = chunk[start:start + step]
                yield from pause(len(piece) / bytes_per_second)
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
    """How a body waits: `yield from pause(seconds)`. With this project's server, the body yields the
    server's wait marker and the server waits in its event loop (no thread); else it sleeps here."""
    wait = environ.get("report_emulator.wait")

    def pause(seconds: float):
        if seconds <= 0:
            return
        if wait is not None:
            yield wait(seconds)
        else:
            time.sleep(seconds)

    return pause


def held_body(environ: dict, body):
    """The app's WSGI answer, held `environ["report_emulator.hold"]` seconds before its first byte.

    The app sets that key (a rule's delay, the latency knob) while it makes the answer; the wait runs
    once the answer is made and recorded, as the body's first step. So with this project's server it
    costs no thread, and a reset or a new scenario meanwhile changes nothing of it.
    """
    seconds = environ.pop("report_emulator.hold", 0)
    if not seconds:
        return body
    pause = pause_function(environ)

    def held():
        try:
            yield from pause(seconds)
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return held()


def break_connection(response: Response) -> Response:
    """connection_reset, once the journal has the request (so a client that sees the reset sees the entry)."""
    if g.get("fault") == "connection_reset" and not reset_connection(request.environ):
        log.warning("connection_reset needs the emulator's own server; answering with an empty response instead")
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
    """Close the client's socket with no answer, as a TCP reset; False when the server offers no way to.

    The server (emulator/server.py) puts `report_emulator.reset` in the environ: it writes nothing
    of the answer and closes the socket with SO_LINGER 0, which sends RST.
    """
    reset = environ.get("report_emulator.reset")
    if reset is None:
        return False
    reset()
    return True


def _hold(ms: float) -> None:
    """Hold this request for ms milliseconds once its answer is made (recorded in the journal as delay_ms)."""
    g.delay_ms = round(ms, 3)
    if ms > 0:
        request.environ["report_emulator.hold"] = ms / 1000  # held_body waits it out
