"""subscription_facts.member_note: what a revoke tells the member, apart from the
internal reason (`note`), which stays with the admins

Revision ID: d5e1f3a7b820
Revises: e8d1f4a2b6c3
Create Date: 2026-12-10 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d5e1f3a7b820"
down_revision = "e8d1f4a2b6c3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscription_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_note", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("subscription_facts", schema=None) as batch_op:
        batch_op.drop_column("member_note")
