"""payment payer name: the name PayPal reports with a payment, for the receipt

Revision ID: c5f1a8d2e7b4
Revises: b3e9d7c1a4f6
Create Date: 2026-12-07 07:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c5f1a8d2e7b4"
down_revision = "b3e9d7c1a4f6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(sa.Column("payer_name", sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_column("payer_name")
