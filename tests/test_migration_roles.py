"""The roles-as-data migration moves data: each plan's `role` becomes a row of `roles`
and a link in `plan_roles`; downgrading puts `plans.role` back."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from gateway import create_app
from gateway.database import dispose_engines
from models import db
from models.types import Money, UTCDateTime

from .conftest import CONFIG, T0
from .databases import throwaway_database

BEFORE, ROLES = "f29f7b9a81ae", "b7d2e91c4a10"

plans = sa.table(
    "plans",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("role", sa.String),
    sa.column("price", Money()),
    sa.column("currency", sa.String),
    sa.column("period_count", sa.Integer),
    sa.column("period_unit", sa.String),
    sa.column("active", sa.Boolean),
    sa.column("created_at", UTCDateTime()),
)


@pytest.fixture
def empty_url(request, tmp_path):
    """A database with no tables: a SQLite file, or a throwaway PostgreSQL database."""
    server = request.config.getoption("--db-url")
    with throwaway_database(server, tmp_path / "migrate.sqlite", "tollgate_mig") as url:
        yield url


@pytest.fixture
def old_app(empty_url, tmp_path):
    """The app's migrations on the empty database, upgraded to just before roles."""
    app = create_app(CONFIG | {"SQLALCHEMY_DATABASE_URI": empty_url}, instance_path=str(tmp_path))
    with app.app_context():
        upgrade(revision=BEFORE)
        yield app
        db.session.remove()
        dispose_engines(app)


def rows(sql: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_plans_roles_become_rows_and_come_back(old_app):
    """Upgrading: one role per distinct name, titled, dated by its oldest plan; each plan
    linked to its role; `plans.role` gone. Downgrading: `plans.role` as it was."""
    with db.engine.begin() as conn:
        for i, (code, role) in enumerate(
            [("premium-monthly", "premium"), ("premium-yearly", "premium"), ("pro", "pro")]
        ):
            conn.execute(
                sa.insert(plans).values(
                    id=i + 1, code=code, name=code, role=role, price=Decimal("9.00"),
                    currency="USD", period_count=1, period_unit="M", active=True,
                    created_at=T0.replace(day=i + 1),
                )
            )  # fmt: skip
    upgrade(revision=ROLES)
    assert rows("SELECT name, title, description FROM roles ORDER BY name") == [
        ("premium", "Premium", ""),
        ("pro", "Pro", ""),
    ]
    assert rows(
        "SELECT plans.code, roles.name FROM plan_roles JOIN plans ON plans.id = plan_id "
        "JOIN roles ON roles.id = role_id ORDER BY plans.code"
    ) == [("premium-monthly", "premium"), ("premium-yearly", "premium"), ("pro", "pro")]
    with db.engine.connect() as conn:
        created = conn.execute(
            sa.select(sa.column("created_at", UTCDateTime()))
            .select_from(sa.table("roles"))
            .where(sa.text("name = 'premium'"))
        ).scalar_one()
    assert created == T0.replace(day=1)  # the oldest plan naming it
    assert "role" not in {c["name"] for c in sa.inspect(db.engine).get_columns("plans")}
    assert rows("SELECT count(*) FROM access_rules") == [(0,)]

    downgrade(revision=BEFORE)
    assert rows("SELECT code, role FROM plans ORDER BY code") == [
        ("premium-monthly", "premium"),
        ("premium-yearly", "premium"),
        ("pro", "pro"),
    ]
    assert not {"roles", "plan_roles", "access_rules", "settings"} & set(
        sa.inspect(db.engine).get_table_names()
    )


def test_downgrade_keeps_one_role_of_several_and_names_a_roleless_plan(old_app):
    """A plan granting several roles keeps the first by name; one granting none gets
    'none' (the old column is NOT NULL)."""
    upgrade()
    with db.engine.begin() as conn:
        for i, code in enumerate(["bundle", "bare"]):
            conn.execute(
                sa.insert(plans).values(
                    id=i + 1, code=code, name=code, price=Decimal("9.00"), currency="USD",
                    period_count=1, period_unit="M", active=True, created_at=T0,
                )
            )  # fmt: skip
        conn.execute(
            sa.text(
                "INSERT INTO roles (id, name, title, description, created_at) VALUES "
                "(1, 'pro', 'Pro', '', :t), (2, 'premium', 'Premium', '', :t)"
            ),
            {"t": T0.replace(tzinfo=None)},
        )
        conn.execute(sa.text("INSERT INTO plan_roles (plan_id, role_id) VALUES (1, 1), (1, 2)"))
    downgrade(revision=BEFORE)
    assert rows("SELECT code, role FROM plans ORDER BY code") == [
        ("bare", "none"),
        ("bundle", "premium"),
    ]
