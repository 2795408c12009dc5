"""cancellation reasons: why a member cancelled, kept with the subscription

Revision ID: e1c7a9b3d5f2
Revises: d5e1f3a7b820
Create Date: 2026-12-02 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e1c7a9b3d5f2"
down_revision = "d5e1f3a7b820"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("cancel_note", sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("cancel_note")
        batch.drop_column("cancel_reason")
