"""merge heads

Revision ID: 0008_merge
Revises: 0006_item_department_status, 0007_periodic
Create Date: 2026-11-23 04:59:18.524400
"""
from alembic import op
import sqlalchemy as sa
import engine.models


revision = '0008_merge'
down_revision = ('0006_item_department_status', '0007_periodic')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
