"""`flask --app app members grant EMAIL --role ROLE --until DATE --reason TEXT` and
`members revoke EMAIL --role ROLE --reason TEXT`: the admin page's grant and revoke, for
complimentary accounts and scripts. The same audited actions (the audit log says an
operator made them on the command line); a mistake is a one-line error and exit 1.
"""

from __future__ import annotations

from datetime import date, datetime

import click
from sqlalchemy import select

from models import Plan, Role, Subscription, User, db, plan_roles

from ..clock import end_of_day, now, utc_text
from ..subscriptions import admin_actions


@click.group("members")
def members_group() -> None:
    """Members: grant or revoke access by hand (audited)."""


def _member(email: str) -> User:
    member = db.session.scalar(select(User).where(User.email == User.normalise_email(email)))
    if member is None:
        raise click.ClickException(f"no member with the e-mail {email!r}")
    return member


def _reason(text: str) -> str:
    text = text.strip()
    if not 3 <= len(text) <= 500:
        raise click.ClickException("--reason: 3 to 500 characters (it goes to the audit log)")
    return text


def _plan_for(role: str, code: str | None) -> Plan:
    """The plan a grant of `role` opens: --plan when given, else the one active plan
    granting the role (several: the operator says which)."""
    if code:
        plan = db.session.scalar(select(Plan).where(Plan.code == code))
        if plan is None:
            raise click.ClickException(f"no plan with the code {code!r}")
        if role not in plan.role_names:
            granted = ", ".join(plan.role_names) or "no role"
            raise click.ClickException(f"plan {code!r} grants {granted}, not {role!r}")
        return plan
    plans = list(
        db.session.scalars(
            select(Plan)
            .join(plan_roles, plan_roles.c.plan_id == Plan.id)
            .join(Role, Role.id == plan_roles.c.role_id)
            .where(Role.name == role, Plan.active.is_(True))
            .order_by(Plan.code)
        )
    )
    if not plans:
        active = db.session.scalars(select(Plan).where(Plan.active.is_(True)))
        roles = sorted({name for p in active for name in p.role_names})
        raise click.ClickException(
            f"no active plan grants {role!r}; roles on sale: {', '.join(roles) or 'none'}"
        )
    if len(plans) > 1:
        codes = ", ".join(p.code for p in plans)
        raise click.ClickException(f"several plans grant {role!r} ({codes}): choose with --plan")
    return plans[0]


def _until(text: str, at: datetime) -> datetime:
    """A day (access until its end, UTC) or an ISO moment with its zone."""
    try:
        if len(text) == 10:
            until = end_of_day(date.fromisoformat(text))
        else:
            until = datetime.fromisoformat(text)
            if until.tzinfo is None:
                raise click.ClickException("--until: a moment needs its zone (…Z or +00:00)")
    except ValueError:
        raise click.ClickException(
            f"--until {text!r}: a day (2027-01-31) or a moment (2027-01-31T12:00:00Z)"
        ) from None
    if until <= at:
        raise click.ClickException(f"--until {text!r} is not in the future")
    return until


@members_group.command("grant")
@click.argument("email")
@click.option("--role", required=True, help="The role to give (one an active plan grants).")
@click.option("--until", "until_text", required=True, help="A day (until its end, UTC) or moment.")
@click.option("--reason", required=True, help="Why: goes to the audit log.")
@click.option("--plan", "plan_code", help="The plan, when several grant the role.")
def grant_command(
    email: str, role: str, until_text: str, reason: str, plan_code: str | None
) -> None:
    """Give EMAIL the role until a date, as an admin's grant does."""
    at = now()
    member, why = _member(email), _reason(reason)
    plan, until = _plan_for(role.strip().lower(), plan_code), _until(until_text.strip(), at)
    sub = admin_actions.grant(None, member, plan, until, why, at)
    db.session.commit()
    click.echo(
        f"{member.email}: {role.strip().lower()} until {utc_text(until)} (subscription {sub.id})"
    )


@members_group.command("revoke")
@click.argument("email")
@click.option("--role", required=True, help="The role to take away.")
@click.option("--reason", required=True, help="Why: goes to the audit log (never to the member).")
@click.option("--message", default="", help="What the member reads (else a neutral sentence).")
def revoke_command(email: str, role: str, reason: str, message: str) -> None:
    """End EMAIL's access to the role now: every subscription of theirs that gives it."""
    at = now()
    member, why = _member(email), _reason(reason)
    subs = list(
        db.session.scalars(
            select(Subscription)
            .join(plan_roles, plan_roles.c.plan_id == Subscription.plan_id)
            .join(Role, Role.id == plan_roles.c.role_id)
            .where(
                Subscription.user_id == member.id,
                Role.name == role.strip().lower(),
                Subscription.access_until > at,
            )
            .order_by(Subscription.id)
        )
    )
    for sub in subs:
        admin_actions.revoke(None, sub, why, at, member_note=message)
    db.session.commit()
    if subs:
        ids = ", ".join(str(s.id) for s in subs)
        click.echo(f"{member.email}: {role} revoked (subscription {ids})")
    else:
        click.echo(f"{member.email} holds no {role} access now: nothing to revoke")
