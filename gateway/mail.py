"""E-mail: queued in the outbox with its cause, sent over SMTP by the `send-mail` job.

Without MAIL_SERVER (the demo) mails stay in the outbox, readable on the admin's outbox
page. Each mail has a unique key, so a notice is queued once however often its cause is
seen; sending retries with backoff and never sends a mail twice on success.

Templates are `templates/mail/<name>.txt` (first line: the subject) and `.html`; a file of
the same name in the instance folder's `mail/` is used instead (docs/operations.md).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from datetime import datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

from flask import Flask, current_app, has_request_context, render_template, request, url_for
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PrefixLoader
from sqlalchemy import select

from models import OutboxMail, db

from .database import insert_new


def site_url() -> str:
    """The site's address for links in mails: PUBLIC_URL when set. Never from a request's
    Host header when it is set: anyone can write that header, and a password-reset link
    pointing at their host would hand them the token. Unset (a demo on its own machine):
    the request's own address, or "" outside a request."""
    configured = str(current_app.config["PUBLIC_URL"] or "")
    if configured:
        return configured.rstrip("/")
    return request.host_url.rstrip("/") if has_request_context() else ""


def link(endpoint: str, **values: Any) -> str:
    """An absolute link to `endpoint` for a mail or another site (see `site_url`).
    PUBLIC_URL holds the site's path too (https://example.com/members): a request's own
    prefix (X-Forwarded-Prefix) is not added to it again. Works in a job too (no request):
    the path comes from the URL map alone."""
    if not has_request_context():
        path = current_app.url_map.bind("localhost").build(endpoint, values)
        return site_url() + path
    path = url_for(endpoint, **values)
    if current_app.config["PUBLIC_URL"]:
        root = request.script_root
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
    return site_url() + path


def money_text(amount: Decimal | int | str | None, currency: str | None) -> str:
    """ "9.00 USD": an amount in a mail always carries its currency; money back is
    written without its sign (the sentence says it went back)."""
    if amount is None:
        return ""
    value = abs(Decimal(str(amount))).quantize(Decimal("0.01"))
    return f"{value} {currency}".strip() if currency else f"{value}"


def init_app(app: Flask) -> None:
    """Mail templates from the instance folder's `mail/` win over the shipped ones, file
    by file, so an operator rewrites one mail without forking the code."""
    shipped: BaseLoader | None = app.jinja_loader
    own = PrefixLoader({"mail": FileSystemLoader(os.path.join(app.instance_path, "mail"))})
    app.jinja_loader = ChoiceLoader([own, shipped] if shipped else [own])
    app.add_template_filter(money_text, "money")


BATCH = 50


def queue(key: str, to: str, template: str, now: datetime, **context: Any) -> bool:
    """Render `mail/<template>.txt|.html` (the text's first line is the subject) and queue
    it under `key`; False if that key was queued before. The caller commits."""
    return bool(queue_rows([render(key, to, template, now, **context)]))


def render(key: str, to: str, template: str, now: datetime, **context: Any) -> dict[str, Any]:
    """One outbox row, rendered now (the context may change after: a batch renders as it goes)."""
    text = render_template(f"mail/{template}.txt", **context)
    subject, _, body = text.partition("\n")
    return {
        "key": key[:200],
        "to_addr": to,
        "subject": subject.removeprefix("Subject:").strip()[:200],
        "text_body": body.strip() + "\n",
        "html_body": render_template(f"mail/{template}.html", **context),
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
    }


def queue_rows(rows: list[dict[str, Any]]) -> int:
    """Queue rendered mails in one statement; how many keys were new."""
    return len(insert_new(OutboxMail, rows, unique=("key",), returning=("id",)))


def send_due(now: datetime) -> str:
    """The job: send what is due; failures wait 1, 2, 4 ... minutes (at most an hour)."""
    cfg = current_app.config
    if not cfg["MAIL_SERVER"]:
        return "no MAIL_SERVER configured: mails stay in the outbox"
    due = db.session.scalars(
        select(OutboxMail)
        .where(OutboxMail.sent_at.is_(None), OutboxMail.next_attempt_at <= now)
        .order_by(OutboxMail.id)
        .limit(BATCH)
    ).all()
    sent = 0
    for mail in due:
        try:
            _send(mail)
        except (OSError, smtplib.SMTPException) as e:
            mail.attempts += 1
            mail.last_error = f"{type(e).__name__}: {e}"[:2000]
            mail.next_attempt_at = now + min(
                timedelta(minutes=2 ** (mail.attempts - 1)), timedelta(hours=1)
            )
        else:
            mail.sent_at, mail.last_error, sent = now, None, sent + 1
        db.session.commit()  # each mail's outcome on its own: a crash resends at most one
    return f"{sent} of {len(due)} mail(s) sent"


def _send(mail: OutboxMail) -> None:
    cfg = current_app.config
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        cfg["MAIL_FROM"],
        mail.to_addr,
        mail.subject,
    )
    message["Message-ID"] = f"<outbox-{mail.id}@{cfg['MAIL_FROM'].rpartition('@')[2].strip('>')}>"
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    timeout = float(cfg["MAIL_TIMEOUT"])
    smtp_class = smtplib.SMTP_SSL if cfg["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), timeout=timeout) as smtp:
        if cfg["MAIL_USE_TLS"] and not cfg["MAIL_USE_SSL"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        smtp.send_message(message)
