"""Admin pages: subscriptions, members, plans, manual actions. Every view is admin-only."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import routes, plans, messages  # noqa: E402,F401
