"""Falkor: pathway logs."""
from marshmallow import fields, validate

from ...core.scenarios import register_knob, register_world_check
from ...core.vendor import Vendor
from .contract import CONTRACT
from .errors import contract_error, error_response
from .models import FalkorModel, pathway_total
from .routes import blueprint

vendor = Vendor(
    name="falkor",
    blueprint=blueprint,
    model=FalkorModel,
    prefixes=("/v1/",),
    error_response=error_response,
    contract=CONTRACT,
    contract_error=contract_error,
)

# The account's UTC offset, the one in every timestamp (`falkor: {utc_offset: "+05:30"}`).
register_knob("falkor", "utc_offset", lambda: fields.String(
    validate=validate.Regexp(r"^[+-](0\d|1[0-4]):?[0-5]\d$", error="must look like +02:00")))

# Every pathway is listed on the first call.
register_world_check("falkor", lambda section, scale: {"pathway_count": (pathway_total(section, scale), "pathways")})
