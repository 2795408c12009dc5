"""Helpers for the export tests: many subscriptions at once, and a process's settings."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from models import Subscription, db

CONTENT = str(Path(__file__).resolve().parents[1] / "site_content")
SECRET = "exports-test-secret-key-0123456789"


def many_subscriptions(plan_id: int, user_id: int, count: int, at: datetime) -> None:
    """`count` subscriptions in a few multi-row INSERTs (the ORM would take minutes)."""
    rows = [
        {
            "user_id": user_id,
            "plan_id": plan_id,
            "paypal_id": f"I-BULK{i:07d}",
            "state": "active",
            "started_at": at,
            "paid_through": at + timedelta(days=i % 40),
            "access_until": at + timedelta(days=i % 40),
            "created_at": at,
            "updated_at": at,
        }
        for i in range(count)
    ]
    for start in range(0, count, 5_000):
        db.session.execute(insert(Subscription), rows[start : start + 5_000])
    db.session.commit()


def process_env(database_url: str, instance_path: str, **settings: str) -> dict[str, str]:
    """A gateway process's settings, as an operator sets them: GATEWAY_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return env | {
        "GATEWAY_SQLALCHEMY_DATABASE_URI": database_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_INSTANCE_PATH": instance_path,
        "GATEWAY_SESSION_COOKIE_SECURE": "false",  # plain http on loopback
        "GATEWAY_CONTENT_DIR": CONTENT,
        **{f"GATEWAY_{k}": v for k, v in settings.items()},
    }
