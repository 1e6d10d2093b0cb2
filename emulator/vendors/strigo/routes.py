"""strigo's thin views: load, call the model, dump or raise."""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("strigo", __name__)
