"""Unbound Flask extensions, bound to the app by `init_app` in the factory (Flask-Migrate
is bound on first use: lazy_migrate.py)."""

from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
