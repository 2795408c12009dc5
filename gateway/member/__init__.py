"""Member pages: home, plans, my subscriptions, and the gated areas."""
from flask import Blueprint

bp = Blueprint("member", __name__)

from . import routes  # noqa: E402,F401
