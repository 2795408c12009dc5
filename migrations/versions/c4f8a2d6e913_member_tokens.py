"""member tokens: private feed addresses and personal access tokens (digests only)

Revision ID: c4f8a2d6e913
Revises: b7d2e91c4a10
Create Date: 2026-12-08 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4f8a2d6e913"
down_revision = "b7d2e91c4a10"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "member_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('feed', 'api')", name=op.f("ck_member_tokens_kind_known")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_member_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_member_tokens_digest")),
    )
    op.create_index(op.f("ix_member_tokens_user_id"), "member_tokens", ["user_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_member_tokens_user_id"), table_name="member_tokens")
    op.drop_table("member_tokens")
