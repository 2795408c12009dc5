"""Admin: the roles (tiers) plans grant: create, rename, retire, restore, delete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from models import Role, db

from ..clock import now
from ..records.audit import ReasonForm
from . import service

bp = Blueprint("roles", __name__, url_prefix="/roles")


class RoleForm(FlaskForm):
    name = StringField(
        "Name (what rules and pages write)", validators=[DataRequired(), Length(max=40)]
    )
    title = StringField("Title (what members read)", validators=[Length(max=80)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    reason = TextAreaField(
        "Reason (for a rename; goes to the audit log)", validators=[Length(max=500)]
    )


@bp.route("")
def index() -> ResponseReturnValue:
    roles = service.all_roles()
    return render_template(
        "roles/index.html",
        roles=roles,
        plans=service.counts(),
        form=RoleForm(),
        action=ReasonForm(),
    )


@bp.route("", methods=["POST"])
def create() -> ResponseReturnValue:
    form = RoleForm()
    if form.validate_on_submit():
        try:
            role = service.create(
                form.name.data or "", form.title.data or "", form.description.data or "",
                at=now(), actor=current_user,
            )  # fmt: skip
        except service.RoleError as e:
            form.name.errors = [str(e)]
        else:
            db.session.commit()
            flash(f"Role {role.name} created.", "success")
            return redirect(url_for(".index")), 303
    roles = service.all_roles()
    return render_template(
        "roles/index.html", roles=roles, plans=service.counts(), form=form, action=ReasonForm()
    ), 400


@bp.route("/<int:role_id>", methods=["GET", "POST"])
def edit(role_id: int) -> ResponseReturnValue:
    role = db.get_or_404(Role, role_id, description="No such role.")
    form = RoleForm(obj=role)
    if form.validate_on_submit():
        renaming = (form.name.data or "").strip().lower() != role.name
        if renaming and len((form.reason.data or "").strip()) < 3:
            form.reason.errors = ["A rename needs a reason (it goes to the audit log)."]
        else:
            try:
                service.update(
                    role, name=form.name.data or "", title=form.title.data or "",
                    description=form.description.data or "", at=now(), actor=current_user,
                    reason=(form.reason.data or "").strip() or None,
                )  # fmt: skip
            except service.RoleError as e:
                form.name.errors = [str(e)]
            else:
                db.session.commit()
                flash(f"Role {role.name} saved.", "success")
                return redirect(url_for(".index")), 303
    status = 400 if request.method == "POST" else 200
    return render_template(
        "roles/edit.html", role=role, form=form, action=ReasonForm(), uses=service.uses(role)
    ), status


@bp.route("/<int:role_id>/<any(retire, restore, delete):what>", methods=["POST"])
def act(role_id: int, what: str) -> ResponseReturnValue:
    role = db.get_or_404(Role, role_id, description="No such role.")
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400, description="A reason of 3 to 500 characters is required.")
    reason, at = form.reason.data, now()
    try:
        if what == "retire":
            service.retire(role, at=at, actor=current_user, reason=reason)
        elif what == "restore":
            service.restore(role, at=at, actor=current_user, reason=reason)
        else:
            service.delete(role, at=at, actor=current_user, reason=reason)
    except service.RoleError as e:
        flash(str(e), "error")
        return redirect(url_for(".edit", role_id=role_id)), 303
    db.session.commit()
    flash(
        f"Role {role.name}: {what}d." if what != "delete" else f"Role {role.name} deleted.",
        "success",
    )
    return redirect(url_for(".index")), 303
