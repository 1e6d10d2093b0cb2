"""echo360's typed errors and the one function that renders its error envelope."""
from __future__ import annotations

from flask import Response, jsonify


def error_response(status: int, message: str) -> Response:
    """Echo360's JSON error."""
    response = jsonify({"error": message})
    response.status_code = status
    return response
