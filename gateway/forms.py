"""Forms shared by several blueprints (Flask-WTF: each carries the CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField


class EmptyForm(FlaskForm):
    """Just the CSRF token (log out, subscribe, and other one-button actions)."""

    dummy = StringField()
