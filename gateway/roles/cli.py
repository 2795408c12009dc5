"""`flask --app app roles list|add|rename|retire|restore|delete`: the roles page, for
scripts. The same audited service calls; a mistake is a one-line error and exit 1."""

from __future__ import annotations

from collections.abc import Callable

import click

from models import Role, db

from ..clock import now
from . import service


@click.group("roles")
def roles_group() -> None:
    """Roles (tiers) that plans grant and rules name."""


def _role(name: str) -> Role:
    role = service.named(name)
    if role is None:
        raise click.ClickException(f"no role named {name!r} (`flask roles list`)")
    return role


def _reason(text: str) -> str:
    text = text.strip()
    if not 3 <= len(text) <= 500:
        raise click.ClickException("--reason: 3 to 500 characters (it goes to the audit log)")
    return text


@roles_group.command("list")
def list_roles() -> None:
    """Every role: name, title, plans granting it, and whether retired."""
    plans = service.counts()
    for role in service.all_roles():
        state = f"retired {role.retired_at:%Y-%m-%d}" if role.retired_at else "active"
        click.echo(f"{role.name}\t{role.title}\t{plans.get(role.id, 0)} plan(s)\t{state}")


@roles_group.command("add")
@click.argument("name")
@click.option("--title", default="", help="What members read (default: from the name).")
@click.option("--description", default="")
def add(name: str, title: str, description: str) -> None:
    try:
        role = service.create(name, title, description, at=now(), actor=None)
    except service.RoleError as e:
        raise click.ClickException(str(e)) from None
    db.session.commit()
    click.echo(f"created role {role.name} ({role.title})")


@roles_group.command("rename")
@click.argument("old")
@click.argument("new")
@click.option("--reason", required=True)
def rename(old: str, new: str, reason: str) -> None:
    """Rename a role; the rules naming it are rewritten."""
    role = _role(old)
    try:
        service.update(
            role, name=new, title=role.title, description=role.description,
            at=now(), actor=None, reason=_reason(reason),
        )  # fmt: skip
    except service.RoleError as e:
        raise click.ClickException(str(e)) from None
    db.session.commit()
    click.echo(f"renamed {old} to {role.name}")


#: The audited one-role actions: command, service call, what it prints, its help.
ACTIONS = (
    ("retire", service.retire, "retired", "No longer offered to plans; holders keep it."),
    ("restore", service.restore, "restored", "Offered to plans again."),
    ("delete", service.delete, "deleted", "Delete a role nothing uses (else: retire it)."),
)


def _action(name: str, act: Callable[..., None], done: str, help_text: str) -> None:
    @roles_group.command(name, help=help_text)
    @click.argument("role_name", metavar="NAME")
    @click.option("--reason", required=True, help="Why: goes to the audit log.")
    def command(role_name: str, reason: str) -> None:
        try:
            act(_role(role_name), at=now(), actor=None, reason=_reason(reason))
        except service.RoleError as e:
            raise click.ClickException(str(e)) from None
        db.session.commit()
        click.echo(f"{done} {role_name}")


for _name, _act, _done, _help in ACTIONS:
    _action(_name, _act, _done, _help)
