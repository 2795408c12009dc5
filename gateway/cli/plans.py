"""`flask --app app plans publish CODE` and `plans check CODE`: REST plans from our terms."""

from __future__ import annotations

import click
from sqlalchemy import select

from models import Plan, db

from ..checkout import rest_plan
from ..paypal.api import ApiError


@click.group("plans")
def plans_group() -> None:
    """Plans at PayPal: create a REST plan from a plan's terms, or check one."""


def _plan(code: str) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.code == code))
    if plan is None:
        raise click.ClickException(f"no plan {code!r}")
    return plan


@plans_group.command("publish")
@click.argument("code")
@click.option("--product-id", help="PayPal catalog product (default: a new one per plan).")
def publish_command(code: str, product_id: str | None) -> None:
    """Create the REST plan selling CODE's terms (trials, price, number of payments)."""
    plan = _plan(code)
    try:
        plan_id = rest_plan.publish(plan, product_id)
    except (ApiError, rest_plan.Mismatch) as e:
        db.session.rollback()
        raise click.ClickException(str(e.for_admin() if isinstance(e, ApiError) else e)) from None
    db.session.commit()
    click.echo(f"plan {code}: PayPal plan {plan_id}")


@plans_group.command("check")
@click.argument("code")
def check_command(code: str) -> None:
    """Say whether the plan at PayPal sells exactly CODE's terms (exit 1 if not)."""
    try:
        rest_plan.check(_plan(code))
    except (ApiError, rest_plan.Mismatch) as e:
        raise click.ClickException(str(e.for_admin() if isinstance(e, ApiError) else e)) from None
    click.echo(f"plan {code}: PayPal sells the same terms")
