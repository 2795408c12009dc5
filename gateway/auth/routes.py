"""Account views: thin wrappers over forms, the user model and the throttle."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select

from models import User, db

from .. import metrics
from ..access_rules import returns
from ..clock import now
from . import email_change, notices, registration, reset, throttle
from .forms import (
    ChangePasswordForm,
    EmailChangeForm,
    EmptyForm,
    LoginForm,
    RegisterForm,
    ResetForm,
    ResetRequestForm,
)
from .sessions import end_other_sessions, end_this_session, password_matches, start_session

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None, default: str | None = None) -> str:
    """A path on this site, or a URL on a host the operator allows (access_rules.returns);
    anything else goes home (or to `default`)."""
    home = default or url_for("member.index")
    hosts = current_app.extensions["return_hosts"]
    return returns.allowed(target, request.host, hosts) or home


def _status(form) -> int:
    """400 when a submitted form had errors, so clients and tests can tell."""
    return 400 if request.method == "POST" and any(f.errors for f in form) else 200


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("member.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        # The same page for a new address and a taken one, and no one logged in: the
        # answer must not tell anyone which e-mails have accounts (registration.py).
        email = User.normalise_email(form.email.data)
        registration.register(email, form.password.data, now())
        return render_template("auth/registered.html", email=email)
    return render_template("auth/register.html", form=form), _status(form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = User.normalise_email(form.email.data)
        limits = throttle.scopes(email, request.remote_addr)
        wait = throttle.reserve(limits, now())
        if wait is not None:
            form.form_errors.append(
                f"Too many failed log-ins. Try again in {wait} minute{'s' if wait > 1 else ''}."
            )
            return render_template("auth/login.html", form=form), 429
        user = db.session.scalar(select(User).where(User.email == email))
        if not password_matches(user, form.password.data) or user is None:
            form.form_errors.append("Wrong e-mail or password.")
            status = 401
            metrics.login(False)
        else:
            throttle.succeeded(limits)
            start_session(user)
            metrics.login(True)
            default = url_for("admin.index") if user.is_admin else None
            return redirect(_safe_next(request.args.get("next"), default))
    elif form.errors:
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    """End this session on the server too, not just this browser's cookie: a copy of it
    taken before would otherwise still open pages. Only this session ends: the member's
    other browsers stay logged in ("log out everywhere" ends them; docs/security.md,
    "Cookies and sessions")."""
    if EmptyForm().validate_on_submit():
        if current_user.is_authenticated:
            end_this_session(current_user._get_current_object(), now())
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("member.index"))


@bp.route("/logout-everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    """End every session of this member: other browsers, copied cookies, and this one."""
    if EmptyForm().validate_on_submit():
        end_other_sessions(current_user._get_current_object(), keep_this_one=False)
        logout_user()
        flash("You are logged out everywhere.", "info")
    return redirect(url_for("member.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append("That is not your current password.")
        else:
            user = current_user._get_current_object()
            user.set_password(form.password.data, current_app.config["PASSWORD_HASH_METHOD"])
            notices.password_changed(user, now())
            end_other_sessions(user)  # a stolen cookie dies with the old password
            flash("Password changed; every other session of yours has ended.", "success")
            return redirect(url_for("member.account"))
    return render_template("auth/password.html", form=form), _status(form)


@bp.route("/reset", methods=["GET", "POST"])
def request_reset():
    """Ask for a reset link. The answer is the same whether the account exists or not."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        reset.send_link(form.email.data, now())
        flash(
            "If an account exists for that address, a link to choose a new password is on "
            "its way. It works once, within the hour.",
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form), _status(form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password from a mailed link: once, before it expires, always allowed."""
    user = reset.user_for(token)
    if user is None:
        flash("That link has expired or was already used. Ask for a new one.", "error")
        return redirect(url_for("auth.request_reset"))
    form = ResetForm()
    if form.validate_on_submit():
        user.set_password(form.password.data, current_app.config["PASSWORD_HASH_METHOD"])
        throttle.succeeded(throttle.scopes(user.email, request.remote_addr))
        notices.password_changed(user, now())
        end_other_sessions(user)  # every old session ends; this one starts fresh
        flash("Your password is set, and every other session of yours has ended.", "success")
        return redirect(url_for("member.account"))
    return render_template("auth/reset.html", form=form), _status(form)


@bp.route("/email", methods=["GET", "POST"])
@login_required
def change_email():
    """Ask to change the address: a link goes to the new one; nothing changes until then."""
    form = EmailChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not user.check_password(form.current.data):
            form.current.errors.append("That is not your current password.")
        elif problem := email_change.request_change(user, form.email.data, now()):
            form.email.errors.append(problem)
        else:
            flash(f"A link is on its way to {form.email.data}; open it to confirm.", "info")
            return redirect(url_for("member.account"))
    return render_template("auth/email.html", form=form), _status(form)


@bp.route("/email/<token>")
@login_required
def confirm_email(token: str):
    """Open the link from the new address's mailbox: the address changes, other sessions end."""
    user = current_user._get_current_object()
    old_email = user.email
    new_email = email_change.confirm(user, token)
    if new_email is None:
        flash("That link has expired, was already used, or is for another account.", "error")
        return redirect(url_for("auth.change_email"))
    notices.email_changed(user, old_email, now())
    end_other_sessions(user)
    flash(f"Your e-mail is now {new_email}.", "success")
    return redirect(url_for("member.account"))
