"""file: evidence uploads (佐证材料), their blobs content-addressed under [files] dir (issue 15)

Revision ID: 0020_files
Revises: 0019_tree
Create Date: 2026-12-01 15:20:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0020_files"
down_revision = "0019_tree"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "file",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("uploader", sa.String(length=100), nullable=True),
        sa.Column("created_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("attached_at", engine.models.UTCDateTime(), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("record_id", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_file_sha256", "file", ["sha256"])
    op.create_index("ix_file_instance_id", "file", ["instance_id"])
    op.create_index("ix_file_record_id", "file", ["record_id"])
    op.create_index("ix_file_orphans", "file", ["attached_at", "created_at"])


def downgrade():
    op.drop_table("file")
