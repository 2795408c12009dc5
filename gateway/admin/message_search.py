"""The PayPal messages list's search and its list of types, each served by an index.

A search matches a txn or subscription id exactly or by prefix (PayPal's ids are upper
case; pattern indexes), or words inside the outcome. The outcome is searched with
`ILIKE '%words%'` on a pg_trgm GIN index on PostgreSQL. Trigrams, not PostgreSQL's text
search: outcomes are short sentences full of ids and amounts ("payment recorded
(subscription 123)", "I-ABC…"), which text search splits, stems and drops as stop words,
while an admin pastes a fragment and expects a substring match, the same on SQLite
(whose fallback is a plain LIKE, as its tables are small).

Two query shapes: a search matching few messages has its ids read from each branch's
index (`id IN (… UNION …)`) and sorted; one matching many (a common word) is a filter
while walking the primary key newest first, which meets a match every few rows.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select, text, union

from models import Notification, db

from ..paging import escape_like

N = Notification
#: Ids and prefixes shorter than this match exactly only; words need 3 letters (a trigram).
PREFIX_FROM = 3
#: Above this many outcome matches the search is a filter on the newest-first walk.
FEW = 2_000
#: The type list's length, at most (it is read from the index, one step per type).
MAX_TYPES = 200


def matching(q: str) -> ColumnElement[bool]:
    """Messages whose txn or subscription id is or starts with `q`, or whose outcome
    contains it (any case)."""
    ids = [N.txn_id == q, N.subscr_id == q]
    if len(q) >= PREFIX_FROM:
        prefix = f"{escape_like(q.upper())}%"
        ids += [N.txn_id.like(prefix, escape="\\"), N.subscr_id.like(prefix, escape="\\")]
        words = _outcome_contains(q)
        # The outcome's matches, read once: up to FEW of them become the search's ids.
        found = db.session.scalars(select(N.id).where(words).limit(FEW + 1)).all()
        if len(found) > FEW:
            return or_(*ids, words)
        if found:  # with the ids' own matches (indexed, few), as one list of ids
            by_id = union(*(select(N.id).where(match) for match in ids)).limit(FEW + 1)
            return N.id.in_(set(found) | set(db.session.scalars(by_id)))
    return N.id.in_(union(*(select(N.id).where(match) for match in ids)))


def _outcome_contains(q: str) -> ColumnElement[bool]:
    pattern = f"%{escape_like(q)}%"
    if db.engine.dialect.name == "postgresql":
        return N.outcome.ilike(pattern, escape="\\")
    return func.lower(N.outcome).like(pattern.lower(), escape="\\")


def known_types() -> list[str]:
    """The distinct txn types, read from the (txn_type, id) index one type at a time (a
    skip scan as a recursive query) rather than by a DISTINCT over every message."""
    rows = db.session.execute(
        text(
            """WITH RECURSIVE kinds(t) AS (
                 SELECT min(txn_type) FROM notifications
                 UNION ALL
                 SELECT (SELECT min(txn_type) FROM notifications WHERE txn_type > kinds.t)
                 FROM kinds WHERE kinds.t IS NOT NULL)
               SELECT t FROM kinds WHERE t IS NOT NULL LIMIT :most"""
        ),
        {"most": MAX_TYPES},
    )
    return sorted(t for (t,) in rows)
