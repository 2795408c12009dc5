"""Member pages: home, plans, my subscriptions and receipts (`routes`), and the changes a
member makes to a subscription at PayPal (`manage`). One blueprint, defined here so that
both modules add their views to it without importing each other both ways."""

from flask import Blueprint

bp = Blueprint("member", __name__)
