"""Strigo: event and on-demand course reports."""
from marshmallow import fields

from ...core.scenarios import register_knob, register_world_check
from ...core.vendor import Vendor
from .contract import CONTRACT
from .errors import contract_error, error_response
from .models import BASE_COURSES, BASE_EVENTS, StrigoModel, index_size
from .routes import blueprint

# Scenario knobs for choices the docs leave open (README, fidelity notes): `strigo: {csv_quote_header:
# true|false}` quotes (or not) every CSV header row; `event_exercises_envelope: false` answers the event
# exercises report with the bare array of the docs' example.
register_knob("strigo", "csv_quote_header", lambda: fields.Boolean(allow_none=True))
register_knob("strigo", "event_exercises_envelope", lambda: fields.Boolean())

vendor = Vendor(
    name="strigo",
    blueprint=blueprint,
    model=StrigoModel,
    prefixes=("/api/v1/",),
    error_response=error_response,
    contract=CONTRACT,
    contract_error=contract_error,
)

# The index of every event and course is made on the first call (a count is not multiplied by the scale).
register_world_check("strigo", lambda section, scale: {
    f"{kind}_count": (index_size(section, kind, base, scale), f"{kind}s")
    for kind, base in (("event", BASE_EVENTS), ("course", BASE_COURSES))})
