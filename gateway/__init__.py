"""Tollgate: sell access to a website through PayPal."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

from flask import Flask

from models import User, db

from .clock import SystemClock
from .config import INSECURE_SECRET_KEY
from .extensions import csrf, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The app was asked to start with settings that are unsafe or incomplete."""


def create_app(test_config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the app: defaults -> instance/config.py -> GATEWAY_* env -> test overrides."""
    instance_path = os.environ.get("GATEWAY_INSTANCE_PATH") or str(ROOT / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True,
                template_folder=str(ROOT / "templates"))
    app.config.from_object("gateway.config.DefaultConfig")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("GATEWAY")
    if test_config:
        app.config.update(test_config)
    _check_config(app)

    app.extensions["clock"] = SystemClock()
    register_extensions(app)
    register_blueprints(app)
    register_template_helpers(app)
    from .errors import register_errorhandlers
    register_errorhandlers(app)
    from .cli import register_commands
    register_commands(app)
    return app


def _check_config(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{os.path.join(app.instance_path, 'tollgate.sqlite')}")
    if app.config["CANCEL_POLICY"] not in ("end_of_period", "immediate"):
        raise ConfigError("GATEWAY_CANCEL_POLICY must be end_of_period or immediate")
    if app.config["PAYPAL_MODE"] not in ("sim", "sandbox", "live"):
        raise ConfigError("GATEWAY_PAYPAL_MODE must be sim, sandbox or live")
    if app.debug or app.testing:
        return
    key = app.config.get("SECRET_KEY")
    if not key or key == INSECURE_SECRET_KEY or len(str(key)) < 16:
        raise ConfigError(
            "Refusing to start without a real SECRET_KEY: set GATEWAY_SECRET_KEY or run "
            "`python -m gateway.init_instance` to write one into instance/config.py")


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> Optional[User]:
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .member import bp as member_bp
    from .paypal import bp as paypal_bp
    app.register_blueprint(paypal_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(member_bp)
    app.register_blueprint(admin_bp)


def register_template_helpers(app: Flask) -> None:
    from .access import can
    from .clock import now
    from .member.areas import AREAS

    @app.context_processor
    def helpers() -> dict:
        return {"can": can, "areas": AREAS, "now": now}

    @app.template_filter("dt")
    def format_dt(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"

    @app.template_filter("until")
    def time_left(value) -> str:
        if value is None:
            return "—"
        delta = value - now()
        if delta.total_seconds() <= 0:
            return "ended"
        days, hours = delta.days, delta.seconds // 3600
        return f"{days} d {hours} h" if days else f"{hours} h {delta.seconds % 3600 // 60} min"
