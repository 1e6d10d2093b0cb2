"""Falkor: pathway logs."""
from ...core.vendor import Vendor
from .errors import error_response
from .models import FalkorModel
from .routes import blueprint

vendor = Vendor(
    name="falkor",
    blueprint=blueprint,
    model=FalkorModel,
    prefixes=("/v1/",),
    error_response=error_response,
)
