"""echo360's thin views: load, call the model, dump or raise."""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("echo360", __name__)
