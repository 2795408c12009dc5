"""Statuses as enums with CHECK constraints; notifications name their subscription by FK

Revision ID: b7e2c4d91a30
Revises: 0edc63bf638c
Create Date: 2026-11-26 10:40:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e2c4d91a30"
down_revision = "0edc63bf638c"
branch_labels = None
depends_on = None

# (table, column, constraint, allowed values) — the values of gateway/billing/rules/statuses.py
# as they are at this revision (a migration must not change when the code does).
CHECKS = [
    (
        "subscriptions",
        "state",
        "state_known",
        (
            "pending",
            "active",
            "suspended",
            "cancelled",
            "ended",
            "revoked",
            "refunded",
            "charged_back",
        ),
    ),
    (
        "payments",
        "status",
        "status_known",
        ("Completed", "Pending", "Partially_Refunded", "Refunded", "Reversed"),
    ),
    ("notifications", "channel", "channel_known", ("ipn", "webhook", "api", "csv")),
    (
        "notifications",
        "status",
        "status_known",
        ("pending", "retry", "deferred", "processed", "invalid", "flagged"),
    ),
    ("checkouts", "status", "status_known", ("open", "completed", "expired", "cancelled")),
    ("checkouts", "channel", "channel_known", ("standard", "rest")),
]


def upgrade():
    for table, column, name, values in CHECKS:
        allowed = ", ".join(f"'{v}'" for v in values)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"), f"{column} IN ({allowed})")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_subscription_id_subscriptions"),
            "subscriptions",
            ["subscription_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_subscription_id_subscriptions"), type_="foreignkey"
        )
    for table, _column, name, _values in reversed(CHECKS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
