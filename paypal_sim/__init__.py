"""A local, stateful PayPal stand-in: `flask --app paypal_sim run --port 5001` (SIGTERM
or Ctrl-C stops it: serving.py).

It speaks PayPal's wire formats (IPN + postback, OAuth, Subscriptions API, signed
webhooks, refunds, Transaction Search, Activity CSV) so the gateway's PayPal code runs
unchanged against it; only base URLs differ. Never imported by `gateway/` or `models/`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request

from .clock import SimClock
from .delivery import DeliveryThread, Outbox
from .engine import Sim
from .formats import flag
from .serving import stop_on_signals
from .state import Webhook
from .webhooks import Signer

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "BASE_URL": "",  # public URL of the stand-in (else taken from requests)
    "AUTO_DELIVER": True,  # deliver and bill in a background thread (demo)
    "DELIVERY_TIMEOUT": 10.0,  # seconds PayPal waits for a listener
    "BUSINESS": "merchant@example.com",
    "RECEIVER_ID": "SIMMERCHANT01",
    "CHARSET": "windows-1252",
    "SANDBOX": True,  # IPNs carry test_ipn=1
    "CLIENT_ID": "sim-client-id",
    "CLIENT_SECRET": "sim-client-secret",
    "TOKEN_LIFETIME": 32400,
    "NOTIFY_URL": "",  # the account's profile IPN URL
    "REST_IPN": False,  # REST payments, refunds and reversals are also sent as IPNs
    "WEBHOOK_URL": "",  # register one webhook at start-up
    "WEBHOOK_ID": "WH-SIM-DEFAULT",
    "REPORTING_LAG_MINUTES": 180,  # Transaction Search shows rows after up to 3 hours
    "MAX_HANG_SECONDS": 60,  # upper bound of the postback "hang" fault
    "PLANS": "[]",  # JSON list of REST plans to create at start-up
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"))
    app.config.from_mapping({f"SIM_{k}": v for k, v in DEFAULTS.items()})
    app.config.from_prefixed_env("PAYPAL", loads=_loads)  # PAYPAL_SIM_* -> SIM_*
    app.config["SECRET_KEY"] = "paypal-sim"  # only signs the stand-in's own flash messages
    if config:
        app.config.update(config)
    cfg = {k[4:]: v for k, v in app.config.items() if k.startswith("SIM_")}

    clock = app.config.get("SIM_CLOCK") or SimClock()
    outbox = Outbox(clock, timeout=float(cfg["DELIVERY_TIMEOUT"]))
    sim = Sim(clock, outbox, Signer(), cfg["BASE_URL"])
    acct = sim.world.account
    acct.business, acct.receiver_id, acct.charset = (
        cfg["BUSINESS"],
        cfg["RECEIVER_ID"],
        cfg["CHARSET"],
    )
    acct.sandbox, acct.notify_url = bool(cfg["SANDBOX"]), cfg["NOTIFY_URL"]
    acct.client_id, acct.client_secret = cfg["CLIENT_ID"], cfg["CLIENT_SECRET"]
    acct.token_lifetime = int(cfg["TOKEN_LIFETIME"])
    acct.rest_ipn = flag(cfg["REST_IPN"])
    if cfg["WEBHOOK_URL"]:
        sim.world.webhooks[cfg["WEBHOOK_ID"]] = Webhook(cfg["WEBHOOK_ID"], cfg["WEBHOOK_URL"])
    from .rest import create_plan_from

    plans = cfg["PLANS"] if isinstance(cfg["PLANS"], list) else json.loads(cfg["PLANS"] or "[]")
    for spec in plans:
        create_plan_from(sim, spec)
    app.extensions["paypal_sim"] = sim

    @app.before_request
    def learn_base_url() -> None:
        if not sim.base_url:
            sim.base_url = request.host_url.rstrip("/")

    from .control import bp as control_bp
    from .one_time_control import bp as one_time_control_bp
    from .orders import bp as orders_bp
    from .rest import bp as rest_bp
    from .standard import bp as standard_bp

    app.register_blueprint(standard_bp)
    app.register_blueprint(rest_bp)
    app.register_blueprint(control_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(one_time_control_bp)

    thread = None
    if cfg["AUTO_DELIVER"]:

        def tick() -> None:
            with sim.world.lock:
                sim.run_billing()

        thread = DeliveryThread(outbox, tick)
        app.extensions["paypal_sim_thread"] = thread
        thread.start()
    stop_on_signals(thread)  # under `flask run` only (see serving.py)
    return app


def _loads(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def sim_of(app: Flask) -> Sim:
    return app.extensions["paypal_sim"]


__all__ = ["create_app", "sim_of", "Sim"]
