"""parkup state and data generation. Never imports Flask."""
from __future__ import annotations

from ...core.vendor import VendorModel


class ParkUpModel(VendorModel):
    name = "parkup"
    default_credentials = {"token": "parkup-emulator-token"}
