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

from .streaming import replayable

log = logging.getLogger(__name__)


def before_vendor_request() -> Response | None:
    if request.path.startswith("/_emulator"):
        return None
    emulator = current_app.extensions["emulator"]
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
    """At most keep bytes of chunks; closes the original body at the end."""
    try:
        left = keep
        for chunk in chunks:
            if left <= 0:
                break
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
    sleep = pause_function(request.environ)
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
                sleep(interval)
            piece = next(cut, b"")
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
