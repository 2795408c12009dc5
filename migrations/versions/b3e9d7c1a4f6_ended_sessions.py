"""ended sessions: a plain log-out ends this session (and every copy of its cookie) only

Revision ID: b3e9d7c1a4f6
Revises: a4c2e8f1b703
Create Date: 2026-12-10 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b3e9d7c1a4f6"
down_revision = "a4c2e8f1b703"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ended_sessions",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ended_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_ended_sessions")),
    )
    op.create_index(op.f("ix_ended_sessions_user_id"), "ended_sessions", ["user_id"])
    op.create_index(op.f("ix_ended_sessions_ended_at"), "ended_sessions", ["ended_at"])


def downgrade():
    op.drop_index(op.f("ix_ended_sessions_ended_at"), table_name="ended_sessions")
    op.drop_index(op.f("ix_ended_sessions_user_id"), table_name="ended_sessions")
    op.drop_table("ended_sessions")
