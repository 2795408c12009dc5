"""Mails that tell a member their log-in details changed, so a change they did not make
does not go unnoticed: the password, and the e-mail address (told to the old one too)."""

from __future__ import annotations

from datetime import datetime

from models import User

from .. import mail


def password_changed(user: User, at: datetime) -> None:
    """Queue "your password was changed"; call before the session token is replaced: the
    token being retired names this change, so the mail is queued once. The caller commits."""
    mail.queue(
        f"password-changed:{user.id}:{user.session_token}",
        user.email,
        "password_changed",
        at,
        email=user.email,
        at=at,
        reset_url=mail.link("auth.request_reset"),
    )


def email_changed(user: User, old: str, at: datetime) -> None:
    """Queue "your address changed" to the old address and the new one (the old one's
    owner is who must hear of a change they did not make). The caller commits."""
    for to in (old, user.email):
        mail.queue(
            f"email-changed:{user.id}:{user.session_token}:{to}",
            to,
            "email_changed",
            at,
            old=old,
            new=user.email,
            at=at,
            account_url=mail.link("member.account"),
        )
