"""receipts: a number per paid payment from a gapless counter per series; payments.tax

Revision ID: e8d1f4a2b6c3
Revises: c4f8a2d6e913
Create Date: 2026-12-10 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e8d1f4a2b6c3"
down_revision = "c4f8a2d6e913"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "receipt_counters",
        sa.Column("series", sa.String(length=40), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_receipt_counters")),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("series", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seq > 0", name=op.f("ck_receipts_seq_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_receipts_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("number", name=op.f("uq_receipts_number")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_receipts_payment_id")),
        sa.UniqueConstraint("series", "seq", name=op.f("uq_receipts_series_seq")),
    )
    # Payments stored before this keep no tax (None: not said); their receipts are
    # numbered when first opened (gateway/receipts/document.py).
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax", sa.Numeric(precision=12, scale=2), nullable=True))


def downgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("tax")
    op.drop_table("receipts")
    op.drop_table("receipt_counters")
