"""`serve --replay DIR` (or a scenario's `replay: DIR`): recorded requests get their recorded answers.

A request is matched on its method, path, query and body. A value the recording masked (a token, a
signature, `MASKED`) matches any value, so a client with its own credentials still matches; the
order of query parameters does not matter, nor the spacing of a JSON body. A request recorded several
times (Echo360's polls: Pending, then Available) gets its answers in the recorded order, the last one
again after that; the count lives in the store, so a reset starts over. Every other request goes to
the emulator as usual.

Signed links in a replayed answer are rewritten to this server, as the proxy rewrote them
(`/_emulator/upstream/<scheme>/<host>/...` for a link on another host). The recorded bytes are sent
otherwise unchanged, with their recorded status and headers (hop-by-hop ones and the length aside).
A failed exchange (`_failure`) is not replayed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from flask import Response, current_app, request

from . import har
from .recordings import Exchange, read_folder


class ReplayError(ValueError):
    pass


def _pairs(query: str) -> list[tuple[str, str]]:
    return sorted(parse_qsl(query, keep_blank_values=True))


def _same(recorded, given) -> bool:
    """Recorded equals given, where a masked recorded value matches anything."""
    if recorded == har.MASK or (isinstance(recorded, str) and recorded.endswith(" " + har.MASK)):
        return True
    if isinstance(recorded, dict) and isinstance(given, dict):
        return recorded.keys() == given.keys() and all(_same(recorded[k], given[k]) for k in recorded)
    if isinstance(recorded, list) and isinstance(given, list):
        return len(recorded) == len(given) and all(_same(r, g) for r, g in zip(recorded, given))
    if isinstance(recorded, str) and isinstance(given, str) and "?" in recorded and "://" in recorded:
        return _same_url(recorded, given)
    return recorded == given


def _same_url(recorded: str, given: str) -> bool:
    r, g = urlsplit(recorded), urlsplit(given)
    return (r.path == g.path and len(_pairs(r.query)) == len(_pairs(g.query))
            and all(rn == gn and _same(rv, gv) for (rn, rv), (gn, gv) in zip(_pairs(r.query), _pairs(g.query))))


def _same_query(recorded: list[tuple[str, str]], given: list[tuple[str, str]]) -> bool:
    return len(recorded) == len(given) and all(rn == gn and _same(rv, gv) for (rn, rv), (gn, gv) in zip(recorded, given))


def _body_value(body: bytes, media: str):
    media = media.split(";")[0].strip().lower()
    if not body.strip():
        return None
    if "json" in media:
        try:
            return json.loads(body)
        except ValueError:
            return body
    if media == "application/x-www-form-urlencoded":
        return _pairs(body.decode("utf-8", "replace"))
    return body


@dataclass
class Recorded:
    exchange: Exchange
    where: tuple  # ("here", path) or ("foreign", scheme, host, path)
    query: list[tuple[str, str]]
    body: object


class Replay:
    def __init__(self, folder: str | Path):
        found = read_folder(folder)
        if found.problems:
            raise ReplayError(f"recording folder {folder}: " + "; ".join(f"{name}: {why}" for name, why in found.problems))
        self.folder = str(folder)
        self.by_key: dict[tuple, list[Recorded]] = {}
        for exchange in found.exchanges:
            if exchange.failed:
                continue
            path, here = exchange.local_path()
            parts = exchange.url_parts()
            where = ("here", path) if here else ("foreign", parts.scheme, parts.netloc, parts.path)
            media = exchange.header(exchange.request, "Content-Type") or ""
            body = _body_value(exchange.request_body(), (exchange.request.get("postData") or {}).get("mimeType", media))
            self.by_key.setdefault((exchange.method, where), []).append(
                Recorded(exchange, where, _pairs(parts.query), body))
        if not self.by_key:
            raise ReplayError(f"recording folder {folder} holds no recorded answer to replay")

    def answer(self, emulator) -> Response | None:
        raw_path = request.path
        if raw_path.startswith(har.FOREIGN_PREFIX):
            scheme, _, rest = raw_path[len(har.FOREIGN_PREFIX):].partition("/")
            host, _, tail = rest.partition("/")
            where = ("foreign", scheme, host, "/" + tail)
        else:
            where = ("here", raw_path)
        candidates = self.by_key.get((request.method, where))
        if not candidates:
            return None
        query = _pairs(request.query_string.decode("latin-1"))
        body = _body_value(request.get_data(cache=True), request.headers.get("Content-Type", ""))
        same = [c for c in candidates if _same_query(c.query, query) and _same(c.body, body)]
        if not same:
            return None
        digest = hashlib.sha256(repr((self.folder, request.method, where, same[0].query)).encode()).hexdigest()[:24]
        vendor = same[0].exchange.vendor
        turn = emulator.store.incr(f"{vendor}:replay:{digest}")
        chosen = same[min(turn, len(same)) - 1].exchange
        return self.render(chosen)

    def render(self, exchange: Exchange) -> Response:
        response = exchange.response
        body = exchange.response_body()
        media = (response.get("content") or {}).get("mimeType", "")
        if "json" in media.lower():
            body = self.rewrite_links(exchange, body)
        headers = [(h["name"], h["value"]) for h in response.get("headers", [])
                   if h["name"].lower() not in har.HOP_BY_HOP and h["name"].lower() != "content-length"]
        out = current_app.response_class(body, status=response["status"])
        out.headers.clear()
        for name, value in headers:
            out.headers.add(name, value)
        out.headers["Content-Length"] = str(len(body))
        return out

    def rewrite_links(self, exchange: Exchange, body: bytes) -> bytes:
        return har.rewrite_links(body, exchange.upstream, request.url_root.rstrip("/"))


def replayed_answer() -> Response | None:
    """The before-request hook's one call: the recorded answer to this request, if one was recorded.

    The folder comes from `serve --replay DIR` or from the active scenario's `replay: DIR`; loaded once
    per folder and kept on the app (recordings do not change while served).
    """
    from ..core.tenants import current_emulator

    emulator = current_emulator()
    folder = emulator.settings.replay or (emulator.scenario or {}).get("replay")
    if not folder:
        return None
    cache = current_app.extensions.setdefault("replays", {})
    replay = cache.get(folder)
    if replay is None:
        try:
            replay = cache[folder] = Replay(folder)
        except ReplayError as exc:  # a scenario named a folder that broke after it was loaded
            current_app.logger.error("%s", exc)
            return None
    return replay.answer(emulator)


def check_folder(folder: str) -> None:
    """Refuse a replay folder that is missing, empty, or holds a file that is not a recording."""
    Replay(folder)
