"""echo360 state and data generation. Never imports Flask."""
from __future__ import annotations

from ...core.vendor import VendorModel


class Echo360Model(VendorModel):
    name = "echo360"
    default_credentials = {"client_id": "emulator-client", "client_secret": "echo360-emulator-secret"}
