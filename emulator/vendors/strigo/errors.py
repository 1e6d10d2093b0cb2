"""strigo's typed errors and the one function that renders its error envelope."""
from __future__ import annotations

from flask import Response, jsonify


def error_response(status: int, message: str, type_: str | None = None) -> Response:
    """Strigo's failure envelope: {"result": "failure", "error": {"type", "message"}}."""
    kind = type_ or {401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed"}.get(status, "InternalServerError")
    response = jsonify({"result": "failure", "error": {"type": kind, "message": message}})
    response.status_code = status
    return response
