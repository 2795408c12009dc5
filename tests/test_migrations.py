"""Migrations: one head, and the migrated schema equals the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate

from models import db


def test_single_head(app):
    """Do the migrations have exactly one head?"""
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_schema_matches_models(app):
    """Does upgrading an empty database give exactly the models' schema?"""
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "compare_server_default": False})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == []


def test_migrate_extension_is_bound(app):
    """Is Flask-Migrate bound to the project's top-level migrations folder?"""
    assert isinstance(app.extensions["migrate"].migrate, Migrate)
    assert app.extensions["migrate"].directory.endswith("migrations")
