"""Echo360's typed errors and the one place that renders them.

Raised by the model where each rule lives. The JSON API answers `{"error": "<message>"}`; signed asset
downloads answer like S3, with an XML `<Error><Code>AccessDenied</Code>...` body. Flask is imported
only inside the renderers, so the model can raise these without importing Flask.
"""
from __future__ import annotations

from xml.sax.saxutils import escape


class Echo360Error(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}


class BadRequest(Echo360Error):
    status = 400


class Unauthorized(Echo360Error):
    status = 401

    def __init__(self, message: str):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="echo360"'})


class NotFound(Echo360Error):
    status = 404


class TooManyRequests(Echo360Error):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class AccessDenied(Echo360Error):
    """A refused signed-asset download, answered the way S3 answers a bad pre-signed URL."""

    status = 403

    def __init__(self, message: str, details: dict[str, str] | None = None, code: str = "AccessDenied"):
        super().__init__(message)
        self.details = details or {}
        self.code = code  # S3's error code: AccessDenied, or InvalidAccessKeyId for an unknown key id

    def xml(self) -> str:
        return s3_error_xml(self.code, self.message, self.details)


def s3_error_xml(code: str, message: str, details: dict[str, str] | None = None) -> str:
    """S3's XML error body: `<Error><Code>...</Code><Message>...</Message>...</Error>`."""
    extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in (details or {}).items())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}</Error>")


def error_response(status: int, message: str, headers: dict[str, str] | None = None):
    """Echo360's JSON error: {"error": message}; on a signed asset download during a store outage
    (503), S3's XML error `ServiceUnavailable`, as the link's host would answer."""
    from flask import Response, jsonify, request

    from .models import ASSET_PREFIX
    from .schemas import ErrorSchema

    if status == 503 and request.path.startswith(ASSET_PREFIX):
        response = Response(s3_error_xml("ServiceUnavailable", message), status=503, mimetype="application/xml")
        response.headers.update(headers or {})
        return response

    response = jsonify(ErrorSchema().dump({"error": message}))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def contract_error(violations: list):
    """Strict mode: a request that breaks the documented contract, refused with Echo360's JSON error (400)."""
    return error_response(400, "Contract violation: " + "; ".join(v.message for v in violations))


def render(exc: Echo360Error):
    if isinstance(exc, AccessDenied):
        from flask import Response

        return Response(exc.xml(), status=403, mimetype="application/xml")
    return error_response(exc.status, exc.message, exc.headers)
