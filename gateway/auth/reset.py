"""Password reset by an e-mailed, signed, expiring, single-use link.

The link signs the member's id and current session token: resetting (or changing) the
password replaces that token, so a link works once, and never after the password changed
by other means. It always works, whatever the log-in throttle says.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from models import User, db

from .. import mail
from ..clock import now

SALT = "password-reset"


class ClockSigner(TimestampSigner):
    """Link ages on the app's clock (tests move it; they never sleep)."""

    def get_timestamp(self) -> int:
        return int(now().timestamp())


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT, signer=ClockSigner)


def link_for(user: User) -> str:
    token = _signer().dumps({"u": user.id, "s": user.session_token})
    return mail.link("auth.reset_password", token=token)


def send_link(email: str, at: datetime) -> None:
    """Queue a reset mail if the account exists (the caller answers the same either way)."""
    user = db.session.scalar(select(User).where(User.email == User.normalise_email(email)))
    if user is None:
        return
    minutes = int(current_app.config["RESET_LINK_MINUTES"])
    # At most one mail a minute per account: repeated requests cannot flood the inbox.
    mail.queue(
        f"reset:{user.id}:{user.session_token}:{at:%Y%m%d%H%M}",
        user.email,
        "password_reset",
        at,
        email=user.email,
        link=link_for(user),
        minutes=minutes,
    )
    db.session.commit()


def user_for(token: str) -> User | None:
    """The member a still-valid link is for; None if forged, expired or already used."""
    try:
        data = _signer().loads(token, max_age=int(current_app.config["RESET_LINK_MINUTES"]) * 60)
    except BadSignature:  # also SignatureExpired
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or user.session_token != data.get("s"):
        return None
    return user
