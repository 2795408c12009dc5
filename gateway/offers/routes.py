"""The offer page: a hidden plan's card and subscribe button, reached by its link only.

A plan with an offer code is left out of /plans, the paywall and plan changes; its link
shows it, counts the visit, and its subscribe form carries the code, without which the
checkout refuses the plan (a guessed plan code buys no discount).
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update

from models import Plan, db

from ..member.routes import plan_cards

bp = Blueprint("offers", __name__)


@bp.route("/offer/<code>")
def offer(code: str) -> ResponseReturnValue:
    plan = db.session.scalar(
        select(Plan).where(Plan.offer_code == code[:40], Plan.active.is_(True))
    )
    if plan is None:
        abort(404, description="This offer does not exist or has ended.")
    # One statement: parallel visits never lose a count.
    db.session.execute(
        update(Plan).where(Plan.id == plan.id).values(offer_visits=Plan.offer_visits + 1)
    )
    db.session.commit()
    return render_template("offers/offer.html", offer=plan.offer_code, **plan_cards([plan]))
