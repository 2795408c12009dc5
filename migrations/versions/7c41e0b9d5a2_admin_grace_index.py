"""admin grace index: the "grace" view's rows found from one partial index

Rows with a grace date only (a renewal failed), on (access_until, paid_through, id): the
view's two range tests are both checked inside the index and its ids read from it
(gateway/admin/queries.py in_grace). Building it blocks writes to subscriptions while it
runs (seconds: only rows with a grace date are indexed).

Revision ID: 7c41e0b9d5a2
Revises: f3a9c1d7e2b5
Create Date: 2026-11-26 15:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7c41e0b9d5a2"
down_revision = "f3a9c1d7e2b5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_grace",
            ["access_until", "paid_through", "id"],
            unique=False,
            postgresql_where=sa.text("grace_until IS NOT NULL"),
            sqlite_where=sa.text("grace_until IS NOT NULL"),
        )


def downgrade():
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_subscriptions_grace",
            postgresql_where=sa.text("grace_until IS NOT NULL"),
            sqlite_where=sa.text("grace_until IS NOT NULL"),
        )
