"""item.doc_number: the 文号 the secretariat gave an item's notice (issue 17, item 7)

Revision ID: 0015_item_doc_number
Revises: 0014_task_return
Create Date: 2026-12-01 13:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0015_item_doc_number"
down_revision = "0014_task_return"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("item", sa.Column("doc_number", sa.String(length=100), nullable=True))


def downgrade():
    op.drop_column("item", "doc_number")
