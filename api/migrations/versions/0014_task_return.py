"""task_return: an open step sent back by its deciding step (issue 17, item 1)

Revision ID: 0014_task_return
Revises: 0013_outbox
Create Date: 2026-12-01 12:45:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0014_task_return"
down_revision = "0013_outbox"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "task_return",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("decision_task_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=400), nullable=False),
        sa.Column("returned_by", sa.String(length=100), nullable=False),
        sa.Column("returned_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous_task_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_task_return_instance_id", "task_return", ["instance_id"])


def downgrade():
    op.drop_index("ix_task_return_instance_id", table_name="task_return")
    op.drop_table("task_return")
