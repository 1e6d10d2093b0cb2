"""Echo360's marshmallow schemas: requests (load) and responses (dump), wire names via data_key."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_dump, validate

from ...core.csvout import DELIMITERS

GRANT_TYPES = ("client_credentials", "refresh_token")
STATUSES = ("Pending", "Available", "Expired", "Failed", "Missing")


class StrictBoolean(fields.Boolean):
    """A JSON true or false, nothing else ("yes" or 1 are refused)."""

    default_error_messages = {"invalid": "Not a valid boolean (true or false)."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


# --- requests (load) -----------------------------------------------------------------------------

class TokenRequestSchema(Schema):
    """`POST /oauth2/access_token`: a form body or query string (both are read; the body wins)."""

    grant_type = fields.String(required=True, validate=validate.OneOf(GRANT_TYPES))
    client_id = fields.String(required=True)
    client_secret = fields.String(load_default=None)
    refresh_token = fields.String(load_default=None)


class OutputSchema(Schema):
    compression = StrictBoolean(load_default=True)
    delimiter = fields.String(load_default=",", validate=validate.OneOf(
        DELIMITERS, error="Must be one of ',' (comma), '\\t' (tab) or '|' (pipe)."))


class ReportRequestBodySchema(Schema):
    """`POST /public/api/v1/reporting/requests/<reportName>`."""

    parameters = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    output = fields.Nested(OutputSchema, load_default=lambda: OutputSchema().load({}))


class LenientOutputSchema(OutputSchema):
    class Meta:
        unknown = EXCLUDE


class LenientReportRequestBodySchema(ReportRequestBodySchema):
    """The same body outside strict mode: keys the document does not list are ignored, as public
    clients send some (`reportName`, `access_token`, `output.output`); the contract check records them."""

    class Meta:
        unknown = EXCLUDE

    output = fields.Nested(LenientOutputSchema, load_default=lambda: OutputSchema().load({}))


# --- responses (dump) ----------------------------------------------------------------------------

class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"example": 3600})
    refresh_token = fields.String(required=True)


class ReportParameterSchema(Schema):
    name = fields.String(required=True)
    datatype = fields.String(required=True)
    required = fields.Boolean(required=True)


class ReportSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    note = fields.String(required=True)
    parameters = fields.List(fields.Nested(ReportParameterSchema), required=True)


class ReportListSchema(Schema):
    reports = fields.List(fields.Nested(ReportSchema), required=True)


def _drop_absent(data: dict, keys: tuple[str, ...]) -> dict:
    for key in keys:
        if data.get(key) is None:
            data.pop(key, None)
    return data


class ReportRequestSchema(Schema):
    """A request as listed by `GET /requests`: `assets` (file names) only once Available."""

    request_id = fields.String(required=True, data_key="requestId")
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    assets = fields.List(fields.String(), load_default=None)
    report_name = fields.String(required=True, data_key="reportName")
    parameters = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    created = fields.String(required=True, metadata={"example": "2020-04-01T20:36:12.000Z"})

    @post_dump
    def _absent(self, data, **kwargs):
        return _drop_absent(data, ("assets",))


class ReportRequestDetailSchema(Schema):
    """A request as `GET /requests/<id>` shows it: `signedAssets` (download links) only once Available."""

    request_id = fields.String(required=True, data_key="requestId")
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    signed_assets = fields.List(fields.String(), load_default=None, data_key="signedAssets")
    report_name = fields.String(required=True, data_key="reportName")
    parameters = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    created = fields.String(required=True)

    @post_dump
    def _absent(self, data, **kwargs):
        return _drop_absent(data, ("signedAssets",))


class ReportRequestListSchema(Schema):
    requests = fields.List(fields.Nested(ReportRequestSchema), required=True)


class ErrorSchema(Schema):
    error = fields.String(required=True)


def describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """marshmallow's messages as one line naming each field: `output.delimiter: Must be one of ...`."""
    parts: list[str] = []

    def walk(messages, path: str) -> None:
        if isinstance(messages, dict):
            for key, value in messages.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
            parts.append(f"{path or 'body'}: {' '.join(messages)}")
        else:
            for item in messages:
                walk(item, path)

    walk(exc.messages, prefix)
    return "; ".join(parts)


# --- for the documented contract (contract.py) ---------------------------------------------------

class TokenParametersSchema(Schema):
    """The token request's fields as the contract documents them, in the query string. Each is optional
    here because the view also reads a form body; it requires grant_type and client_id from the two."""

    grant_type = fields.String(validate=validate.OneOf(GRANT_TYPES), metadata={"example": "client_credentials"})
    client_id = fields.String(metadata={"example": "emulator-client"})  # the emulator's documented defaults
    client_secret = fields.String(metadata={"example": "echo360-emulator-secret"})
    refresh_token = fields.String()


class AccessTokenQuerySchema(Schema):
    """The reporting calls' optional `?access_token=` (instead of `Authorization: Bearer`)."""

    access_token = fields.String()
