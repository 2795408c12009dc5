"""The admin blueprint: the home (the dashboard), subscriptions and members, the manual
grant / extend / revoke, and the nested blueprints for cancelling at PayPal, the
dashboard's CSVs, the exports, plans, payments, PayPal messages and flags. Every view is
admin-only: the guard runs before each of them, nested ones included."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import load_only
from wtforms import SelectChoice

from models import (
    Plan,
    Subscription,
    User,
    db,
)

from ..access import admin_required
from ..billing import Fact, FactKind
from ..clock import end_of_day, now, utc_text
from ..paging import BadFilter, Paging, SortKey, requested
from ..records.audit import CONFIRMED
from ..refunds import routes as refunds
from ..roles import routes as roles_routes
from ..rulebook import routes as rules_routes
from ..subscriptions import admin_actions, listing
from ..subscriptions.display import access_after, status_of
from ..subscriptions.listing import VIEWS, SubscriptionFilter, email_prefix, sort_key
from . import (
    accounts,
    assign,
    cancel,
    dashboard,
    exports,
    flags,
    messages,
    outbox,
    payments,
    plans,
    reconciliation,
    subscription_page,
)
from .forms import GrantForm, RevokeForm, UntilForm

#: Members sort by e-mail (unique, so the id never breaks a tie; it keeps the key uniform).
MEMBER_KEY = SortKey(User.email, lambda u: u.email, str)

bp = Blueprint("admin", __name__, url_prefix="/admin")
for child in (
    plans.bp,
    payments.bp,
    refunds.bp,
    messages.bp,
    flags.bp,
    assign.bp,
    cancel.bp,
    outbox.bp,
    accounts.bp,
    dashboard.bp,
    exports.bp,
    reconciliation.bp,
    roles_routes.bp,
    rules_routes.bp,
):
    bp.register_blueprint(child)


@bp.before_request
@admin_required
def guard() -> None:
    """Every admin view answers 403 to members, whatever its own decorators say."""


def _filter() -> SubscriptionFilter:
    try:
        return SubscriptionFilter.from_args(request.args)
    except BadFilter as e:
        abort(400, description=str(e))


#: The subscriptions table's query-string arguments. The table was the admin home until
#: the dashboard took `/admin/`; links and bookmarks carrying them still get the table.
LIST_ARGS = frozenset(
    ("view", "plan", "state", "q", "sort", "dir", "page", "after", "before", "last")
)


@bp.route("/")
def index():
    """The admin home: the dashboard (or the subscriptions table, for its old links)."""
    if LIST_ARGS.intersection(request.args):
        return subscriptions_list()
    return dashboard.page()


@bp.route("/subscriptions")
def subscriptions_list():
    """The subscriptions table: keyset-paged, so page 1 and the last page cost the same."""
    f = _filter()
    at = now()
    # Each page's ids from the filtered query, alone (covering indexes), then its rows.
    ids = listing.page_ids(f, at, int(current_app.config["LAPSING_DAYS"]))
    key, rows = sort_key(f, at), listing.rows()
    page = requested(ids, f.sort, key, Subscription.id, f.desc, f.paging, rows_of=rows)
    plans = db.session.scalars(select(Plan).order_by(Plan.code)).all()
    return render_template(
        "admin/subscriptions.html",
        f=f,
        page=page,
        plans=plans,
        views=VIEWS,
        status=lambda s: status_of(s, now()),
    )


@bp.route("/subscriptions/<int:sub_id>")
def subscription_detail(sub_id: int):
    sub = db.get_or_404(Subscription, sub_id, description="No such subscription.")
    return subscription_page.page(sub)


@bp.route("/subscriptions/<int:sub_id>/extend", methods=["POST"])
def subscription_extend(sub_id: int):
    sub = db.get_or_404(Subscription, sub_id, description="No such subscription.")
    form = UntilForm(prefix="extend")
    if not form.validate_on_submit():
        return _form_error(form)
    try:
        admin_actions.extend(
            current_user, sub, end_of_day(form.until.data), form.reason.data, now()
        )
    except ValueError as e:
        db.session.rollback()
        flash(str(e).capitalize() + ".", "error")
        return redirect(url_for(".subscription_detail", sub_id=sub.id)), 303
    db.session.commit()
    until = sub.access_until
    flash(f"Access extended until {utc_text(until)}." if until else "Access extended.", "success")
    return redirect(url_for(".subscription_detail", sub_id=sub.id)), 303


@bp.route("/subscriptions/<int:sub_id>/revoke", methods=["GET", "POST"])
def subscription_revoke(sub_id: int):
    """GET: what revoking does (access ends now, not on its date) with the form; the POST
    revokes only with the form's `confirm` field, else it shows that page again."""
    sub = db.get_or_404(Subscription, sub_id, description="No such subscription.")
    form = RevokeForm(prefix="revoke")
    if request.method == "POST" and not form.validate_on_submit():
        return _form_error(form)
    if request.method == "GET" or request.form.get("confirm") != CONFIRMED:
        at = now()
        return render_template(
            "admin/revoke.html",
            sub=sub,
            form=form,
            status=status_of(sub, at),
            after=access_after(sub, Fact(FactKind.REVOKED, at, key="preview")),
            confirmed=CONFIRMED,
        ), (200 if request.method == "GET" else 400)
    admin_actions.revoke(
        current_user, sub, form.reason.data, now(), member_note=form.member_note.data or ""
    )
    db.session.commit()
    flash("Access revoked.", "success")
    return redirect(url_for(".subscription_detail", sub_id=sub.id)), 303


