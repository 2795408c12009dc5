"""Changing the stored rules: one at a time (admin page, `flask rules add`), or all at
once from a file (`flask rules import`), which is checked whole before anything changes.

Every change is audited and makes a new rules version (store.changed). A rule may name
only roles that exist: a typo would otherwise lock a path for everyone.

The file format (YAML), also what `flask rules export` writes:

    default: members          # paths no rule names
    rules:                    # first match wins
      - path: /guides/*       # * one segment, ** any depth
        who: public           # public | members | a role | a list of roles
      - path: /files/**
        who: [premium, pro]
        host: docs.example.com   # optional: only on this host
        note: downloads          # optional
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from models import AccessRule, Role, Setting, User, db

from ..access_rules.paths import canonical_host
from ..access_rules.table import BadRule, Rule, Who
from ..records.audit import audit
from . import store

MAX_RULES = 10_000
#: The columns' sizes (models.role.AccessRule).
MAX_PATTERN, MAX_WHO = 400, 400
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Entry:
    rule: Rule
    note: str = ""


def check(pattern: str, who: str | list[str], host: str | None = None) -> Rule:
    """The rule, canonical, or BadRule saying what to write instead."""
    host = (host or "").strip() or None
    rule = Rule.parse(pattern, who, check_host(host) if host else None)
    if len(rule.pattern) > MAX_PATTERN:
        raise BadRule(f"a pattern is at most {MAX_PATTERN} characters")
    if len(str(rule.who)) > MAX_WHO:
        raise BadRule(f"who: at most {MAX_WHO} characters of role names")
    unknown = sorted(rule.who.roles - _role_names())
    if unknown:
        raise BadRule(f"no role named {', '.join(unknown)}: create it on the roles page first")
    return rule


def check_host(host: str) -> str:
    """A host name as a Host header carries it (a port is dropped; a Unicode name becomes
    its xn-- form), or BadRule: a rule for a host no request names would never apply."""
    name = canonical_host(host) if not re.search(r"[/@\s]", host.strip()) else "/"
    if name.startswith("[") and name.endswith("]"):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            raise BadRule(f"host {host!r}: not an IPv6 address") from None
        return name
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise BadRule(f"host {host!r}: not a host name") from None
    if len(name) > 253 or not all(HOST_LABEL.match(label) for label in name.split(".")):
        raise BadRule(
            f"host {host!r}: a host name only, like docs.example.com (no scheme, path or spaces)"
        )
    return name


def check_default(who: str | list[str]) -> Who:
    parsed = Who.parse(who)
    unknown = sorted(parsed.roles - _role_names())
    if unknown:
        raise BadRule(f"no role named {', '.join(unknown)}")
    return parsed


def add(
    entry: Entry, *, at: datetime, actor: User | None, position: int | None = None
) -> AccessRule:
    """Add a rule at `position` (1-based; default: last), moving later rules down."""
    rows = store.stored()
    place = len(rows) + 1 if position is None else max(1, min(position, len(rows) + 1))
    row = _row(entry, -(10**9), at)  # clear of every position while the others move
    rows.insert(place - 1, row)
    db.session.add(row)
    _renumber(rows)
    db.session.flush()
    audit(actor, "rule_added", "access_rule", row.id, now=at, details=_details(row))
    store.changed()
    return row


def remove(row: AccessRule, *, at: datetime, actor: User | None) -> None:
    rows = [r for r in store.stored() if r.id != row.id]
    audit(actor, "rule_removed", "access_rule", row.id, now=at, details=_details(row))
    db.session.delete(row)
    db.session.flush()
    _renumber(rows)
    store.changed()


def move(row: AccessRule, position: int, *, at: datetime, actor: User | None) -> None:
    rows = [r for r in store.stored() if r.id != row.id]
    rows.insert(max(0, min(position - 1, len(rows))), row)
    _renumber(rows)
    audit(actor, "rule_moved", "access_rule", row.id, now=at, details=_details(row))
    store.changed()


def set_default(who: Who, *, at: datetime, actor: User | None) -> None:
    row = db.session.get(Setting, store.DEFAULT_KEY)
    if row is None:
        db.session.add(Setting(key=store.DEFAULT_KEY, value=str(who)))
    else:
        row.value = str(who)
    audit(actor, "rules_default", "access_rule", 0, now=at, details={"who": str(who)})
    store.changed()


def replace_all(
    entries: list[Entry], default: Who | None, *, at: datetime, actor: User | None
) -> None:
    """The imported file's rules replace the stored ones, in one transaction."""
    for row in store.stored():
        db.session.delete(row)
    db.session.flush()
    rows = [_row(e, i, at) for i, e in enumerate(entries, start=1)]
    db.session.add_all(rows)
    if default is not None:
        set_default(default, at=at, actor=actor)
    audit(actor, "rules_imported", "access_rule", 0, now=at,
          details={"rules": len(rows), "default": str(default) if default else None})  # fmt: skip
    store.changed()


