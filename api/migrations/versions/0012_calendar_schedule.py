"""calendar_schedule: a year's holiday schedule as an admin entered it (issue 14)

Append-only: the newest row of a year is in force; ``id`` is the calendar's version that
every process compares to reload (engine.calendar).

Revision ID: 0012_calendar_schedule
Revises: 0011_accounts
Create Date: 2026-12-01 12:30:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0012_calendar_schedule"
down_revision = "0011_accounts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("working_days", sa.JSON(), nullable=False),
        sa.Column("entered_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=True),
        sa.Column("applied_at", engine.models.UTCDateTime(), nullable=True),
        sa.Column("applied_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_calendar_schedule_year", "calendar_schedule", ["year"])


def downgrade():
    op.drop_index("ix_calendar_schedule_year", table_name="calendar_schedule")
    op.drop_table("calendar_schedule")
