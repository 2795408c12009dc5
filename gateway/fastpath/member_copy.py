"""The member behind a session, from memory: no database round trip on a gated request.

Each process keeps the columns of `users` a request needs (id, e-mail, admin flag,
session token, access version) and the member's logged-out sessions. The signed session
already carries the roles and the version they were computed at (gateway/access.py). So a
gated request is answered from memory, unless this process cannot be sure its copy is current:

* PostgreSQL: every change of those columns (or a log-out) sends `NOTIFY tollgate_access,
  '<user id>'` in the same transaction (delivered at commit, to every process on every
  host). A listener thread per process drops the member's copy; it LISTENs on
  `DATABASE_LISTEN_URL` when set (a direct connection: through a transaction pooler LISTEN
  hears nothing). While it is not connected (start-up, a lost connection) nothing is
  trusted and every request reads the database.
* SQLite (one host): `PRAGMA data_version` on a connection of our own changes whenever
  any other connection commits; then the whole copy is dropped. One call into SQLite's
  shared memory per request, no query.

Copies also expire after `GATE_CACHE_SECONDS` (a resync, so a lost notice cannot last).

Kept pages and the forward check (views marked COPY_SUFFICES) get the copy itself as
`current_user`: a read-only `Member` that also keeps the member's roles (at the copy's
access version). Reading anything else from it loads the real row, which is then
`current_user`. Other views get an ORM `User` built from the copy without a query.

Off switch: `GATE_CACHE_SECONDS = 0` (every request reads the member's row).
"""

from __future__ import annotations

import hmac
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask import Flask, abort, current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import InstanceState, Session, make_transient_to_detached

from models import User, db

from ..auth import sessions
from ..database import CHANGED_MEMBERS, MEMBERS_CHANNEL, members_changed
from ..extensions import login_manager

#: The columns of `users` a request reads: all a copy holds (never the password hash).
COLUMNS = ("id", "email", "is_admin", "session_token", "access_version", "created_at")
#: Those of them that can change; a change of any is announced (members_changed).
WATCHED = tuple(name for name in COLUMNS if name not in ("id", "created_at"))
log = logging.getLogger(__name__)


