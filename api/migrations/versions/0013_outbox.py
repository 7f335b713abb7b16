"""outbox: after-commit effects written in the command's own transaction (engine/outbox.py)

Revision ID: 0013_outbox
Revises: 0012_calendar_schedule
Create Date: 2026-12-01 12:30:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0013_outbox"
down_revision = "0012_calendar_schedule"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", engine.models.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("done_at", engine.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_instance_id", "outbox", ["instance_id"])


def downgrade():
    op.drop_index("ix_outbox_instance_id", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
