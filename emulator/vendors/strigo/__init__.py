"""Strigo: event and on-demand course reports."""
from marshmallow import fields

from ...core.scenarios import register_knob
from ...core.vendor import Vendor
from .contract import CONTRACT
from .errors import contract_error, error_response
from .models import StrigoModel
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