class Member:
    """A logged-in member answered from this process's copy: what Flask-Login and the
    gate read, and nothing more. Read-only (a change must go through the ORM row).

    Any other attribute loads the member's row (`orm()`): the password hash is never
    served from memory, and code that needs a `User` (a method, a relationship) still gets
    one. After that `current_user` is the row itself (isinstance checks, session.add)."""

    __slots__ = (*COLUMNS, "_copy")
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, copy: Copy) -> None:
        for name, value in copy.values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_copy", copy)

    def held_roles(self, compute: Callable[[int], dict[str, datetime]]) -> dict[str, datetime]:
        """The roles (access.roles_for), once per copy: any access change drops the copy."""
        return self._copy.roles(compute)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def orm(self) -> User:
        """The member's row, read from the database once per request; from then on it is
        `current_user` too."""
        user = g.get("_gate_orm_user")
        if user is None:
            user = db.session.get(User, self.id)
            if user is None:  # deleted since the request began: no longer a member
                abort(401)
            g._gate_orm_user = user
            if g.get("_login_user") is self:
                g._login_user = user
        return user

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy/pickle protocol probes: not the row's business
            raise AttributeError(name)
        return getattr(self.orm(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Member is read-only; change {name!r} on the ORM row (orm())")

    def __eq__(self, other: object) -> bool:
        get_id = getattr(other, "get_id", None)
        return callable(get_id) and get_id() == self.get_id()

    def __hash__(self) -> int:
        return hash(self.get_id())

    def __repr__(self) -> str:
        return f"<Member {self.email} (copy)>"


@dataclass(frozen=True)
class Copy:
    #: COLUMNS -> the member's values when the copy was taken.
    values: dict[str, Any]
    #: When (monotonic seconds).
    taken: float
    ended: frozenset[str] = frozenset()  #: digests of the member's logged-out sessions

    @classmethod
    def of(cls, user: User, taken: float, ended: frozenset[str] = frozenset()) -> Copy:
        return cls({name: getattr(user, name) for name in COLUMNS}, taken, ended)

    @property
    def session_token(self) -> str:
        token: str = self.values["session_token"]
        return token

    @property
    def member(self) -> Member:
        """The read-only `Member` for this copy, built once (copies are immutable)."""
        found: Member | None = self.__dict__.get("_member")
        if found is None:
            found = Member(self)
            object.__setattr__(self, "_member", found)
        return found

    def kept_roles(self) -> dict[str, datetime] | None:
        """The roles kept with this copy, if a request computed them already."""
        return cast("dict[str, datetime] | None", self.__dict__.get("_roles"))

    def roles(self, compute: Callable[[int], dict[str, datetime]]) -> dict[str, datetime]:
        found = self.kept_roles()
        if found is None:
            found = compute(self.values["id"])
            object.__setattr__(self, "_roles", found)
        return found

    def as_user(self) -> User:
        """A persistent `User` built without a query; any other column (the password
        hash, say) is loaded from the database only if someone reads it."""
        user = User(**self.values)
        make_transient_to_detached(user)
        db.session.add(user)
        db.session.expire(user, ["password_hash"])  # never from memory: loaded when read
        return user


class GateCache:
    """Per-process copies of members, trusted only while a watcher vouches for them."""

    def __init__(self, ttl: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._now = ttl, monotonic
        self._copies: dict[int, Copy] = {}
        self._lock = threading.Lock()
        #: Bumped on every drop: a copy read before a drop is never stored after it.
        self.generation = 0
        self.watcher: Watcher | None = None

    def get(self, user_id: int) -> Copy | None:
        if self.watcher is None or not self.watcher.current(self):
            return None
        copy = self._copies.get(user_id)
        if copy is None or self._now() - copy.taken > self.ttl:
            return None
        return copy

    def put(self, user: User, generation: int) -> Copy | None:
        """Keep a copy of `user` (read at `generation`), unless a drop came since."""
        ended = sessions.ended_sessions(user.id)  # as `load` read them with the row: no query
        with self._lock:
            if generation == self.generation and self.watcher and self.watcher.trusted():
                copy = self._copies[user.id] = Copy.of(user, self._now(), ended)
                return copy
        return None

    def drop(self, user_id: int | None = None) -> None:
        with self._lock:
            self.generation += 1
            if user_id is None:
                self._copies.clear()
            else:
                self._copies.pop(user_id, None)

    def size(self) -> int:
        """How many members this process holds (not __len__: an empty cache is no less
        a cache, and must not read as False)."""
        return len(self._copies)


class Watcher:
    def current(self, cache: GateCache) -> bool:
        """May the cache be used for this request (and is it brought up to date)?"""
        raise NotImplementedError

    def trusted(self) -> bool:
        raise NotImplementedError


class SqliteWatcher(Watcher):
    """`PRAGMA data_version` changes when another connection commits (docs: "the
    integer values returned by two invocations ... will be different" after a change
    by another connection). One connection of ours per thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def _version(self) -> int:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=True)
            self._local.conn, self._local.seen = conn, None
        return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def current(self, cache: GateCache) -> bool:
        try:
            version = self._version()
        except sqlite3.Error:
            return False
        if version != self._local.seen:
            self._local.seen = version
            cache.drop()
        return True

    def trusted(self) -> bool:
        return True


class PostgresWatcher(Watcher):
    """A thread LISTENing for changes; copies are trusted only while it is connected
    and has looked for notices within the last `STALE` seconds."""

    STALE = 1.0
    POLL = 0.2

    def __init__(self, url: str, cache: GateCache) -> None:
        self.url, self.cache = url, cache
        self._beat = 0.0
        self._connected = False
        self._pid = 0
        self._lock = threading.Lock()
        self.stopped = threading.Event()
        self.backend_pid: int | None = None

    def _ensure_thread(self) -> None:
        # Started lazily in each process: a thread started before a fork does not survive it.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._pid, self._connected = os.getpid(), False
                    threading.Thread(target=self._run, name="gate-listener", daemon=True).start()

    def current(self, cache: GateCache) -> bool:
        self._ensure_thread()
        return self.trusted()

    def trusted(self) -> bool:
        return self._connected and time.monotonic() - self._beat < self.STALE

    def _run(self) -> None:
        import psycopg

        while not self.stopped.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {MEMBERS_CHANNEL}")
                    self.backend_pid = conn.info.backend_pid
                    self.cache.drop()  # whatever happened while we were not listening
                    self._connected, self._beat = True, time.monotonic()
                    while not self.stopped.is_set():
                        for notice in conn.notifies(timeout=self.POLL, stop_after=100):
                            self._apply(notice.payload)
                        conn.execute("SELECT 1")  # notices a dropped connection
                        self._beat = time.monotonic()
            except Exception as e:  # the database went away: trust nothing, try again
                log.warning("gate listener lost its connection: %s", e)
            self._connected = False
            self.cache.drop()
            self.stopped.wait(1.0)

    def _apply(self, payload: str) -> None:
        self.cache.drop(int(payload) if payload.isdigit() else None)


def watcher_for(engine: Engine, cache: GateCache, listen_url: str = "") -> Watcher | None:
    """The watcher for `engine`'s database. PostgreSQL LISTENs on `listen_url` when given
    (DATABASE_LISTEN_URL: a direct connection, the engine's may be a transaction pooler)."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        direct = listen_url or url.render_as_string(hide_password=False)
        plain = make_url(direct).set(drivername="postgresql")
        return PostgresWatcher(plain.render_as_string(hide_password=False), cache)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return SqliteWatcher(url.database)
    return None  # an in-memory database: nothing to watch, always read it


def load_user(loader: Callable[[str], User | None], session_id: str) -> User | None:
    """Flask-Login's user loader in front of `loader` (gateway/auth/sessions.py): the
    member from this process's copy when it can be trusted, else `loader`'s row, which
    then refreshes the copy. Token and ended sessions are checked either way."""
    user_id, _, token = session_id.partition(":")
    cache: GateCache | None = current_app.extensions.get("gate_cache")
    if cache is None or not user_id.isdigit():
        return loader(session_id)
    copy = cache.get(int(user_id))
    if copy is None:
        generation = cache.generation
        user = loader(session_id)
        if user is not None:
            copy = cache.put(user, generation)
            if copy is not None and _copy_suffices_here():
                return cast(User, copy.member)  # its roles are kept from this request on
        return user
    if not hmac.compare_digest(copy.session_token, token) or sessions.refuse_if_ended(copy.ended):
        return None
    # A Member stands in for a User on a kept page (duck-typed: it has what Flask-Login
    # and the gate read, and loads the row for anything else).
    return cast(User, copy.member) if _copy_suffices_here() else copy.as_user()


#: Set on a view by `kept_pages.kept_page`: its page reads of the member only what the copy holds.
COPY_SUFFICES = "member_copy_suffices"


def _copy_suffices_here() -> bool:
    if not has_request_context() or request.url_rule is None:
        return False
    view = current_app.view_functions.get(request.url_rule.endpoint)
    return getattr(view, COPY_SUFFICES, False) is True


def install(app: Flask) -> None:
    """The per-process copy (unless GATE_CACHE_SECONDS is 0), its watcher, the user
    loader in front of the app's, and the listeners on the app's session."""
    # Flask-Login's manager is one per process, shared by every app in it: the loader is
    # set whatever this app's setting, and finds each app's copy (or none) by itself.
    login_manager.user_loader(lambda session_id: load_user(sessions.load, session_id))
    ttl = float(app.config["GATE_CACHE_SECONDS"])
    if ttl <= 0:
        app.extensions["gate_cache"] = None
        return
    cache = GateCache(ttl)
    with app.app_context():
        cache.watcher = watcher_for(db.engine, cache, app.config["DATABASE_LISTEN_URL"])
    app.extensions["gate_cache"] = cache
    for name, listener in LISTENERS.items():
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)


def _members_changed_in_flush(session: Session, flush_context: Any) -> None:
    """A change of the columns the copy holds, through the ORM, announces itself."""
    changed = set()
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, User):
            state: InstanceState[User] = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in WATCHED) or (
                obj in session.deleted
            ):
                changed.add(obj.id)
    members_changed(changed, session)


def _drop_own_copies(session: Session) -> None:
    changed = session.info.pop(CHANGED_MEMBERS, None)
    if not changed or not has_app_context():
        return
    cache = current_app.extensions.get("gate_cache")
    if cache is not None:
        for user_id in changed:
            cache.drop(user_id)


def _forget_changed(session: Session) -> None:
    session.info.pop(CHANGED_MEMBERS, None)


#: Bound to the app's session by `install` (the session class is shared by every app in
#: a process, so each listener finds its app's copy through current_app).
LISTENERS: dict[str, Callable[..., None]] = {
    "after_flush": _members_changed_in_flush,
    "after_commit": _drop_own_copies,
    "after_rollback": _forget_changed,
}
