"""Echo360: asynchronous reporting API (tokens, catalogue, requests, signed assets)."""
from marshmallow import fields, validate

from ...core.scenarios import register_knob
from ...core.vendor import Vendor
from .contract import CONTRACT
from .errors import contract_error, error_response
from .models import Echo360Model
from .routes import blueprint

vendor = Vendor(
    name="echo360",
    blueprint=blueprint,
    model=Echo360Model,
    prefixes=("/oauth2/", "/public/api/v1/reporting/", "/s3/echo360-reporting/"),
    error_response=error_response,
    contract=CONTRACT,
    contract_error=contract_error,
)

# Report requests that may be Pending at once per API client (`echo360: {max_in_flight: N}`; default 3).
register_knob("echo360", "max_in_flight", lambda: fields.Integer(strict=True, validate=validate.Range(min=1, max=1000)))
