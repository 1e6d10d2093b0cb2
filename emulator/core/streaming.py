"""Streamed answers: a report's JSON or CSV is written as it is generated, so memory stays flat at any size.

A streamed answer has no Content-Length: waitress sends it with `Transfer-Encoding: chunked` (HTTP/1.1),
in pieces of about CHUNK_BYTES. The bytes are the ones the whole document would have had
(`json_pieces` writes exactly what Flask's compact `jsonify` writes, key order kept): only the way
they travel changes. Figures that come before the rows they summarise are computed by a first pass
over the same deterministic generator, never by keeping the rows.

A streamed body is `Replayable`: it can be generated again from the start. That is how the body
faults that need the answer's size (`truncated_body`, `malformed_body`, `chunked_dribble`; see
core/faults.py) learn it without holding the body: `measure()` runs the generator once and counts.

An error found after the first byte has gone out cannot change the status any more: the stream
stops, and the connection is closed without the chunked terminator, so the client sees an
incomplete read (never a complete-looking but short document). The error is logged once.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable, Iterable, Iterator

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024  # a streamed answer is written in pieces of about this size
FLUSH = object()  # yielded by a body: write what is gathered now (e.g. before a long first pass)


class Lazy:
    """A JSON array whose items are produced on demand (each item: a value, or already dumped JSON text)."""

    __slots__ = ("items", "dumped")

    def __init__(self, items: Iterable[Any], dumped: bool = False):
        self.items = items
        self.dumped = dumped


def compact_dumps(ensure_ascii: bool = True, default: Callable | None = None) -> Callable[[Any], str]:
    """json.dumps as Flask's `jsonify` calls it outside debug mode (compact, key order kept)."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=ensure_ascii, default=default)
    return encoder.encode


def app_dumps() -> Callable[[Any], str]:
    """`compact_dumps` with the running app's JSON settings (call it inside a request)."""
    from flask import current_app

    provider = current_app.json
    return compact_dumps(getattr(provider, "ensure_ascii", True), getattr(provider, "default", None))


def json_pieces(value: Any, dumps: Callable[[Any], str]) -> Iterator[Any]:
    """The JSON text of value, in pieces: dicts holding a `Lazy` are walked, everything else is dumped whole.

    FLUSH markers yielded by a Lazy's items pass through.
    """
    if isinstance(value, Lazy):
        yield "["
        first = True
        for item in value.items:
            if item is FLUSH:
                yield item
                continue
            if not first:
                yield ","
            first = False
            if value.dumped:
                yield item
            else:
                yield from json_pieces(item, dumps)
        yield "]"
    elif isinstance(value, dict) and _holds_lazy(value):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + dumps(key) + ":"
            yield from json_pieces(item, dumps)
        yield "}"
    else:
        yield dumps(value)


def _holds_lazy(value: dict) -> bool:
    return any(isinstance(v, Lazy) or (isinstance(v, dict) and _holds_lazy(v)) for v in value.values())


def gathered(pieces: Iterable[Any], size: int = CHUNK_BYTES, flush: Callable[[], None] | None = None) -> Iterator[bytes]:
    """str/bytes pieces joined into bytes chunks of about size; a FLUSH marker writes what is gathered,
    and then (when the server has been handed it) has `flush` send it."""
    buffer: list[bytes] = []
    held = 0
    for piece in pieces:
        if piece is FLUSH:
            if buffer:
                yield b"".join(buffer)
                buffer, held = [], 0
                if flush is not None:
                    flush()
            continue
        if isinstance(piece, str):
            piece = piece.encode()
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield b"".join(buffer)


class StreamAborted(Exception):
    """A streamed answer failed after its first byte: the connection is closed, the answer left incomplete."""


class Replayable:
    """A WSGI body made by `make()` (bytes chunks), which can be made again from the start.

    Iterating it gives the answer; an exception inside becomes StreamAborted (logged once), which
    waitress answers by closing the connection without the chunked terminator.
    """

    def __init__(self, make: Callable[[], Iterable[bytes]], what: str = "answer"):
        self.make = make
        self.what = what

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.make():
                if chunk:
                    yield chunk
        except GeneratorExit:
            raise
        except Exception as exc:
            log.error("streamed %s stopped after its first byte (the connection is closed): %r", self.what, exc)
            raise StreamAborted(str(exc)) from exc

    def measure(self) -> int:
        """The body's length in bytes, by generating it once (nothing is kept)."""
        return sum(len(chunk) for chunk in self.make())


def streamed(make: Callable[[], Iterable[Any]], content_type: str, status: int = 200, what: str = "answer"):
    """A Flask response whose body is `make()`'s pieces (str, bytes or FLUSH), gathered and sent as made."""
    from flask import current_app, request

    environ = request.environ
    body = Replayable(lambda: gathered(make(), flush=lambda: send_now(environ)), what)
    return current_app.response_class(body, status=status, content_type=content_type)


def replayable(response) -> Replayable | None:
    """The response's Replayable body, if it is a streamed answer made here."""
    body = getattr(response, "response", None)
    return body if isinstance(body, Replayable) else None


def send_now(environ: dict) -> None:
    """Have the server send what it holds of this answer now.

    waitress gathers an answer's writes up to `send_bytes` (64 KB here, see server.py) before it
    sends them; a stream that writes its first bytes and then spends seconds on a first pass would
    keep them back. waitress has no public flush, so this does what its own write does past
    `send_bytes` (a flush of the connection's buffers, under their lock, from the request's thread),
    through the connection that `waitress.client_disconnected` belongs to (as core/faults.py's
    reset does). Under another server it does nothing.
    """
    channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
    lock, flush = getattr(channel, "outbuf_lock", None), getattr(channel, "_flush_some", None)
    if lock is None or flush is None:
        return
    try:
        with lock:
            flush()
    except OSError:
        pass  # the client went away: the next write finds out