def _form_error(form):
    messages = [
        f"{form[name].label.text}: {', '.join(errs)}"
        for name, errs in form.errors.items()
        if name in form
    ] + form.form_errors
    abort(400, description="; ".join(messages) or "The form was incomplete.")


@bp.route("/members")
def members():
    """Members by e-mail, keyset-paged; the search is an e-mail prefix, in any case."""
    q = request.args.get("q", "").strip()[:254]
    try:
        paging = Paging.from_args(request.args)
    except BadFilter as e:
        abort(400, description=str(e))
    stmt = select(User).options(load_only(User.id, User.email, User.is_admin, User.created_at))
    if q:  # the range lets the e-mail index start and stop at the prefix (byte order)
        stmt = stmt.where(email_prefix(q), *listing.email_range(q))
    page = requested(stmt, "email", MEMBER_KEY, User.id, False, paging)
    return render_template("admin/members.html", page=page, q=q)


@bp.route("/members/<int:user_id>", methods=["GET", "POST"])
def member_detail(user_id: int):
    member = db.get_or_404(User, user_id, description="No such member.")
    form = GrantForm()
    form.plan.choices = [
        SelectChoice(p.id, f"{p.name} ({p.code})")
        for p in db.session.scalars(select(Plan).order_by(Plan.code))
    ]
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            plan = db.session.get(Plan, form.plan.data)
            if plan is None:  # deleted since the form was drawn
                abort(400, description="That plan no longer exists.")
            try:
                sub = admin_actions.grant(
                    current_user, member, plan, end_of_day(form.until.data), form.reason.data, now()
                )
            except ValueError as e:
                db.session.rollback()
                form.until.errors = [str(e)]
            else:
                db.session.commit()
                flash(f"Granted {plan.name} to {member.email}.", "success")
                return redirect(url_for(".subscription_detail", sub_id=sub.id)), 303
        status = 400
    subs = db.session.scalars(
        select(Subscription)
        .where(Subscription.user_id == member.id)
        .order_by(Subscription.id.desc())
    ).all()
    return render_template(
        "admin/member.html",
        member=member,
        subs=subs,
        form=form,
        status=lambda s: status_of(s, now()),
    ), status
