"""PayPal endpoints (CSRF-exempt: PayPal cannot send our token) and the return pages."""
from flask import Blueprint

bp = Blueprint("paypal", __name__, url_prefix="/paypal")

from . import routes  # noqa: E402,F401
