"""ParkUp: the business API's token exchange, validate, and the user events report."""
import math

from marshmallow import Schema, fields, validate

from ...core.scenarios import register_knob, register_world_check, register_world_field
from ...core.vendor import Vendor
from .contract import CONTRACT
from .errors import contract_error, error_response
from .models import ParkUpModel, customers_and_users
from .routes import blueprint

vendor = Vendor(
    name="parkup",
    blueprint=blueprint,
    model=ParkUpModel,
    prefixes=("/api/v3/",),
    error_response=error_response,
    contract=CONTRACT,
    contract_error=contract_error,
)

# An issued access token's life in seconds (`parkup: {access_token_seconds: 60}`); an hour by default.
register_knob("parkup", "access_token_seconds", lambda: fields.Integer(strict=True, validate=validate.Range(min=1)))
# The business behind the credentials (`world: {parkup: {business: {id: 7, name: Acme}}}`), as validate answers it.
register_world_field("parkup", "business", lambda: fields.Nested(Schema.from_dict({
    "id": fields.Integer(strict=True, validate=validate.Range(min=1)),
    "name": fields.String(validate=validate.Length(min=1)),
    "brandimagen": fields.String(validate=validate.Length(min=1)),
}, name="ParkUpBusiness")))

# Every user is made on the first call (customers x scale x users per customer, and the named ones).
register_world_check("parkup", lambda section, scale: {"customer_count": (
    math.prod(customers_and_users(section, scale)) + len(section.get("users") or []), "users")})
