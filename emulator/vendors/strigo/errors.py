"""Strigo's typed errors and the functions that render its failure envelope.

The models raise these errors, and a model never imports Flask: Flask is imported inside the
rendering functions only.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Response

TOO_MANY_REQUESTS = "Too many requests, please try again later."


class StrigoError(Exception):
    """A refusal rendered as {"result": "failure", "error": {"type", "message"}} with `status`."""

    status = 400
    type = "BadRequest"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def error(self) -> dict:
        return {"type": self.type, "message": self.message}


class Unauthorized(StrigoError):
    status = 401
    type = "Unauthorized"


class EventNotFound(StrigoError):
    status = 404
    type = "EventNotFound"


class CourseNotFound(StrigoError):
    status = 404
    type = "CourseNotFound"


class RequestValidationError(StrigoError):
    """422 with `errors`: [{"location": "body"|"query"|"params", "param", "msg"}]."""

    status = 422
    type = "RequestValidationError"

    def __init__(self, errors: list[tuple[str, str, str]]):
        super().__init__("The request is not valid")
        self.errors = [{"location": location, "param": param, "msg": msg} for location, param, msg in errors]

    def error(self) -> dict:
        return {**super().error(), "errors": self.errors}


JSON = "application/json; charset=utf-8"


def envelope_body(payload) -> str:
    """JSON as Express writes it: compact, keys in order, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def envelope_response(payload, status: int) -> Response:
    """A JSON answer with Express's content type, `application/json; charset=utf-8`."""
    from flask import current_app

    return current_app.response_class(envelope_body(payload), status=status, content_type=JSON)


def render_error(exc: StrigoError) -> Response:
    from .schemas import FailureSchema

    return envelope_response(FailureSchema().dump({"result": "failure", "error": exc.error()}), exc.status)


def error_response(status: int, message: str, type_: str | None = None) -> Response:
    """Strigo's failure envelope for errors raised outside its views (unknown path, wrong method, a bug)."""
    kind = type_ or {401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed",
                     413: "PayloadTooLarge", 502: "BadGateway",
                     503: "ServiceUnavailable"}.get(status, "InternalServerError")
    error = StrigoError(message)
    error.status, error.type = status, kind
    return render_error(error)


def contract_error(violations: list) -> Response:
    """Strict mode: a request that breaks the documented contract gets Strigo's own 422
    RequestValidationError, one `errors` item per rule broken (location query, body or headers)."""
    return render_error(RequestValidationError([(v.location, v.param, v.message) for v in violations]))


def too_many_requests(retry_after: int) -> Response:
    """Express rate-limit's refusal: 429, text/html, a retry-after header and one sentence."""
    from flask import current_app

    response = current_app.response_class(TOO_MANY_REQUESTS, status=429)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Retry-After"] = str(retry_after)
    return response
