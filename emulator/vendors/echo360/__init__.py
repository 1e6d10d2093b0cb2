"""Echo360: asynchronous reporting API (tokens, catalogue, requests, signed assets)."""
from marshmallow import ValidationError, fields, validate

from ...core.scenarios import register_knob, register_world_check
from ...core.vendor import Vendor
from .contract import CONTRACT
from .data import MAX_SIZES, world_sizes
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


def world_check(section: dict, scale: int) -> dict[str, tuple[int, str]]:
    """What a world's `echo360` section asks for (each size up to MAX_SIZES). A size of 0 is taken as
    given, but media are captured in a course's sections: no courses needs no media."""
    sizes = world_sizes(section, scale)
    if sizes["courses"] == 0 and sizes["media"] > 0:
        raise ValidationError({"courses": [f"0 courses cannot hold {sizes['media']:,} media (each is captured in a "
                                           "course's section): give media: 0 as well, or at least 1 course"]})
    return {name: (sizes[name], name) for name in MAX_SIZES}


register_world_check("echo360", world_check, MAX_SIZES)
