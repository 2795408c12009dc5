"""flags keyset indexes: the flags queue and reconciliation's differences, newest first

The admin flags tables are keyset-paged on (created_at, id), newest first. The open queue
(and reconciliation's open differences) read `ix_flags_open`, now a partial index of the
unresolved flags on (created_at, id): PostgreSQL cannot use the old (resolved_at,
created_at) for the order under `resolved_at IS NULL`, and the partial one also stays as
small as the queue. The resolved and "all" tabs walk `ix_flags_created_at_id`. Building
them blocks writes to flags while it runs (flags are few: seconds).

Revision ID: f29f7b9a81ae
Revises: c9e3a5f17d20
Create Date: 2026-12-10 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f29f7b9a81ae"
down_revision = "c9e3a5f17d20"
branch_labels = None
depends_on = None

OPEN = "resolved_at IS NULL"


def upgrade():
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_index("ix_flags_open")
        batch_op.create_index(
            "ix_flags_open",
            ["created_at", "id"],
            unique=False,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )
        batch_op.create_index("ix_flags_created_at_id", ["created_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_index("ix_flags_created_at_id")
        batch_op.drop_index(
            "ix_flags_open", postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN)
        )
        batch_op.create_index("ix_flags_open", ["resolved_at", "created_at"], unique=False)
