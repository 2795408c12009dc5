"""plan kind: a pass (paid once, a fixed term or lifetime) beside a subscription

Revision ID: d4a7c2e9f1b6
Revises: d7a4c2e9f1b3
Create Date: 2026-12-07 08:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d4a7c2e9f1b6"
down_revision = "d7a4c2e9f1b3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("plans") as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum(
                    "subscription",
                    "pass",
                    name="kind_known",
                    native_enum=False,
                    create_constraint=True,
                    length=12,
                ),
                nullable=False,
                server_default="subscription",
            )
        )
        batch_op.add_column(
            sa.Column("lifetime", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_check_constraint("lifetime_is_a_pass", "NOT lifetime OR kind = 'pass'")


def downgrade():
    with op.batch_alter_table("plans") as batch_op:
        batch_op.drop_constraint("lifetime_is_a_pass", type_="check")
        # The enum's own CHECK, by name: SQLite's table copy would keep it, naming a column
        # that is gone, and the next migration's copy of the table would fail.
        batch_op.drop_constraint(batch_op.f("ck_plans_kind_known"), type_="check")
        batch_op.drop_column("lifetime")
        batch_op.drop_column("kind")
