"""hanging messages: a refund matched to a payment by an admin, INVALID answers by time,
item names as plan identifiers

- notifications.matched_txn_id: the payment an admin matched a refund or reversal to, whose
  own parent never arrived (gateway/pipeline/waiting.py).
- ix_notifications_invalid: INVALID answers by processed_at, partial (status = 'invalid'),
  for the status page's and /metrics' count of them (gateway/ops/invalid_answers.py).
- plan_identifiers.kind may be 'item_name' (gateway/subscriptions/plan_identity.py).

Revision ID: e2a7c9f4b1d3
Revises: d4a7c2e9f1b6
Create Date: 2026-12-07 08:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e2a7c9f4b1d3"
down_revision = "d4a7c2e9f1b6"
branch_labels = None
depends_on = None

INVALID = sa.text("status = 'invalid'")
# The kinds as they are at this revision (a migration must not change when the code does).
KINDS_BEFORE = ("item_number", "button", "rest_plan", "profile")
KINDS_AFTER = (*KINDS_BEFORE, "item_name")


def _kinds(values: tuple[str, ...]) -> str:
    return "kind IN ({})".format(", ".join(f"'{v}'" for v in values))


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("matched_txn_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_notifications_invalid",
            ["processed_at"],
            unique=False,
            postgresql_where=INVALID,
            sqlite_where=INVALID,
        )
    with op.batch_alter_table("plan_identifiers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_plan_identifiers_kind_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_plan_identifiers_kind_known"), _kinds(KINDS_AFTER)
        )


def downgrade():
    op.execute(sa.text("DELETE FROM plan_identifiers WHERE kind = 'item_name'"))
    with op.batch_alter_table("plan_identifiers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_plan_identifiers_kind_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_plan_identifiers_kind_known"), _kinds(KINDS_BEFORE)
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_notifications_invalid", postgresql_where=INVALID, sqlite_where=INVALID
        )
        batch_op.drop_column("matched_txn_id")
