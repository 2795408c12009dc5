"""dashboard snapshots: the admin dashboard's numbers, counted by a job, read by the page

Revision ID: f3a9c1d7e2b5
Revises: d2b4e64aa8c0
Create Date: 2026-11-27 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f3a9c1d7e2b5"
down_revision = "d2b4e64aa8c0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dashboard_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("lapsing_days", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_snapshots")),
    )
    with op.batch_alter_table("dashboard_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_dashboard_snapshots_computed_at", ["computed_at"], unique=False)


def downgrade():
    with op.batch_alter_table("dashboard_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_snapshots_computed_at")
    op.drop_table("dashboard_snapshots")
