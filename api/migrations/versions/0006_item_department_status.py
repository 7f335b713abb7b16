"""item_department.status: the item's status beside each of its departments

A department's item list filtered by status (the common "my open items") then reads one index
range (department, status, item_id) instead of joining every open item with every item of the
department (docs/BENCHMARKS.md, inbox at scale). Kept in step by the supervision listeners.

Revision ID: 0006_item_department_status
Revises: 0005_bench_indexes
Create Date: 2026-11-23 04:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0006_item_department_status"
down_revision = "0005_bench_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("item_department", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="open"))
    op.execute("UPDATE item_department SET status = (SELECT item.status FROM item "
               "WHERE item.id = item_department.item_id)")
    op.create_index("ix_item_department_department_status", "item_department",
                    ["department", "status", "item_id"])


def downgrade():
    op.drop_index("ix_item_department_department_status", table_name="item_department")
    with op.batch_alter_table("item_department", schema=None) as batch_op:
        batch_op.drop_column("status")
