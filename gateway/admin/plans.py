"""Admin plan list and editor."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from models import Plan, Subscription, db

from ..billing.rules.statuses import PlanKind
from ..clock import now
from ..offers import counts as offer_counts
from ..paging import exact_up_to
from ..records.audit import audit
from ..roles.service import all_roles
from ..subscriptions import plan_identity as identity
from ..subscriptions import seats
from ..subscriptions.recorded_terms import plan_terms
from ..subscriptions.service import bump_access_version
from .forms import PlanForm

bp = Blueprint("plans", __name__, url_prefix="/plans")

FIELDS = (
    "code",
    "name",
    "price",
    "currency",
    "period_count",
    "period_unit",
    "trial_count",
    "trial_unit",
    "paypal_plan_id",
    "seat_limit",
    "active",
    # Terms beyond one free trial, and offers (issue #24)
    "trial_price",
    "trial2_count",
    "trial2_unit",
    "trial2_price",
    "payment_count",
    "offer_code",
    "kind",  # passes (docs/passes.md)
    "lifetime",
)


@bp.route("")
def index() -> ResponseReturnValue:
    rows = db.session.scalars(select(Plan).order_by(Plan.active.desc(), Plan.code)).all()
    counts = with_access([p.id for p in rows])
    usage = seats.usage([p.id for p in rows], now())
    terms = {p.id: plan_terms(p).describe() for p in rows}
    return render_template(
        "admin/plans.html",
        plans=rows,
        counts=counts,
        seats=usage,
        terms=terms,
        offer_signups=offer_counts.signups(),
    )


def with_access(plan_ids: list[int]) -> dict[int, str]:
    """Each plan's subscriptions with access now, as a label: exact up to the admin
    tables' cap, "more than N" beyond (each count reads at most N + 1 entries of the
    (plan_id, access_until) index, so the page does not grow with the shop)."""
    cap = exact_up_to()
    s = Subscription
    counts: dict[int, str] = {}
    for plan_id in plan_ids:
        some = select(s.id).where(s.plan_id == plan_id, s.access_until > now()).limit(cap + 1)
        n = db.session.scalar(select(func.count()).select_from(some.subquery())) or 0
        counts[plan_id] = f"more than {cap:,}" if n > cap else f"{n:,}"
    return counts


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
def edit(plan_id: int | None = None) -> ResponseReturnValue:
    plan = db.get_or_404(Plan, plan_id, description="No such plan.") if plan_id else None
    form = PlanForm(obj=plan)
    if form.trial2_unit.data is None:  # a plan without a second trial: the "—" choice
        form.trial2_unit.data = ""
    granted = list(plan.roles) if plan is not None else []
    offered = [r for r in all_roles() if not r.retired or r in granted]
    form.roles.choices = [SelectChoice(r.id, f"{r.name}: {r.title}") for r in offered]
    if request.method == "GET":
        form.roles.data = [r.id for r in granted]
    if request.method == "GET" and plan is not None:
        form.trial_unit.data = plan.trial_unit or ""
        form.trial2_unit.data = plan.trial2_unit or ""
        form.identifiers.data = identity.as_lines(plan)
        form.kind.data = plan.kind.value
    valid = form.validate_on_submit()  # (validation resets each field's errors)
    refs, problems = identity.parse_lines(form.identifiers.data or "")
    if request.method == "POST":
        problems += identity.conflicts(refs, plan.id if plan else None)
        form.identifiers.errors = [*form.identifiers.errors, *problems]
    if valid and not problems:
        values = {name: form[name].data for name in FIELDS}
        chosen = [r for r in offered if r.id in (form.roles.data or [])]
        values["trial_unit"] = values["trial_unit"] or None
        values["trial2_unit"] = values["trial2_unit"] or None
        values["offer_code"] = (values["offer_code"] or "").strip() or None
        values["kind"] = PlanKind(values["kind"])
        values["paypal_plan_id"] = (values["paypal_plan_id"] or "").strip() or None
        creating = plan is None
        if plan is None:
            plan = Plan(created_at=now(), roles=chosen, **values)
            db.session.add(plan)
            values["roles"] = " ".join(r.name for r in chosen)
        else:
            changed = {k: str(v) for k, v in values.items() if getattr(plan, k) != v}
            for k, v in values.items():
                setattr(plan, k, v)
            if set(plan.roles) != set(chosen):
                changed["roles"] = " ".join(r.name for r in chosen)
                plan.roles = chosen
                # Members of the plan hold other roles from now on.
                bump_access_version(*_members_of(plan.id))
        try:
            db.session.flush()
            before = identity.as_lines(plan)
            identity.replace_identifiers(plan, refs)
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            form.code.errors = [
                "This code, PayPal plan id or offer code is already used by another plan."
            ]
        else:
            if not creating and identity.as_lines(plan) != before:
                changed["identifiers"] = identity.as_lines(plan)
            audit(
                current_user,
                "plan_create" if creating else "plan_update",
                "plan",
                plan.id,
                now=now(),
                details={k: str(v) for k, v in values.items()} if creating else changed,
            )
            db.session.commit()
            flash(f"Plan {plan.code} saved.", "success")
            return redirect(url_for(".index")), 303
    status = 400 if request.method == "POST" else 200
    return render_template("admin/plan_edit.html", form=form, plan=plan), status


def _members_of(plan_id: int) -> list[int]:
    return [
        u
        for u in db.session.scalars(
            select(Subscription.user_id).where(Subscription.plan_id == plan_id).distinct()
        )
        if u is not None
    ]
