"""lookback: 回头看 after closure — the lookback table, rebounds on items and problems (issue 15)

Revision ID: 0024_lookback
Revises: 0023_campaigns
Create Date: 2026-12-01 16:00:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0024_lookback"
down_revision = "0023_campaigns"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lookback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("new_deadline", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("checked_by", sa.String(length=100), nullable=True),
        sa.Column("checked_at", engine.models.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_lookback_record_id", "lookback", ["record_id"])
    op.create_index("ix_lookback_instance_id", "lookback", ["instance_id"])
    op.create_index("ux_lookback_pending", "lookback", ["record_id"], unique=True,
                    sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
    for table in ("item", "problem"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("rebounds", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    for table in ("item", "problem"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("rebounds")
    op.drop_table("lookback")
