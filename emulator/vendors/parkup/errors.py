"""ParkUp's typed errors and the one function that renders its error envelope.

The document fixes each error body; what exactly was wrong goes in an `X-Emulator-Error` header.
"""
from __future__ import annotations

from flask import Response, jsonify

BAD_REQUEST = "Invalid date range or missing required parameters"
UNAUTHORIZED = "Invalid or missing authentication token"
USER_NOT_FOUND = "User not found"


class ParkUpError(Exception):
    status = 500
    message = "Internal server error"

    def __init__(self, detail: str = ""):
        super().__init__(detail or self.message)
        self.detail = detail


class BadRequest(ParkUpError):
    status = 400
    message = BAD_REQUEST


class Unauthorized(ParkUpError):
    status = 401
    message = UNAUTHORIZED


class NotFound(ParkUpError):
    status = 404
    message = USER_NOT_FOUND


class TooManyRequests(ParkUpError):
    """Only under a scenario's rate_limit: the document shows no 429, so the body is ours."""

    status = 429
    message = "Too many requests"

    def __init__(self, limit: int, retry_after: int):
        super().__init__(f"scenario rate_limit of {limit} requests per minute exceeded")
        self.retry_after = retry_after


def error_response(status: int, message: str, detail: str = "") -> Response:
    """ParkUp's error body: {"error": ...}."""
    from .schemas import ErrorSchema

    response = jsonify(ErrorSchema().dump({"error": message}))
    response.status_code = status
    if detail:
        # A header value must be Latin-1 without line breaks, and the detail may quote the client's input.
        response.headers["X-Emulator-Error"] = detail.encode("unicode_escape").decode("ascii")
    return response


def contract_error(violations: list) -> Response:
    """Strict mode: the document fixes ParkUp's 400 body; the rules broken go in X-Emulator-Error."""
    return error_response(400, BAD_REQUEST, "contract violation: " + "; ".join(v.message for v in violations))


def handle(exc: ParkUpError) -> Response:
    response = error_response(exc.status, exc.message, exc.detail)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
