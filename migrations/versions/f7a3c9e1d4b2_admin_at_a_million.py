"""admin at a million: indexes for the messages list (type filter, subscription, id
prefixes, trigram search of the outcome on PostgreSQL) and for state filters sorted by a date;
on PostgreSQL the subscriptions' sort indexes and the grace index rebuilt to INCLUDE what the
admin views test, so a page's ids are read from the index alone

Revision ID: f7a3c9e1d4b2
Revises: a8c3e5f7b912
Create Date: 2026-12-07 09:15:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f7a3c9e1d4b2"
down_revision = "a8c3e5f7b912"
branch_labels = None
depends_on = None

STATE_SORTS = ("access_until", "paid_through", "started_at")
#: The admin sorts' (column, id) indexes, rebuilt on PostgreSQL to carry what the views and
#: filters test (INCLUDE): a page's ids are then read from the index alone.
COVER = ("access_until", "state", "plan_id", "user_id", "paid_through", "started_at")
SORT_INDEXES = {
    "ix_subscriptions_access_until": "access_until",
    "ix_subscriptions_started_at_id": "started_at",
    "ix_subscriptions_paid_through_id": "paid_through",
    "ix_subscriptions_state_id": "state",
    "ix_subscriptions_user_id_id": "user_id",
    "ix_subscriptions_plan_id_id": "plan_id",
}


def _rebuild_sort_indexes(include: bool) -> None:
    for name, column in SORT_INDEXES.items():
        extra = [c for c in COVER if c != column] if include else []
        op.drop_index(name, table_name="subscriptions")
        op.create_index(name, "subscriptions", [column, "id"], postgresql_include=extra)
    # The grace view's partial index: its few entries carry every sort's column.
    op.drop_index("ix_subscriptions_grace", table_name="subscriptions")
    op.create_index(
        "ix_subscriptions_grace",
        "subscriptions",
        ["access_until", "paid_through", "id"],
        postgresql_where=sa.text("grace_until IS NOT NULL"),
        postgresql_include=["state", "plan_id", "user_id", "started_at"] if include else [],
    )


def upgrade():
    op.create_index("ix_notifications_subscription", "notifications", ["subscription_id"])
    op.create_index(
        "ix_notifications_type_id",
        "notifications",
        ["txn_type", "id"],
        postgresql_include=["status"],
    )
    for column in ("txn_id", "subscr_id"):
        op.create_index(
            f"ix_notifications_{column}_pattern",
            "notifications",
            [column],
            postgresql_ops={column: "varchar_pattern_ops"},
        )
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the
        # database's owner may create it. SQLite gets a plain index (its LIKE scans).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_notifications_outcome_trgm",
        "notifications",
        ["outcome"],
        postgresql_using="gin",
        postgresql_ops={"outcome": "gin_trgm_ops"},
    )
    for column in STATE_SORTS:
        op.create_index(
            f"ix_subscriptions_state_{column}", "subscriptions", ["state", column, "id"]
        )
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_sort_indexes(include=True)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_sort_indexes(include=False)
    for column in STATE_SORTS:
        op.drop_index(f"ix_subscriptions_state_{column}", table_name="subscriptions")
    op.drop_index("ix_notifications_outcome_trgm", table_name="notifications")
    for column in ("txn_id", "subscr_id"):
        op.drop_index(f"ix_notifications_{column}_pattern", table_name="notifications")
    op.drop_index("ix_notifications_type_id", table_name="notifications")
    op.drop_index("ix_notifications_subscription", table_name="notifications")
