"""Everything that exists only for speed (or memory), installed by one call: `install(app)`.

Each trick below keeps the app's behaviour exactly; each has an off switch, and
`bench/gate.py` measures each one's gain against the same run's bare Flask route (the
figures and how they were taken: bench/README.md). Switch a trick off by naming it in
`FASTPATH_OFF` (e.g. `GATEWAY_FASTPATH_OFF='["kept_pages"]'`); the member copy has its
own switch, `GATE_CACHE_SECONDS = 0`.

- member copy (`member_copy.py`): no read of the member's row on a gated request (0 SQL);
  +0.44 (gated page 0.69 → 0.25 of a bare route without it); off: `GATE_CACHE_SECONDS = 0`.
- kept pages (`kept_pages.py`): the header and the gated pages rendered once per kind of
  visitor; +0.16 (→ 0.53); off: `kept_pages`.
- session cookie cache (`session_cookie.py`): a cookie's HMAC checked once, a serializer
  built once; +0.09 (→ 0.60); off: `session_cookie`.
- CSRF token cache (`csrf_tokens.py`): the session's token signed once, not per page;
  +0.07 (→ 0.62); off: `csrf_tokens`.
- PayPal's fast intake (`intake.py`): PayPal's POSTs stored without Flask's request
  handling; 0.55-0.62 ms a POST against 0.93-1.16 ms through Flask, in-process on SQLite
  (`bench/gate_and_inbox.py`, 3 runs); off: `intake`.
- fast forward check (`forward_check.py`): the forward-auth check's usual 200 answered
  before Flask's request handling; +0.25 (`GET /gate/check` 0.89 → 0.64 of a bare route
  without it, `bench/forward_auth.py`, median of 3 rounds on 2026-12-07); off:
  `forward_check`.
- lazy Flask-Migrate (`lazy_migrate.py`): Alembic, Mako and Pygments (~10 MB, 88 → 64 MB
  at start-up) loaded only where migrations are used; off: `lazy_migrate`.

(Page-view gains: `bench/gate.py`, median of 5 rounds on 2026-12-07, each against the same
run's bare Flask route.)

A gated request's path (`GET /premium`, a content page, by a member, from the WSGI entry
to the view):

1. `ProxyFix` (only with `PROXY_FIX` set), then `security.SecurityHeaders`, which adds the
   security headers to whatever answers below it;
2. `intake.FastIntake`: not a PayPal POST, so on to Flask (`Flask.wsgi_app`);
3. Flask opens the session: `session_cookie.SessionCookies` (a cookie seen before is not
   verified again, only its age);
4. before-request: Flask-WTF's CSRF check (a GET passes);
5. the content view under `kept_pages.kept_page`: the canonical path, the page from the
   content folder's snapshot, and `rulebook.gate.verdict`, which looks the path up in
   this process's rule table (no query) and asks `current_user`: Flask-Login calls
   `member_copy.load_user`, which answers from this process's copy (a `Member`: no
   query), or reads the row and keeps a copy; then `access.current_roles` reads the
   roles from the session (computed again only when the member's `access_version`
   moved) and checks them against the clock;
6. the view returns its strings; `kept_page` answers the page kept for this kind of visitor
   with this request's CSRF token put in (templates' `site_nav()` likewise for the header).

What invalidates: any change of a member's access, admin flag, e-mail or session token
calls `database.members_changed(ids)` (an ORM change to a `User` row does so by itself,
through the listener `member_copy` binds to the app's session): this process drops its
copies at commit, others on PostgreSQL's `NOTIFY` (within a second), on SQLite at their
next request (`PRAGMA data_version`).
"""

from __future__ import annotations

from flask import Flask

from . import (
    csrf_tokens,
    forward_check,
    intake,
    kept_pages,
    lazy_migrate,
    member_copy,
    session_cookie,
)

#: The names `FASTPATH_OFF` may hold.
TRICKS = (
    "kept_pages",
    "csrf_tokens",
    "session_cookie",
    "intake",
    "forward_check",
    "lazy_migrate",
)


class FastPathError(ValueError):
    """FASTPATH_OFF names something that is not a trick."""


def install(app: Flask) -> None:
    """Install every trick not switched off. Called once, by the factory, after the
    extensions and blueprints are registered and before the security wrappers (so that
    the fast intake's answers get the security headers too)."""
    off = set(app.config.get("FASTPATH_OFF") or ())
    unknown = off - set(TRICKS)
    if unknown:
        raise FastPathError(
            f"FASTPATH_OFF names unknown tricks: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(TRICKS)}"
        )
    member_copy.install(app)
    csrf_tokens.install(app, keep="csrf_tokens" not in off)
    kept_pages.install(app, keep="kept_pages" not in off)
    if "session_cookie" not in off:
        session_cookie.install(app)
    if "intake" not in off:
        intake.install(app)
    if "forward_check" not in off:
        forward_check.install(app)
    lazy_migrate.install(app, lazy="lazy_migrate" not in off)
