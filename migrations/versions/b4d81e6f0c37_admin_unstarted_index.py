"""admin unstarted index: the NULL piece of the "started" sort from one partial index

Rows without a start date only, on (state, id): the last page of a view sorted by start
(NULLs last) reads the rows with no start in id order, usually filtered by state; the
(started_at, id) index holds those in id order too, but with every pending row among
them, so a state with few unstarted rows (ended) walked them all (273 ms at 1,000,000
subscriptions). Building it blocks writes to subscriptions while it runs (seconds).

Revision ID: b4d81e6f0c37
Revises: 7c41e0b9d5a2
Create Date: 2026-12-04 17:35:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b4d81e6f0c37"
down_revision = "7c41e0b9d5a2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_unstarted",
            ["state", "id"],
            unique=False,
            postgresql_where=sa.text("started_at IS NULL"),
            sqlite_where=sa.text("started_at IS NULL"),
        )


def downgrade():
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_subscriptions_unstarted",
            postgresql_where=sa.text("started_at IS NULL"),
            sqlite_where=sa.text("started_at IS NULL"),
        )
