"""Flask-Migrate, bound on first use.

Importing Flask-Migrate imports Alembic, Mako and Pygments: about 10 MB in every
process, a tenth of a web worker, yet only `flask db …`, the schema set-up of the tests
and benchmarks (`flask_migrate.upgrade()`) and `/readyz` need them. So the factory
binds two stand-ins instead of `Migrate(app, db)`:

- `app.extensions["migrate"]` is a `_Deferred` that binds the real extension the first
  time anything reads it (Flask-Migrate's functions and `migrations/env.py` do);
- `app.cli` is a `_Commands` group that binds it when the CLI looks up `db`, so the
  real command group, with its own options, is what runs.

Binding replaces both stand-ins with Flask-Migrate's own objects.

Off switch: `"lazy_migrate"` in `FASTPATH_OFF` (`Migrate(app, db)` at start-up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

DIRECTORY = str(Path(__file__).resolve().parents[2] / "migrations")
COMMAND = "db"


def install(app: Flask, lazy: bool) -> None:
    """Bind Flask-Migrate on first use (`lazy`), or now."""
    if not lazy:
        bind(app)
        return
    app.extensions["migrate"] = _Deferred(app)
    commands = _Commands(app)
    commands.commands.update(app.cli.commands)  # anything registered before us
    app.cli = commands


def bind(app: Flask) -> Any:
    """Flask-Migrate's configuration object for `app`, binding it if not yet bound."""
    found = app.extensions.get("migrate")
    if found is not None and not isinstance(found, _Deferred):
        return found
    from flask_migrate import Migrate

    from models import db

    Migrate(app, db, directory=DIRECTORY, command=COMMAND)
    return app.extensions["migrate"]


class _Deferred:
    def __init__(self, app: Flask) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(bind(self._app), name)


class _Commands(AppGroup):
    def __init__(self, app: Flask) -> None:
        super().__init__()
        self._app = app

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), COMMAND})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == COMMAND:
            bind(self._app)  # Migrate.init_app adds its `db` group to this one
        return super().get_command(ctx, cmd_name)
