"""Echo360: asynchronous reporting API (tokens, catalogue, requests, signed assets)."""
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
