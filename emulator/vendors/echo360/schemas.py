"""echo360's marshmallow schemas: requests (load) and responses (dump), wire names via data_key."""
from __future__ import annotations
