"""Admin: the access rules, in order, with a "who may see this URL?" tester, the default
for paths no rule names, and import / export of the rules file."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from models import AccessRule, Role, db

from ..access_rules.paths import BadPath, canonical_path
from ..access_rules.table import BadRule, Who
from ..clock import now
from . import edit, store

bp = Blueprint("rules", __name__, url_prefix="/rules")


class RuleForm(FlaskForm):
    pattern = StringField("Path pattern", validators=[DataRequired(), Length(max=400)])
    who = StringField(
        "Who (public, members, or role names)", validators=[DataRequired(), Length(max=400)]
    )
    host = StringField("Host (optional)", validators=[Length(max=253)])
    note = StringField("Note", validators=[Length(max=500)])
    position = IntegerField("Position (empty: last)", validators=[Optional(), NumberRange(min=1)])


class DefaultForm(FlaskForm):
    default = StringField("Paths no rule names", validators=[DataRequired(), Length(max=400)])


class ImportForm(FlaskForm):
    text = TextAreaField("Rules file (YAML)", validators=[DataRequired(), Length(max=2_000_000)])


class MoveForm(FlaskForm):
    position = IntegerField("To", validators=[DataRequired(), NumberRange(min=1)])


def _page(status: int = 200, **forms: FlaskForm) -> ResponseReturnValue:
    book = store.current()
    url, host = request.args.get("url", "").strip(), request.args.get("host", "").strip()
    return render_template(
        "rulebook/index.html",
        rules=store.stored(),
        default=store.default_who(),
        page_rules=[(r, s) for r, s in zip(book.table.rules, book.sources, strict=True)
                    if s.startswith("page")],
        roles=_roles(include_retired=False),
        test=_test(url, host) if url else None,
        url=url,
        host=host,
        form=forms.get("form") or RuleForm(),
        default_form=forms.get("default_form") or DefaultForm(default=str(store.default_who())),
        import_form=forms.get("import_form") or ImportForm(),
        move_form=MoveForm(),
    ), status  # fmt: skip


@bp.route("")
def index() -> ResponseReturnValue:
    return _page()


@bp.route("", methods=["POST"])
def add() -> ResponseReturnValue:
    form = RuleForm()
    if form.validate_on_submit():
        try:
            rule = edit.check(form.pattern.data or "", form.who.data or "", form.host.data)
        except BadRule as e:
            form.pattern.errors = [str(e)]
        else:
            edit.add(edit.Entry(rule, form.note.data or ""), at=now(), actor=current_user,
                     position=form.position.data)  # fmt: skip
            db.session.commit()
            flash(f"Rule added: {rule.pattern} → {rule.who}.", "success")
            return redirect(url_for(".index")), 303
    return _page(400, form=form)


@bp.route("/<int:rule_id>/remove", methods=["POST"])
def remove(rule_id: int) -> ResponseReturnValue:
    if not FlaskForm().validate_on_submit():
        abort(400, description="The form expired; please try again.")
    row = db.get_or_404(AccessRule, rule_id, description="No such rule.")
    edit.remove(row, at=now(), actor=current_user)
    db.session.commit()
    flash(f"Rule removed: {row.pattern} → {row.who}.", "success")
    return redirect(url_for(".index")), 303


@bp.route("/<int:rule_id>/move", methods=["POST"])
def move(rule_id: int) -> ResponseReturnValue:
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400, description="A position of 1 or more is required.")
    row = db.get_or_404(AccessRule, rule_id, description="No such rule.")
    edit.move(row, form.position.data or 1, at=now(), actor=current_user)
    db.session.commit()
    return redirect(url_for(".index")), 303


@bp.route("/default", methods=["POST"])
def default() -> ResponseReturnValue:
    form = DefaultForm()
    if form.validate_on_submit():
        try:
            who = edit.check_default(form.default.data or "")
        except BadRule as e:
            form.default.errors = [str(e)]
        else:
            edit.set_default(who, at=now(), actor=current_user)
            db.session.commit()
            flash(f"Paths no rule names: {who}.", "success")
            return redirect(url_for(".index")), 303
    return _page(400, default_form=form)


@bp.route("/import", methods=["POST"])
def import_file() -> ResponseReturnValue:
    form = ImportForm()
    if form.validate_on_submit():
        try:
            entries, default_who = edit.read_file(form.text.data or "")
        except BadRule as e:
            form.text.errors = [f"Nothing changed: {e}"]
        else:
            edit.replace_all(entries, default_who, at=now(), actor=current_user)
            db.session.commit()
            flash(f"Imported {len(entries)} rule(s); they replace the previous ones.", "success")
            return redirect(url_for(".index")), 303
    return _page(400, import_form=form)


@bp.route("/export")
def export() -> Response:
    return Response(
        edit.write_file(),
        mimetype="application/yaml",
        headers={"Content-Disposition": 'attachment; filename="tollgate-rules.yaml"'},
    )


def _test(url: str, host: str) -> dict[str, object]:
    """Who may see `url` (a path or a full URL): the canonical path, the rule that
    decides, and the answer for each kind of visitor."""
    parts = urlsplit(
        url if "//" in url else "http://x" + ("" if url.startswith("/") else "/") + url
    )
    host = host or (parts.hostname or "" if "//" in url else "")
    try:
        path = canonical_path(parts.path or "/", raw=True)
    except BadPath as e:
        return {"error": f"refused ({e}): the gate answers 400 for it"}
    book = store.current()
    decision = book.decide(path, host or None)
    who: Who = decision.who
    kinds = [("a visitor who is not logged in", who.admits(False, ())),
             ("any logged-in member", who.admits(True, ()))]  # fmt: skip
    kinds += [(f"a member holding {r.name}", who.admits(True, (r.name,))) for r in _roles()]
    return {"path": path, "host": host, "who": who, "source": book.source(decision),
            "kinds": kinds}  # fmt: skip


def _roles(*, include_retired: bool = True) -> list[Role]:
    """The roles by name (read here: roles/ sits above the rule book, whose rename it
    rewrites)."""
    query = select(Role).order_by(Role.name)
    if not include_retired:
        query = query.where(Role.retired_at.is_(None))
    return list(db.session.scalars(query))
