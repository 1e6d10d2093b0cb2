"""Echo360's thin views: load, call the model, dump or raise."""
from __future__ import annotations

import base64
import os
import zlib
from typing import Any
from urllib.parse import unquote_plus

from flask import Blueprint, jsonify, request, send_file
from marshmallow import ValidationError

from ...core.limits import LimitExceeded, read_json
from ...core.vendor import vendor_model
from . import schemas
from .errors import BadRequest, Echo360Error, Unauthorized, render
from .models import ASSET_PREFIX

blueprint = Blueprint("echo360", __name__)
REPORTING = "/public/api/v1/reporting"


def model():
    return vendor_model("echo360")


@blueprint.errorhandler(Echo360Error)
def _echo360_error(exc: Echo360Error):
    return render(exc)


def _client(body_token: str | None = None) -> str:
    """The API client behind the call's token (header, ?access_token=, or a body's), counted by the rate limit."""
    header = request.headers.get("Authorization", "")
    token = None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("malformed Authorization header: expected 'Bearer <token>'")
        token = value.strip()
    token = token or request.args.get("access_token") or body_token
    return model().authenticate(token)


def _body_token() -> str | None:
    """A JSON body's `access_token`, outside strict mode only. The document does not list it, but public
    clients send it there and the real service evidently accepts it (README, fidelity notes)."""
    if model().emulator.strict:
        return None
    try:
        token = _json_body().get("access_token")
    except Echo360Error:  # a body that cannot be read is refused after authentication, as before
        return None
    return token if isinstance(token, str) else None


def _json_body() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        payload = read_json(raw)
    except LimitExceeded as exc:
        raise Echo360Error(exc.message, exc.status) from None
    except ValueError:  # UnicodeDecodeError is a ValueError
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("the request body must be a JSON object with parameters and output")
    return payload


BASIC_CHALLENGE = 'Basic realm="echo360"'


def _basic_client() -> tuple[str, str] | None:
    """The client's id and secret from `Authorization: Basic`, or None when the call does not use it.

    RFC 6749 section 2.3.1: every server must take client credentials this way, each form-urlencoded
    before base64 (what a standard OAuth2 client library sends by default).
    """
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64, or not UTF-8 (binascii.Error and UnicodeDecodeError are ValueErrors)
        decoded = ""
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        error = Unauthorized("invalid client: malformed Authorization header: expected "
                             "'Basic base64(client_id:client_secret)'")
        error.headers["WWW-Authenticate"] = BASIC_CHALLENGE
        raise error
    return unquote_plus(client_id), unquote_plus(secret)


@blueprint.post("/oauth2/access_token")
def access_token():
    fields = {**request.args.to_dict(), **request.form.to_dict()}
    basic = _basic_client()
    if basic is not None:
        for name, value in zip(("client_id", "client_secret"), basic):
            if fields.get(name, value) != value:
                raise BadRequest(f"invalid_request: a {name} in the Authorization header and a different one in "
                                 "the request; a client uses one authentication method (RFC 6749 section 2.3)")
            fields[name] = value
    try:
        body = schemas.TokenRequestSchema().load(
            {k: v for k, v in fields.items() if k in schemas.TokenRequestSchema().fields})
    except ValidationError as exc:
        raise Unauthorized(f"invalid token request: {schemas.describe_errors(exc)}") from None
    try:
        token = model().issue_token(body["grant_type"], body["client_id"], body["client_secret"], body["refresh_token"])
    except Unauthorized as exc:
        if basic is not None:  # RFC 6749 section 5.2: the challenge names the scheme the client used
            exc.headers["WWW-Authenticate"] = BASIC_CHALLENGE
        raise
    return jsonify(schemas.TokenSchema().dump(token))


@blueprint.get(f"{REPORTING}/reports")
def reports():
    _client()
    return jsonify(schemas.ReportListSchema().dump({"reports": model().catalogue()}))


@blueprint.get(f"{REPORTING}/requests")
def list_requests():
    client = _client()
    return jsonify(schemas.ReportRequestListSchema().dump({"requests": model().list_requests(client)}))


# One path, two methods: POST names a report, GET a request (OpenAPI wants one name for both).
@blueprint.post(f"{REPORTING}/requests/<report_or_request>")
def submit(report_or_request: str):
    client = _client(_body_token())
    report_name = model().report(report_or_request).name
    # Strict mode: unknown keys were refused by the contract check already; this keeps the view's own 400.
    schema = schemas.ReportRequestBodySchema if model().emulator.strict else schemas.LenientReportRequestBodySchema
    try:
        body = schema().load(_json_body())
    except ValidationError as exc:
        raise BadRequest(f"invalid report request: {schemas.describe_errors(exc)}") from None
    output = body["output"]
    submitted = model().submit(client, report_name, body["parameters"], output["compression"], output["delimiter"])
    return _detail(client, submitted.id)


@blueprint.get(f"{REPORTING}/requests/<report_or_request>")
def request_detail(report_or_request: str):
    return _detail(_client(), report_or_request)


@blueprint.get(f"{REPORTING}/request/<request_id>")
def request_detail_singular(request_id: str):
    """The document writes the detail path once in the singular."""
    return _detail(_client(), request_id)


def _detail(client: str, request_id: str):
    return jsonify(schemas.ReportRequestDetailSchema().dump(model().get_request(client, request_id, request.url_root)))


@blueprint.get(f"{ASSET_PREFIX}<asset_name>")
def download(asset_name: str):
    args = request.args
    file, mimetype = model().open_asset(asset_name, args.get("Expires"), args.get("Signature"), args.get("AWSAccessKeyId"))
    # Sent from the open file (a reset may remove its path meantime), with what send_file gives a path.
    stat = os.fstat(file.fileno())
    response = send_file(file, mimetype=mimetype, download_name=asset_name, as_attachment=True, conditional=False,
                         etag=f"{stat.st_mtime}-{stat.st_size}-{zlib.adler32(asset_name.encode())}",
                         last_modified=stat.st_mtime)
    response.content_length = stat.st_size
    return response.make_conditional(request, accept_ranges=True, complete_length=stat.st_size)
