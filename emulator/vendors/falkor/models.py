"""falkor state and data generation. Never imports Flask."""
from __future__ import annotations

from ...core.vendor import VendorModel


class FalkorModel(VendorModel):
    name = "falkor"
    default_credentials = {"token": "ZW11bGF0b3I6ZmFsa29yLXRva2Vu"}
