"""Each process's copy of the rules, as one immutable RuleTable, and its invalidation.

The table is rebuilt when the stored rules change (a version token in `settings`, read
at most once per `RULES_CHECK_SECONDS` per process, and at once in the process that made
the change, after its commit) or when the page rules change (the content folder's front
matter, from a provider the content feature registers). A request never reads the
database for the rules otherwise.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from models import AccessRule, Setting, db

from ..access_rules.table import BadRule, Decision, Rule, RuleTable, Who
from ..database import insert_new

VERSION_KEY = "access.version"
DEFAULT_KEY = "access.default"
_CHANGED = "rulebook_changed"
EXTENSION = "rulebook"
_BOOK = "rule_book"
#: Admits nobody but admins: what a rule or default that cannot be read becomes.
NOBODY = Who()

#: Rules that come from elsewhere than the table, checked before it: (a token that
#: changes whenever they do, [(rule, where it comes from)]).
PageRules = Callable[[], tuple[Hashable, Sequence[tuple[Rule, str]]]]


@dataclass(frozen=True)
class Book:
    table: RuleTable
    #: Where each of table.rules comes from: "page guides/x.md" or "rule 3".
    sources: tuple[str, ...]
    #: The stored rules' rows' ids, aligned with sources (None for page rules).
    ids: tuple[int | None, ...]
    #: Moves with every rebuild in this process (kept pages key on it).
    edition: int = 0

    def decide(self, path: str, host: str | None = None) -> Decision:
        return self.table.decide(path, host)

    def source(self, decision: Decision) -> str:
        return "the default" if decision.rule is None else self.sources[decision.rule]


class _Holder:
    def __init__(self, check_seconds: float) -> None:
        self.check_seconds = check_seconds
        self.lock = threading.Lock()
        self.book: Book | None = None
        self.version: str | None = None
        self.pages_token: Hashable = None
        self.checked = float("-inf")


def install(app: Flask, page_rules: PageRules | None = None) -> None:
    app.extensions[EXTENSION] = _Holder(float(app.config["RULES_CHECK_SECONDS"]))
    if page_rules is not None:
        app.extensions[EXTENSION + ".pages"] = page_rules


def set_page_rules(app: Flask, page_rules: PageRules) -> None:
    app.extensions[EXTENSION + ".pages"] = page_rules


def current() -> Book:
    """This process's rules, rebuilt only when something changed; one answer per request
    (the verdict, the kept page's key and the header all ask)."""
    if has_request_context():
        book: Book | None = g.get(_BOOK)
        if book is None:
            book = g.rule_book = _current()
        return book
    return _current()


def latest() -> Book:
    """This process's rules now, outside the per-request memo (the fast forward check,
    which has no request context)."""
    return _current()


def _current() -> Book:
    holder: _Holder = current_app.extensions[EXTENSION]
    pages: PageRules | None = current_app.extensions.get(EXTENSION + ".pages")
    token, page_rules = pages() if pages is not None else (None, ())
    book = holder.book
    at = time.monotonic()
    if (
        book is not None
        and token == holder.pages_token
        and at - holder.checked < holder.check_seconds
    ):
        return book
    with holder.lock:
        version = _version()
        if holder.book is None or version != holder.version or token != holder.pages_token:
            holder.book = _build(page_rules, (holder.book.edition + 1) if holder.book else 1)
            holder.version, holder.pages_token = version, token
        holder.checked = at
        return holder.book


def changed() -> None:
    """The stored rules (or their default) change in this transaction: a new version for
    every process, and this one rebuilds as soon as it commits."""
    token = uuid.uuid4().hex
    if not insert_new(Setting, [{"key": VERSION_KEY, "value": token}], ["key"], ["key"]):
        db.session.execute(update(Setting).where(Setting.key == VERSION_KEY).values(value=token))
    db.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        try:
            holder: _Holder = current_app.extensions[EXTENSION]
        except (RuntimeError, KeyError):  # no app (a script) or not installed
            return
        holder.checked = float("-inf")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def default_who() -> Who:
    """The stored default, else the configured one (ACCESS_DEFAULT)."""
    row = db.session.get(Setting, DEFAULT_KEY)
    text = row.value if row is not None else current_app.config["ACCESS_DEFAULT"]
    try:
        return Who.parse(text)
    except BadRule:  # a stored default written by hand: it closes rather than opens
        return NOBODY


def stored() -> list[AccessRule]:
    return list(db.session.scalars(select(AccessRule).order_by(AccessRule.position)))


def _version() -> str | None:
    row = db.session.execute(select(Setting.value).where(Setting.key == VERSION_KEY)).first()
    return None if row is None else str(row[0])


def _build(page_rules: Sequence[tuple[Rule, str]], edition: int) -> Book:
    rules: list[Rule] = []
    sources: list[str] = []
    ids: list[int | None] = []
    for rule, source in page_rules:
        rules.append(rule)
        sources.append(source)
        ids.append(None)
    for row in stored():
        try:
            rule = Rule.parse(row.pattern, row.who, row.host)
        except BadRule:  # written by an older version or by hand: it closes, never opens
            rule = _closed(row)
        rules.append(rule)
        sources.append(f"rule {row.position}")
        ids.append(row.id)
    return Book(RuleTable(rules, default_who()), tuple(sources), tuple(ids), edition)


def _closed(row: AccessRule) -> Rule:
    """A stored rule that no longer reads: it admits nobody (admins still pass)."""
    return Rule(row.pattern, NOBODY, row.host)
