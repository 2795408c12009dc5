"""cancel reason index: the dashboard counts why members cancel from an index

Revision ID: a4c2e8f1b703
Revises: e1c7a9b3d5f2
Create Date: 2026-12-03 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a4c2e8f1b703"
down_revision = "e1c7a9b3d5f2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_subscriptions_cancel_reason",
        "subscriptions",
        ["cancelled_at", "cancel_reason"],
        postgresql_where=sa.text("cancel_reason IS NOT NULL"),
        sqlite_where=sa.text("cancel_reason IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_subscriptions_cancel_reason", table_name="subscriptions")
