"""Log-in throttling that bounds guessing without letting anyone lock an owner out.

Three counters per attempt: this account from this address (strict), this address over
all accounts, and this account over all addresses (generous: a distributed attack). Past
a counter's limit, each further attempt waits an increasing delay (1, 2, 4 ... minutes,
at most LOGIN_MAX_DELAY_MINUTES) instead of the account being locked: an owner on their
own address keeps logging in while strangers guess from elsewhere.

Every attempt is *reserved* before the password is checked, by one conditional UPDATE
that also sets the next delay, so a burst of simultaneous guesses gets exactly as many
password checks as the limit allows, on every worker and host. The counters live in the
database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, delete, or_, update

from models import LoginFailure, db

from ..database import insert_new


@dataclass(frozen=True)
class Scope:
    key: str
    limit: int


def scopes(email: str, address: str | None) -> list[Scope]:
    """The counters a log-in attempt touches, with their limits."""
    cfg = current_app.config
    ip = address or "unknown"
    return [
        Scope(f"pair:{email}|{ip}", int(cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"])),
        Scope(f"ip:{ip}", int(cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"])),
        Scope(f"email:{email}", int(cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT_ALL_ADDRESSES"])),
    ]


def _window() -> timedelta:
    return timedelta(minutes=int(current_app.config["LOGIN_WINDOW_MINUTES"]))


def delay(over: int) -> timedelta:
    """The wait after the `over`-th attempt past a limit (0: the attempt that reached it)."""
    cap = int(current_app.config["LOGIN_MAX_DELAY_MINUTES"])
    return timedelta(minutes=min(2**over, cap))


def reserve(limits: list[Scope], now: datetime) -> int | None:
    """Count this attempt on every counter, or refuse it: None when it may go ahead,
    else the minutes to wait. Commits either way."""
    insert_new(
        LoginFailure,
        [{"scope": s.key, "count": 0, "window_start": now} for s in limits],
        unique=("scope",),
        returning=("id",),
    )
    floor = now - _window()
    for s in limits:
        fresh = LoginFailure.window_start <= floor
        taken = db.session.execute(
            update(LoginFailure)
            .where(
                LoginFailure.scope == s.key,
                or_(
                    fresh,
                    LoginFailure.count < s.limit,
                    and_(
                        LoginFailure.blocked_until.is_not(None),
                        LoginFailure.blocked_until <= now,
                    ),
                ),
            )
            .values(
                count=case((fresh, 1), else_=LoginFailure.count + 1),
                window_start=case((fresh, now), else_=LoginFailure.window_start),
            )
            .returning(LoginFailure.count)
        ).scalar_one_or_none()
        if taken is None:
            wait = db.session.scalar(
                db.select(LoginFailure.blocked_until).where(LoginFailure.scope == s.key)
            )
            db.session.rollback()
            seconds = (wait - now).total_seconds() if wait is not None else 60
            return max(1, math.ceil(seconds / 60))
        if taken >= s.limit:  # the next attempt waits, decided before this one is checked
            db.session.execute(
                update(LoginFailure)
                .where(LoginFailure.scope == s.key)
                .values(blocked_until=now + delay(taken - s.limit))
            )
    db.session.commit()
    return None


def succeeded(limits: list[Scope]) -> None:
    """The right password: this account's counters start again (the address's does not)."""
    keys = [s.key for s in limits if not s.key.startswith("ip:")]
    db.session.execute(delete(LoginFailure).where(LoginFailure.scope.in_(keys)))
    db.session.commit()
