"""ParkUp's thin views: load, call the model, dump or raise."""
from __future__ import annotations

import json

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from ...core.vendor import vendor_model
from .errors import BadRequest, NotFound, ParkUpError, TooManyRequests, Unauthorized, handle
from .models import UserNotFound
from .schemas import UserEventSchema, UserEventsRequestSchema, describe

blueprint = Blueprint("parkup", __name__)
blueprint.register_error_handler(ParkUpError, handle)

request_schema = UserEventsRequestSchema()
events_schema = UserEventSchema(many=True)


def check_token(model) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or token.strip() != model.credentials()["token"]:
        raise Unauthorized("expected 'Authorization: Bearer <token>' with the ParkUp token")


def load_body() -> dict:
    try:
        payload = json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("the request body must be a JSON object")
    try:
        return request_schema.load(payload)
    except ValidationError as exc:
        raise BadRequest(describe(exc)) from None


@blueprint.post("/api/v3/business/report/event/user")
def user_events():
    model = vendor_model("parkup")
    check_token(model)
    verdict = model.hit()
    if verdict is not None and not verdict.allowed:
        raise TooManyRequests(verdict.limit, verdict.retry_after)
    body = load_body()
    try:
        events = model.user_events(body["ref_id"], body["customer_id"], body["from_"], body["until"])
    except UserNotFound:
        detail = f"no user with refId {body['ref_id']!r}"
        if body["customer_id"] is not None:
            detail += f" for customerId {body['customer_id']}"
        raise NotFound(detail) from None
    return jsonify(events_schema.dump(events))
