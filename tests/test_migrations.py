"""Migrations: one head, the migrated schema equals the models, and its constraints bite."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from models import db


def test_single_head(app):
    """Do the migrations have exactly one head?"""
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_schema_matches_models(app):
    """Does upgrading an empty database give exactly the models' schema?"""
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        diff = compare_metadata(ctx, db.metadata)
    assert diff == []


def test_migrate_extension_is_bound(app):
    """Is Flask-Migrate bound to the project's top-level migrations folder?"""
    assert isinstance(app.extensions["migrate"].migrate, Migrate)
    assert app.extensions["migrate"].directory.endswith("migrations")


def test_flask_db_commands_load_on_demand(app):
    """Does `flask db` find Flask-Migrate's own commands (bound when first looked up)?"""
    result = app.test_cli_runner().invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
    assert "Context impl" in result.output  # Alembic ran against the app's database
    listed = app.test_cli_runner().invoke(args=["db", "--help"])
    assert "upgrade" in listed.output and "--directory" in listed.output


STATUS_COLUMNS = [
    ("subscriptions", "state"),
    ("payments", "status"),
    ("notifications", "status"),
    ("notifications", "channel"),
    ("checkouts", "status"),
    ("checkouts", "channel"),
]


@pytest.fixture
def one_of_each(db, clock, make_user, make_plan, make_subscription):
    """A row in every table that has a status column."""
    from gateway.billing.rules.statuses import Channel, PaymentStatus
    from gateway.checkout.journal import open_checkout
    from gateway.pipeline import intake
    from models import Payment

    member, plan = make_user(), make_plan("premium-monthly")
    sub = make_subscription(member, plan, paypal_id="I-CHECKS")
    db.session.add(
        Payment(
            subscription_id=sub.id,
            txn_id="T-CHECKS",
            status=PaymentStatus.COMPLETED,
            amount=Decimal("9.00"),
            currency="USD",
            paid_at=clock.now(),
            created_at=clock.now(),
        )
    )
    open_checkout(member, plan, clock.now())
    db.session.commit()
    intake.store(Channel.IPN, b"txn_type=x", {}, None, clock.now())
    return sub


@pytest.mark.parametrize("table,column", STATUS_COLUMNS)
def test_the_database_refuses_an_unknown_status(db, one_of_each, table, column):
    """Does the migrated schema's CHECK refuse a status no enum defines, on every database?"""
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = 'bogus'"))


def test_a_notification_cannot_name_a_missing_subscription(db, one_of_each):
    """Is the notification -> subscription link a real foreign key?"""
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text("UPDATE notifications SET subscription_id = 999999"))


def test_an_unknown_status_fails_before_the_database(db, one_of_each):
    """Is a typo'd status refused by the model itself, with the allowed values named?"""
    one_of_each.state = "actve"
    with pytest.raises(Exception, match="actve"):
        db.session.flush()
    db.session.rollback()
