"""falkor's thin views: load, call the model, dump or raise."""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("falkor", __name__)
