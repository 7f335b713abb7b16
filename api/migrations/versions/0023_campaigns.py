"""campaigns: 专项行动 / 巡察轮次 with scope, categories and stages; problems and items may belong to one (issue 15)

Revision ID: 0023_campaigns
Revises: 0022_measures
Create Date: 2026-12-01 16:00:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0023_campaigns"
down_revision = "0022_measures"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", engine.models.UTCDateTime(), nullable=False),
    )
    op.create_table(
        "campaign_department",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), primary_key=True),
        sa.Column("department", sa.String(length=100), primary_key=True),
    )
    op.create_index("ix_campaign_department_department", "campaign_department", ["department"])
    op.create_table(
        "campaign_category",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("campaign_category.id"), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_campaign_category_campaign_id", "campaign_category", ["campaign_id"])
    op.create_table(
        "campaign_stage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_campaign_stage_campaign_id", "campaign_stage", ["campaign_id"])
    for table in ("problem", "item"):
        # No foreign keys: SQLite cannot add one to an existing table without a rebuild, and the
        # commands check the references (a category of the campaign, a department in its scope).
        op.add_column(table, sa.Column("campaign_id", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("category_id", sa.Integer(), nullable=True))
        op.create_index(f"ix_{table}_campaign_id", table, ["campaign_id"])


def downgrade():
    for table in ("problem", "item"):
        op.drop_index(f"ix_{table}_campaign_id", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("category_id")
            batch.drop_column("campaign_id")
    op.drop_table("campaign_stage")
    op.drop_table("campaign_category")
    op.drop_table("campaign_department")
    op.drop_table("campaign")
