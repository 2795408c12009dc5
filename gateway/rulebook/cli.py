"""`flask --app app rules list|add|remove|default|import|export|test`: the rules page, for
scripts and infrastructure-as-code. The same audited calls; a mistake is a one-line
error and exit 1, and an import that fails changes nothing."""

from __future__ import annotations

import sys

import click

from models import db

from ..access_rules.paths import BadPath, canonical_path
from ..access_rules.table import BadRule
from ..clock import now
from . import edit, store


@click.group("rules")
def rules_group() -> None:
    """URL access rules: pattern -> public | members | roles; first match wins."""


@rules_group.command("list")
def list_rules() -> None:
    """The stored rules in order, then the default."""
    for row in store.stored():
        host = f"\thost={row.host}" if row.host else ""
        click.echo(f"{row.position}\t{row.pattern}\t{row.who or 'nobody'}{host}")
    click.echo(f"*\t(any other path)\t{store.default_who() or 'nobody'}")


@rules_group.command("add")
@click.argument("pattern")
@click.argument("who", nargs=-1, required=True)
@click.option("--host", default=None, help="Only on this host (sites behind the gateway).")
@click.option("--position", type=click.IntRange(min=1), default=None, help="Default: last.")
@click.option("--note", default="")
def add(
    pattern: str, who: tuple[str, ...], host: str | None, position: int | None, note: str
) -> None:
    """Add PATTERN -> WHO: `public`, `members`, or one or more role names."""
    try:
        rule = edit.check(pattern, list(who), host)
    except BadRule as e:
        raise click.ClickException(str(e)) from None
    row = edit.add(edit.Entry(rule, note), at=now(), actor=None, position=position)
    db.session.commit()
    click.echo(f"{row.position}\t{row.pattern}\t{row.who}")


@rules_group.command("remove")
@click.argument("position", type=int)
def remove(position: int) -> None:
    """Remove the rule at POSITION (as `rules list` numbers them)."""
    row = next((r for r in store.stored() if r.position == position), None)
    if row is None:
        raise click.ClickException(f"no rule at position {position}")
    edit.remove(row, at=now(), actor=None)
    db.session.commit()
    click.echo(f"removed {row.pattern} -> {row.who}")


@rules_group.command("default")
@click.argument("who", nargs=-1, required=True)
def default(who: tuple[str, ...]) -> None:
    """Who may see paths no rule names."""
    try:
        parsed = edit.check_default(list(who))
    except BadRule as e:
        raise click.ClickException(str(e)) from None
    edit.set_default(parsed, at=now(), actor=None)
    db.session.commit()
    click.echo(f"default: {parsed}")


@rules_group.command("import")
@click.argument("file")
def import_rules(file: str) -> None:
    """Replace every rule (and the default, if the file has one) with FILE's; `-` reads
    standard input. Checked whole first: a bad file changes nothing."""
    try:
        entries, default_who = edit.read_file(_read(file))
    except BadRule as e:
        raise click.ClickException(f"{file}: nothing changed: {e}") from None
    edit.replace_all(entries, default_who, at=now(), actor=None)
    db.session.commit()
    click.echo(f"imported {len(entries)} rule(s)")


def _read(file: str) -> str:
    """FILE's text (`-`: standard input); an unreadable file is a one-line error, exit 1
    (not click's usage error, exit 2), like every other mistake here."""
    if file == "-":
        return sys.stdin.read()
    try:
        with open(file, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "not UTF-8 text"
        raise click.ClickException(f"{file}: nothing changed: {reason}") from None


@rules_group.command("export")
def export() -> None:
    """Write the rules file (YAML) to standard output."""
    sys.stdout.write(edit.write_file())


@rules_group.command("test")
@click.argument("path")
@click.option("--host", default=None)
def test(path: str, host: str | None) -> None:
    """Who may see PATH (as a browser sends it, percent-encoded), and which rule says so."""
    try:
        canonical = canonical_path(path, raw=True)
    except BadPath as e:
        raise click.ClickException(f"refused ({e}): the gate answers 400") from None
    book = store.current()
    decision = book.decide(canonical, host)
    click.echo(f"{canonical}\t{decision.who or 'nobody'}\t{book.source(decision)}")
