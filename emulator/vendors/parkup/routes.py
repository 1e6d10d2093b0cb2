"""ParkUp's thin views: load, call the model, dump or raise."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from ...core.limits import LimitExceeded, read_json
from ...core.streaming import Lazy, app_dumps, json_pieces, streamed
from ...core.vendor import vendor_model
from .errors import BadRequest, NotFound, ParkUpError, TooManyRequests, Unauthorized, handle
from .models import TokenRefused, UserNotFound
from .schemas import (AccessTokenRequestSchema, AccessTokenSchema, BusinessSchema, UserEventSchema,
                      UserEventsRequestSchema, describe)

blueprint = Blueprint("parkup", __name__)
blueprint.register_error_handler(ParkUpError, handle)

request_schema = UserEventsRequestSchema()
event_schema = UserEventSchema()
token_request_schema = AccessTokenRequestSchema()


def check_token(model) -> None:
    """The fixed token or an unexpired access token, as `Authorization: Bearer <token>`; then the rate limit."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    try:
        model.authenticate(token.strip())
    except TokenRefused as exc:
        raise Unauthorized(str(exc)) from None
    check_rate(model)


def check_rate(model) -> None:
    verdict = model.hit()
    if verdict is not None and not verdict.allowed:
        raise TooManyRequests(verdict.limit, verdict.retry_after)


def json_object() -> dict:
    try:
        payload = read_json(request.get_data(cache=True))
    except LimitExceeded as exc:  # the document fixes the 400 body: the limit is named in X-Emulator-Error
        raise BadRequest(exc.message) from None
    except ValueError:  # UnicodeDecodeError is a ValueError
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("the request body must be a JSON object")
    return payload


def load_body() -> dict:
    try:
        return request_schema.load(json_object())
    except ValidationError as exc:
        raise BadRequest(describe(exc)) from None


@blueprint.post("/api/v3/business/oauth/access_token")
def access_token():
    """Swap the refresh token for an access token. Anything wrong with the grant is a 401."""
    model = vendor_model("parkup")
    check_rate(model)
    try:
        body = token_request_schema.load(json_object())
        token = model.issue_access_token(body["refresh_token"], body["grant_type"])
    except ValidationError as exc:
        raise Unauthorized(describe(exc)) from None
    except TokenRefused as exc:
        raise Unauthorized(str(exc)) from None
    return jsonify(AccessTokenSchema().dump({"access_token": token}))


@blueprint.post("/api/v3/business/validate")
def validate():
    """The business behind the bearer token. Any request body is ignored."""
    model = vendor_model("parkup")
    check_token(model)
    return jsonify(BusinessSchema().dump(model.business()))


@blueprint.post("/api/v3/business/report/event/user")
def user_events():
    model = vendor_model("parkup")
    check_token(model)
    body = load_body()
    try:
        events = model.user_event_stream(body["ref_id"], body["customer_id"], body["from_"], body["until"])
    except UserNotFound:
        detail = f"no user with refId {body['ref_id']!r}"
        if body["customer_id"] is not None:
            detail += f" for customerId {body['customer_id']}"
        raise NotFound(detail) from None
    dumps = app_dumps()

    def body():
        yield from json_pieces(Lazy((dumps(event_schema.dump(event)) for event in events()), dumped=True), dumps)
        yield "\n"

    return streamed(body, "application/json", what="ParkUp user events")
