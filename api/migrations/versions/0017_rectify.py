"""Escalations and measures of problems; the reviewed rectification plan (issue 15, items 1-2)

An escalation (and the measure confirmed on it) belongs to an item or a problem: ``item_id``
becomes nullable and ``problem_id`` is added. The problem keeps the plan's new fields (原因分析,
整改目标, milestones), its review state and whether it asks for more time than 整改时限.

Revision ID: 0017_rectify
Revises: 0016_cockpit
Create Date: 2026-12-01 15:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0017_rectify"
down_revision = "0016_cockpit"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("escalation", "measure"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("item_id", existing_type=sa.String(length=36), nullable=True)
            batch_op.add_column(sa.Column("problem_id", sa.String(length=36), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_problem_id"), ["problem_id"], unique=False)
            batch_op.create_foreign_key(f"fk_{table}_problem_id", "problem", ["problem_id"], ["id"])
    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_cause_analysis", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("plan_goal", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("plan_milestones", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("plan_state", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("plan_needs_extension", sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table("problem", schema=None) as batch_op:
        for column in ("plan_needs_extension", "plan_state", "plan_milestones", "plan_goal", "plan_cause_analysis"):
            batch_op.drop_column(column)
    for table in ("measure", "escalation"):
        op.execute(f"DELETE FROM {table} WHERE item_id IS NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_problem_id", type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{table}_problem_id"))
            batch_op.drop_column("problem_id")
            batch_op.alter_column("item_id", existing_type=sa.String(length=36), nullable=False)
