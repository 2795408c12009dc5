"""Tollgate: sell access to a website through PayPal.

The flaskr shape: everything is wired inside `create_app`, so importing any part of the
package (the billing core, the inbox worker) never loads the views or the models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from .config import INSECURE_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The app was asked to start with settings that are unsafe or incomplete."""


def create_app(
    test_config: Mapping[str, Any] | None = None, instance_path: str | None = None
) -> Flask:
    """Build the app: defaults -> instance/config.py -> GATEWAY_* env -> test overrides.

    The instance folder is `instance_path`, else $GATEWAY_INSTANCE_PATH, else ./instance.
    """
    from . import fastpath
    from .cli.commands import register_commands
    from .clock import SystemClock
    from .errors import register_errorhandlers
    from .security import register_security
    from .tokens.bearer import install as install_tokens

    instance_path = (
        instance_path or os.environ.get("GATEWAY_INSTANCE_PATH") or str(ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
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
    register_errorhandlers(app)
    register_commands(app)
    register_channels(app)
    install_content(app)
    fastpath.install(app)  # everything that exists only for speed: gateway/fastpath/
    install_tokens(app)  # after the fast path: wraps the session interface it sets
    register_security(app)  # outermost: its headers go on every answer, the fast path's too
    return app


def _check_config(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{os.path.join(app.instance_path, 'tollgate.sqlite')}"
        )
    from .database import database_problem

    problem = database_problem(app.config)
    if problem:
        raise ConfigError(problem)
    if app.config["CANCEL_POLICY"] not in ("end_of_period", "immediate"):
        raise ConfigError("GATEWAY_CANCEL_POLICY must be end_of_period or immediate")
    if app.config["PAYPAL_MODE"] not in ("sim", "sandbox", "live"):
        raise ConfigError("GATEWAY_PAYPAL_MODE must be sim, sandbox or live")
    if app.config["PAYPAL_WEBHOOK_VERIFY"] not in ("auto", "offline", "api"):
        raise ConfigError("GATEWAY_PAYPAL_WEBHOOK_VERIFY must be auto, offline or api")
    from .access_rules.table import BadRule, Who

    try:
        Who.parse(app.config["ACCESS_DEFAULT"])
    except BadRule as e:
        raise ConfigError(f"GATEWAY_ACCESS_DEFAULT: {e}") from None
    from .forward import GateSettingError
    from .forward import install as install_forward

    try:
        install_forward(app)
    except GateSettingError as e:
        raise ConfigError(str(e)) from None
    from .flood import guard as door

    try:  # the intake's door: who may post how much (gateway/flood/)
        door.install(app)
    except (ValueError, TypeError) as e:  # a network that is not one, a limit not a number
        raise ConfigError(f"GATEWAY_INTAKE_* or GATEWAY_TRUSTED_PROXIES: {e}") from None
    from .pipeline.worker import verify_budget

    if int(app.config["IPN_LEASE_SECONDS"]) < verify_budget(app.config) + 60:
        raise ConfigError(
            "GATEWAY_IPN_LEASE_SECONDS must exceed a batch's verification time "
            f"({verify_budget(app.config):g} s) by a minute, or messages would be verified twice"
        )
    if app.debug or app.testing:
        return
    key = app.config.get("SECRET_KEY")
    if not key or key == INSECURE_SECRET_KEY or len(str(key)) < 16:
        raise ConfigError(
            "Refusing to start without a real SECRET_KEY: set GATEWAY_SECRET_KEY or run "
            "`python -m gateway.ops.init_instance` to write one into instance/config.py"
        )


def register_extensions(app: Flask) -> None:
    from models import db

    from .database import configure_engine, engine_options
    from .extensions import csrf, login_manager

    # Behind a transaction pooler: no prepared statements (database.py).
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    configure_engine(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    # The user loader is the fast path's (fastpath/member_copy.py): this process's copy of
    # the member, else auth.sessions.load from the database.


def register_channels(app: Flask) -> None:
    """The channels this app speaks (channels/seam.py); tests and later channels add
    theirs to the same dict."""
    from .billing.rules.statuses import Channel
    from .channels.api import ApiChannel
    from .channels.csv_reports import CsvChannel
    from .channels.ipn import IpnChannel
    from .channels.webhook import WebhookChannel

    app.extensions["channels"] = {
        Channel.IPN: IpnChannel(),
        Channel.WEBHOOK: WebhookChannel(),
        Channel.API: ApiChannel(),
        Channel.CSV: CsvChannel(),
    }


def register_blueprints(app: Flask) -> None:
    from .admin.routes import bp as admin_bp
    from .auth.routes import bp as auth_bp
    from .checkout.rest_routes import bp as rest_checkout_bp
    from .checkout.routes import bp as checkout_bp
    from .forward.routes import bp as gate_bp
    from .member.routes import bp as member_bp
    from .offers.routes import bp as offers_bp
    from .passes.routes import bp as passes_bp
    from .pipeline.endpoints import bp as paypal_bp
    from .tokens.routes import bp as tokens_bp

    for bp in (
        paypal_bp,
        auth_bp,
        member_bp,
        checkout_bp,
        rest_checkout_bp,
        passes_bp,
        admin_bp,
        tokens_bp,
        gate_bp,
        offers_bp,
    ):
        app.register_blueprint(bp)

    # Health and monitoring: /healthz, /readyz, /metrics; /admin/status (its own admin guard).
    from .ops.health import bp as health_bp
    from .ops.status_page import bp as admin_status_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(admin_status_bp)

    # The owner's content under every path the routes above leave free, as the rules say.
    from .content.routes import bp as content_bp

    app.register_blueprint(content_bp)


def install_content(app: Flask) -> None:
    """Each process's rule table, and the content folder whose pages add their rules."""
    from .content import site
    from .rulebook import store

    store.install(app)
    site.install(app)


def register_template_helpers(app: Flask) -> None:
    from . import mail
    from .access import can, can_all, past_due_notice
    from .billing.rules.timetext import is_lifetime
    from .clock import day_text, day_time_text, now, utc_text
    from .paypal.urls import manage_url

    mail.init_app(app)  # instance/mail/ overrides, the `money` filter

    @app.context_processor
    def helpers() -> dict:
        return {
            "can": can,
            "can_all": can_all,
            "now": now,
            "past_due_notice": past_due_notice,
            "paypal_manage_url": lambda: manage_url(app.config),
        }

    @app.template_filter("dt")
    def format_dt(value) -> str:
        return utc_text(value) if value else "—"

    app.add_template_filter(day_text, "day")  # members' mails and pages: "15 Jan 2026"
    app.add_template_filter(day_time_text, "day_time")  # "15 Jan 2026 12:00 UTC"

    @app.template_filter("until")
    def time_left(value) -> str:
        if value is None:
            return "—"
        if is_lifetime(value):
            return "lifetime"
        delta = value - now()
        if delta.total_seconds() <= 0:
            return "ended"
        days, hours = delta.days, delta.seconds // 3600
        return f"{days} d {hours} h" if days else f"{hours} h {delta.seconds % 3600 // 60} min"
