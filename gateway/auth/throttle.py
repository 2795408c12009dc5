"""Failed-login throttling per account and per client address, stored in the database
so every worker process sees the same counts."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from models import LoginFailure, db


def scopes(email: str, address: str | None) -> dict[str, int]:
    """The counters a log-in attempt touches, with their limits."""
    cfg = current_app.config
    return {
        f"email:{email}": int(cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
        f"ip:{address or 'unknown'}": int(cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
    }


def _window() -> timedelta:
    return timedelta(minutes=int(current_app.config["LOGIN_WINDOW_MINUTES"]))


def blocked_for(limits: dict[str, int], now: datetime) -> int | None:
    """Minutes until another attempt is allowed, or None if not blocked."""
    rows = db.session.scalars(select(LoginFailure).where(LoginFailure.scope.in_(limits)))
    waits = [
        r.window_start + _window() - now
        for r in rows
        if r.count >= limits[r.scope] and r.window_start + _window() > now
    ]
    if not waits:
        return None
    return max(1, math.ceil(max(waits).total_seconds() / 60))


def record_failure(limits: dict[str, int], now: datetime) -> None:
    for scope in limits:
        row = db.session.scalar(
            select(LoginFailure).where(LoginFailure.scope == scope).with_for_update()
        )
        if row is None:
            try:
                with db.session.begin_nested():
                    db.session.add(LoginFailure(scope=scope, count=1, window_start=now))
                continue
            except IntegrityError:  # another worker created it first
                row = db.session.scalar(select(LoginFailure).where(LoginFailure.scope == scope))
        assert row is not None  # it existed, or its creator's insert beat ours
        if row.window_start + _window() <= now:
            row.count, row.window_start = 1, now
        else:
            row.count += 1
    db.session.commit()


def clear(scope: str) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.scope == scope))
    db.session.commit()
