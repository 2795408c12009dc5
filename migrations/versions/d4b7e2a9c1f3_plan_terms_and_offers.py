"""plan terms and offers: paid and second trials, a fixed number of payments, hidden offers

Revision ID: d4b7e2a9c1f3
Revises: c5f1a8d2e7b4
Create Date: 2026-12-07 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d4b7e2a9c1f3"
down_revision = "c5f1a8d2e7b4"
branch_labels = None
depends_on = None

CHECKS = {
    "trial_price_not_negative": "trial_price IS NULL OR trial_price >= 0",
    "trial2_count_positive": "trial2_count IS NULL OR trial2_count > 0",
    "trial2_unit_known": "trial2_unit IS NULL OR trial2_unit IN ('D', 'W', 'M', 'Y')",
    "trial2_price_not_negative": "trial2_price IS NULL OR trial2_price >= 0",
    "payment_count_positive": "payment_count IS NULL OR payment_count > 0",
}


def upgrade():
    with op.batch_alter_table("plans") as batch_op:
        batch_op.add_column(
            sa.Column("trial_price", sa.Numeric(precision=12, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column("trial2_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("trial2_unit", sa.String(length=1), nullable=True))
        batch_op.add_column(
            sa.Column("trial2_price", sa.Numeric(precision=12, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column("payment_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("offer_code", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("offer_visits", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_unique_constraint(batch_op.f("uq_plans_offer_code"), ["offer_code"])
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f"ck_plans_{name}"), condition)


def downgrade():
    with op.batch_alter_table("plans") as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(batch_op.f(f"ck_plans_{name}"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_plans_offer_code"), type_="unique")
        for column in (
            "offer_visits",
            "offer_code",
            "payment_count",
            "trial2_price",
            "trial2_unit",
            "trial2_count",
            "trial_price",
        ):
            batch_op.drop_column(column)
