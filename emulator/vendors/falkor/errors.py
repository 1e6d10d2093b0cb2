"""Falkor's typed errors and the one function that renders its error envelope."""
from __future__ import annotations

from flask import Response, jsonify


class FalkorError(Exception):
    """A refusal: rendered as {"status": "error", "message": ...} with this status."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class Unauthorized(FalkorError):
    status = 401


class BadRequest(FalkorError):
    status = 400


class NotFound(FalkorError):
    status = 404


class TooManyRequests(FalkorError):
    status = 429

    def __init__(self, limit: int, retry_after: int):
        super().__init__(f"Rate limit of {limit} requests per minute exceeded (scenario rate_limit); retry in {retry_after} s")
        self.retry_after = retry_after


def error_response(status: int, message: str) -> Response:
    """Falkor's error envelope: {"status": "error", "message": ...}."""
    from .schemas import ErrorSchema

    response = jsonify(ErrorSchema().dump({"status": "error", "message": message}))
    response.status_code = status
    return response


def contract_error(violations: list) -> Response:
    """Strict mode: a request that breaks the documented contract, refused in Falkor's envelope (400)."""
    return error_response(400, "Contract violation: " + "; ".join(v.message for v in violations))


def handle(exc: FalkorError) -> Response:
    response = error_response(exc.status, exc.message)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
