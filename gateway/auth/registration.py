"""Registration that tells no one which e-mails have accounts: a new address and a taken
one get the same page, and the address's owner gets a mail either way."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy.exc import IntegrityError

from models import User, db

from .. import mail


def register(email: str, password: str, at: datetime) -> None:
    """Create the account, or mail the owner of a taken address; the caller answers the same
    either way. Both paths hash the password and try the INSERT, so both take as long."""
    email = User.normalise_email(email)
    user = User(email=email, created_at=at)
    user.set_password(password, current_app.config["PASSWORD_HASH_METHOD"])
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        # One mail a minute per address: repeated attempts cannot flood the owner's inbox.
        key, template = f"register-taken:{email}:{at:%Y%m%d%H%M}", "register_taken"
    else:
        key, template = f"welcome:{user.id}", "welcome"
    mail.queue(
        key,
        email,
        template,
        at,
        email=email,
        login=mail.link("auth.login"),
        reset=mail.link("auth.request_reset"),
    )
    db.session.commit()
