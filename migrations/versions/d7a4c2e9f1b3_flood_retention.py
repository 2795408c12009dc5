"""flood: unverified messages compacted after a retention period; refused POSTs counted

Revision ID: d7a4c2e9f1b3
Revises: d4b7e2a9c1f3
Create Date: 2026-12-07 08:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d7a4c2e9f1b3"
down_revision = "d4b7e2a9c1f3"
branch_labels = None
depends_on = None

UNVERIFIED_SQL = "status IN ('invalid', 'flagged') AND verified_at IS NULL AND compacted_at IS NULL"
COMPACTED_SQL = "compacted_at IS NOT NULL"


def upgrade():
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("compacted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("body_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("body_size", sa.Integer(), nullable=True))
    op.create_index(
        "ix_notifications_unverified",
        "notifications",
        ["received_at"],
        postgresql_where=sa.text(UNVERIFIED_SQL),
        sqlite_where=sa.text(UNVERIFIED_SQL),
    )
    op.create_index(
        "ix_notifications_compacted",
        "notifications",
        ["received_at"],
        postgresql_where=sa.text(COMPACTED_SQL),
        sqlite_where=sa.text(COMPACTED_SQL),
    )
    op.create_table(
        "intake_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_refusals")),
    )
    op.create_index("ix_intake_refusals_at", "intake_refusals", ["at"])


def downgrade():
    op.drop_index("ix_intake_refusals_at", table_name="intake_refusals")
    op.drop_table("intake_refusals")
    op.drop_index("ix_notifications_compacted", table_name="notifications")
    op.drop_index("ix_notifications_unverified", table_name="notifications")
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_column("body_size")
        batch_op.drop_column("body_sha256")
        batch_op.drop_column("compacted_at")
