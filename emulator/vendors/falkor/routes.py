"""Falkor's thin views: load, call the model, dump or raise."""
from __future__ import annotations

import hashlib
import time

from flask import Blueprint, request
from marshmallow import ValidationError

from ...core.limits import LimitExceeded, read_json
from ...core.streaming import FLUSH, Lazy, app_dumps, json_pieces, streamed
from ...core.vendor import same_secret, vendor_model
from .errors import BadRequest, FalkorError, NotFound, TooManyRequests, Unauthorized, handle
from .models import PathwayNotFound
from .schemas import ActivitySchema, LogSchema, PathwayItemSchema, PathwayLogsRequestSchema, describe, fast_dumper

blueprint = Blueprint("falkor", __name__)
blueprint.register_error_handler(FalkorError, handle)

request_schema = PathwayLogsRequestSchema()
item_schema = PathwayItemSchema()
activity_schema = ActivitySchema()
dump_log = fast_dumper(LogSchema())


def check_token(model) -> None:
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("Missing Authorization header: send 'Authorization: Basic <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise Unauthorized("Authorization must use the Basic scheme: 'Authorization: Basic <token>'")
    if not same_secret(token.strip(), model.credentials()["token"]):
        raise Unauthorized("Invalid API token")


def load_body() -> dict:
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest("The request body is empty: send a JSON object with at least 'pathway'")
    try:
        payload = read_json(raw)
    except LimitExceeded as exc:
        raise FalkorError(exc.message, exc.status) from None
    except ValueError:  # UnicodeDecodeError is a ValueError
        raise BadRequest("The request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("The request body must be a JSON object with at least 'pathway'")
    try:
        return request_schema.load(payload)
    except ValidationError as exc:
        raise BadRequest(describe(exc)) from None


@blueprint.post("/v1/logs/pathway-logs")
def pathway_logs():
    started = time.perf_counter()
    model = vendor_model("falkor")
    check_token(model)
    verdict = model.hit()
    if verdict is not None and not verdict.allowed:
        raise TooManyRequests(verdict.limit, verdict.retry_after)
    body = load_body()
    try:
        tz = model.utc_offset()
    except ValueError as exc:
        raise FalkorError(f"Scenario setting falkor.{exc}", 500) from None
    try:
        stream = model.pathway_log_stream(body["pathway"], body.get("activities"), body.get("types"),
                                          body.get("groups"), body.get("users"), utc_offset=tz)
    except PathwayNotFound as exc:
        raise NotFound(str(exc)) from None
    dumps, timing = app_dumps(), {}
    return streamed(lambda: answer_pieces(stream, started, dumps, timing), "application/json",
                    what="Falkor pathway-logs")


def answer_pieces(stream, started: float, dumps, timing: dict):
    """The answer, in the schema's key order: status, data (written as generated), hash, response_time.

    `hash` is the MD5 of `data` as written (compact JSON, the document's order), so it is fed with
    the very pieces that go out; `response_time` is the time to the end of `data`. The pathway goes out before its plans are generated (FLUSH): the
    client has its first bytes while a big pathway is being made.
    """
    digest = hashlib.md5()
    item = item_schema.dump({"pathway": stream.pathway, "activities": []})
    item["activities"] = Lazy(activity_docs(stream, dumps))
    yield '{"status":"success","data":'
    for piece in json_pieces(Lazy([item]), dumps):
        if piece is FLUSH:
            yield piece
            continue
        digest.update(piece.encode())
        yield piece
    # The time of the first pass: a body fault that generates the answer twice (to learn its size) gets the same bytes.
    elapsed = timing.setdefault("response_time", time.perf_counter() - started)
    yield f',"hash":{dumps(digest.hexdigest())},"response_time":{dumps(elapsed)}}}\n'


def activity_docs(stream, dumps):
    yield FLUSH
    for activity, logs in stream.activities():
        doc = activity_schema.dump({**activity, "logs": []})
        doc["logs"] = Lazy((dumps(dump_log(log)) for log in logs), dumped=True)
        yield doc
