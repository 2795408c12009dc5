"""roles as data: roles, plan_roles (a plan grants one or more), access_rules, settings

Every distinct `plans.role` becomes a row of `roles` (titled from its name) and each
plan grants it through `plan_roles`; then `plans.role` is dropped. Downgrading puts back
one role per plan (the first by name) and refuses nothing: a plan that granted several
keeps only that one.

Revision ID: b7d2e91c4a10
Revises: f29f7b9a81ae
Create Date: 2026-12-07 04:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7d2e91c4a10"
down_revision = "f29f7b9a81ae"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_roles_name")),
    )
    op.create_table(
        "plan_roles",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_roles_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name=op.f("fk_plan_roles_role_id_roles")
        ),
        sa.PrimaryKeyConstraint("plan_id", "role_id", name=op.f("pk_plan_roles")),
    )
    op.create_index(op.f("ix_plan_roles_role_id"), "plan_roles", ["role_id"], unique=False)
    op.create_table(
        "access_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.String(length=400), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=True),
        sa.Column("who", sa.String(length=400), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_rules")),
        sa.UniqueConstraint("position", name=op.f("uq_access_rules_position")),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    # The plans' roles become rows; created_at is the oldest plan's naming it.
    op.execute(
        "INSERT INTO roles (name, title, description, created_at) "
        "SELECT role, upper(substr(role, 1, 1)) || substr(role, 2), '', min(created_at) "
        "FROM plans GROUP BY role"
    )
    op.execute(
        "INSERT INTO plan_roles (plan_id, role_id) "
        "SELECT plans.id, roles.id FROM plans JOIN roles ON roles.name = plans.role"
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("role")


def downgrade():
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE plans SET role = (SELECT min(roles.name) FROM plan_roles "
        "JOIN roles ON roles.id = plan_roles.role_id WHERE plan_roles.plan_id = plans.id)"
    )
    op.execute("UPDATE plans SET role = 'none' WHERE role IS NULL")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.alter_column("role", existing_type=sa.String(length=40), nullable=False)
    op.drop_table("settings")
    op.drop_table("access_rules")
    op.drop_index(op.f("ix_plan_roles_role_id"), table_name="plan_roles")
    op.drop_table("plan_roles")
    op.drop_table("roles")
