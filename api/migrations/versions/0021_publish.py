"""publication: a month's ranking published to the public page (公示); complaint.reference,
the short code a complainant looks the complaint up with, and complaint_lookup, what the
per-address limit of look-ups counts; item.is_key (重点) and monthly_report (一月一调度) (issue 16)

Revision ID: 0021_publish
Revises: 0020_files
Create Date: 2026-12-01 16:00:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0021_publish"
down_revision = "0020_files"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "publication",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("circular", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.Column("published_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_by", sa.String(length=100), nullable=True),
        sa.Column("withdrawn_at", engine.models.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_publication_withdrawn_published", "publication", ["withdrawn_at", "published_at"])
    op.create_table(
        "complaint_lookup",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", engine.models.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_complaint_lookup_client", "complaint_lookup", ["client"])
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("is_key", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "monthly_report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.String(length=36), sa.ForeignKey("item.id"), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("opened_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("due_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("progress_of_month", sa.Text(), nullable=True),
        sa.Column("difficulties", sa.Text(), nullable=True),
        sa.Column("next_month_plan", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(length=100), nullable=True),
        sa.Column("submitted_at", engine.models.UTCDateTime(), nullable=True),
        sa.UniqueConstraint("item_id", "month"),
    )
    op.create_index("ix_monthly_report_item_id", "monthly_report", ["item_id"])
    with op.batch_alter_table("complaint") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=20), nullable=True))
        batch.create_index("ix_complaint_reference", ["reference"], unique=True)


def downgrade():
    with op.batch_alter_table("complaint") as batch:
        batch.drop_index("ix_complaint_reference")
        batch.drop_column("reference")
    op.drop_table("monthly_report")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("is_key")
    op.drop_table("complaint_lookup")
    op.drop_table("publication")
