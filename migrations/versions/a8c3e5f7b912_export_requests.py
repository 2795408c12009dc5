"""export requests: large admin exports written to a file by a job, with progress

Revision ID: a8c3e5f7b912
Revises: e2a7c9f4b1d3
Create Date: 2026-12-07 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a8c3e5f7b912"
down_revision = "e2a7c9f4b1d3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "export_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "ready",
                "failed",
                "expired",
                name="export_status_known",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("rows_expected", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("file_name", sa.String(length=120), nullable=True),
        sa.Column("file_bytes", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("download_name", sa.String(length=160), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_export_requests_requested_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_requests")),
    )
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.create_index("ix_export_requests_requested_at", ["requested_at"], unique=False)
        batch_op.create_index("ix_export_requests_status", ["status", "requested_at"], unique=False)


def downgrade():
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_export_requests_status")
        batch_op.drop_index("ix_export_requests_requested_at")
    op.drop_table("export_requests")
