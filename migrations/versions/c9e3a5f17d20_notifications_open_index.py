"""notifications open index: the messages a worker may claim, from a partial index

Only pending, retry and deferred rows, on (id): a claim reads the oldest due messages from
it however many were processed (with 1,000,000 processed and 3,000 pending, a claim walked
the whole primary key: 135 ms; with this index 0.04 ms). Building it reads the table once
and blocks writes to notifications while it runs (intake answers 503 meanwhile and PayPal
re-sends); the index itself stays as small as the backlog.

Revision ID: c9e3a5f17d20
Revises: b4d81e6f0c37
Create Date: 2026-12-04 18:35:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c9e3a5f17d20"
down_revision = "b4d81e6f0c37"
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'retry', 'deferred')"


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_open",
            ["id"],
            unique=False,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_notifications_open",
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )
