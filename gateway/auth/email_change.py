"""Changing one's e-mail: confirmed by a signed link mailed to the *new* address.

The address changes only when that link is opened, by the same member, before it
expires, and while their session token is unchanged; then every other session ends.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from models import User, db

from .. import mail
from .reset import ClockSigner

SALT = "email-change"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT, signer=ClockSigner)


def request_change(user: User, new_email: str, at: datetime) -> str | None:
    """Mail a confirmation link to `new_email`; a sentence if it cannot be used."""
    new_email = User.normalise_email(new_email)
    if new_email == user.email:
        return "That is already your address."
    if db.session.scalar(select(User.id).where(User.email == new_email)) is not None:
        return "Another account uses that address."
    token = _signer().dumps({"u": user.id, "e": new_email, "s": user.session_token})
    link = mail.link("auth.confirm_email", token=token)
    mail.queue(
        f"email-change:{user.id}:{new_email}:{at:%Y%m%d%H%M}",
        new_email,
        "email_change",
        at,
        email=new_email,
        link=link,
        minutes=int(current_app.config["RESET_LINK_MINUTES"]),
    )
    db.session.commit()
    return None


def confirm(user: User, token: str) -> str | None:
    """Apply a confirmation link for `user`; the new address, or None if not valid."""
    try:
        data = _signer().loads(token, max_age=int(current_app.config["RESET_LINK_MINUTES"]) * 60)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != user.id:
        return None
    if data.get("s") != user.session_token:
        return None
    new_email = str(data.get("e", ""))
    if db.session.scalar(select(User.id).where(User.email == new_email)) is not None:
        return None
    user.email = new_email
    return new_email
