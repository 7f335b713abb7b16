"""durable timers: the shared simulated clock

Revision ID: 0002_timers
Revises: 0001
Create Date: 2026-11-23 04:00:00

The ``timer`` table already has its lease columns (0001); this adds ``clock_state``, the one
row that holds the simulated time every process reads.
"""
from alembic import op
import sqlalchemy as sa
import engine.models


revision = '0002_timers'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('clock_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('now_at', engine.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    op.drop_table('clock_state')
