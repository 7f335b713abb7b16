"""task_draft (暂存) and the index of a person's completed tasks (已办) (issue 17, item 6)

Revision ID: 0018_inbox
Revises: 0017_rectify
Create Date: 2026-12-01 15:10:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0018_inbox"
down_revision = "0017_rectify"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "task_draft",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("saved_at", engine.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "username"),
    )
    op.create_index("ix_human_task_completed_by", "human_task", ["completed_by", "completed_at"])


def downgrade():
    op.drop_index("ix_human_task_completed_by", table_name="human_task")
    op.drop_table("task_draft")
