"""Strigo: event and on-demand course reports."""
from ...core.vendor import Vendor
from .errors import error_response
from .models import StrigoModel
from .routes import blueprint

vendor = Vendor(
    name="strigo",
    blueprint=blueprint,
    model=StrigoModel,
    prefixes=("/api/v1/",),
    error_response=error_response,
)