def read_file(text: str) -> tuple[list[Entry], Who | None]:
    """A rules file, checked whole: BadRule names the first bad entry (by number)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise BadRule(f"not YAML{where}: {getattr(e, 'problem', e)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict) or not set(data) <= {"default", "rules"}:
        raise BadRule("the file is a mapping with `default:` and `rules:` (a list)")
    default = check_default(_who(data["default"])) if "default" in data else None
    items = data.get("rules") or []
    if not isinstance(items, list):
        raise BadRule("`rules:` is a list")
    if len(items) > MAX_RULES:
        raise BadRule(f"at most {MAX_RULES} rules")
    entries = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or "path" not in item or "who" not in item:
            raise BadRule(f"rule {number}: needs `path:` and `who:`")
        extra = set(item) - {"path", "who", "host", "note"}
        if extra:
            raise BadRule(f"rule {number}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        try:
            rule = check(str(item["path"]), _who(item["who"]), _text(item.get("host")))
        except BadRule as e:
            raise BadRule(f"rule {number}: {e}") from None
        entries.append(Entry(rule, _text(item.get("note")) or ""))
    return entries, default


def write_file() -> str:
    """The stored rules and default as a rules file (read_file reads it back the same)."""
    rules: list[dict[str, Any]] = []
    for row in store.stored():
        who = Who.parse(row.who)
        item: dict[str, Any] = {"path": row.pattern}
        item["who"] = sorted(who.roles) if who.roles and len(who.roles) > 1 else str(who)
        if row.host:
            item["host"] = row.host
        if row.note:
            item["note"] = row.note
        rules.append(item)
    body = yaml.safe_dump(
        {"default": str(store.default_who()), "rules": rules},
        sort_keys=False, allow_unicode=True, default_flow_style=None,
    )  # fmt: skip
    return "# Tollgate access rules: first match wins (docs/content.md).\n" + body


def _row(entry: Entry, position: int, at: datetime) -> AccessRule:
    rule = entry.rule
    return AccessRule(
        position=position,
        pattern=rule.pattern,
        host=rule.host,
        who=str(rule.who),
        note=entry.note.strip()[:500],
        updated_at=at,
    )


def _renumber(rows: list[AccessRule]) -> None:
    """Positions 1..n in this order. Through negatives first: UNIQUE(position) is
    checked row by row on PostgreSQL, so a shift in place would collide."""
    ids = [r.id for r in rows if r.id is not None]
    if ids:
        db.session.execute(
            update(AccessRule).where(AccessRule.id.in_(ids)).values(position=-AccessRule.id),
            execution_options={"synchronize_session": False},
        )
        for row in rows:
            if row.id is not None:  # what the row now holds, without reading it back
                set_committed_value(row, "position", -row.id)
    for number, row in enumerate(rows, start=1):
        row.position = number


def _role_names() -> set[str]:
    return set(db.session.scalars(select(Role.name)))


def _who(value: Any) -> str | list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _details(row: AccessRule) -> dict[str, Any]:
    return {"position": row.position, "pattern": row.pattern, "host": row.host, "who": row.who}
