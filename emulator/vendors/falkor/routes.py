"""Falkor's thin views: load, call the model, dump or raise."""
from __future__ import annotations

import hashlib
import json
import time

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from ...core.limits import LimitExceeded, read_json
from ...core.vendor import same_secret, vendor_model
from .errors import BadRequest, FalkorError, NotFound, TooManyRequests, Unauthorized, handle
from .models import PathwayNotFound
from .schemas import PathwayLogsRequestSchema, PathwayLogsSchema, describe

blueprint = Blueprint("falkor", __name__)
blueprint.register_error_handler(FalkorError, handle)

request_schema = PathwayLogsRequestSchema()
answer_schema = PathwayLogsSchema()


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
        items = model.pathway_logs(body["pathway"], body.get("activities"), body.get("types"),
                                   body.get("groups"), body.get("users"), utc_offset=tz)
    except PathwayNotFound as exc:
        raise NotFound(str(exc)) from None
    answer = answer_schema.dump({"status": "success", "data": items, "hash": "", "response_time": 0.0})
    answer["hash"] = hashlib.md5(json.dumps(answer["data"], separators=(",", ":")).encode()).hexdigest()
    answer["response_time"] = time.perf_counter() - started  # the one figure that is not deterministic
    return jsonify(answer)
