"""Streamed answers: a report's JSON or CSV is written as it is generated, so memory stays flat at any size.

A streamed answer has no Content-Length: the server sends it with `Transfer-Encoding: chunked` (HTTP/1.1),
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


def gathered(pieces: Iterable[Any], size: int = CHUNK_BYTES, send_now: Any = None) -> Iterator[Any]:
    """str/bytes pieces joined into bytes chunks of about size; a FLUSH marker yields what is gathered,
    followed by `send_now` when given: the server's zero wait (`environ["report_emulator.wait"](0)`),
    on which emulator/server.py writes what it has of the answer at once, rather than when it has
    gathered a batch (a stream that sends its head and then spends seconds on a first pass)."""
    buffer: list[bytes] = []
    held = 0
    for piece in pieces:
        if piece is FLUSH:
            if buffer:
                yield b"".join(buffer)
                buffer, held = [], 0
            if send_now is not None:
                yield send_now
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

    Iterating it gives the answer (bytes, and the server's markers); an exception inside becomes
    StreamAborted (logged once), which the server answers by closing the connection without the
    chunked terminator.
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
        return sum(len(chunk) for chunk in self.make() if isinstance(chunk, bytes))


def streamed(make: Callable[[], Iterable[Any]], content_type: str, status: int = 200, what: str = "answer"):
    """A Flask response whose body is `make()`'s pieces (str, bytes or FLUSH), gathered and sent as made."""
    from flask import current_app, request

    wait = request.environ.get("report_emulator.wait")
    body = Replayable(lambda: gathered(make(), send_now=wait(0) if wait else None), what)
    return current_app.response_class(body, status=status, content_type=content_type)


def replayable(response) -> Replayable | None:
    """The response's Replayable body, if it is a streamed answer made here."""
    body = getattr(response, "response", None)
    return body if isinstance(body, Replayable) else None
