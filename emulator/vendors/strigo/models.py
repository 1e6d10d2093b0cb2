"""strigo state and data generation. Never imports Flask."""
from __future__ import annotations

from ...core.vendor import VendorModel


class StrigoModel(VendorModel):
    name = "strigo"
    default_credentials = {"org_id": "emulator-org", "api_key": "strigo-emulator-key"}
