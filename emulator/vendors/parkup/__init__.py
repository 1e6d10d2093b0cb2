"""ParkUp: business user events report."""
from ...core.vendor import Vendor
from .contract import CONTRACT
from .errors import contract_error, error_response
from .models import ParkUpModel
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
