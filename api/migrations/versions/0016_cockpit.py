"""human_task: department steps by due time (the month's ranking, read by the cockpit)

The ranking (月度排名, and the cockpit's ranking ends on every visit) counts the department
steps due in a month whatever their state (``reports._step_counts``). No index held completed
steps by due time, so each count scanned all of ``human_task``: 52 ms at 100,000 rows on
PostgreSQL, growing with the history. ``ix_human_task_department_due`` (due_at,
candidate_department) over department steps makes the month one index range.

Revision ID: 0016_cockpit
Revises: 0015_item_doc_number
Create Date: 2026-12-01 15:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0016_cockpit"
down_revision = "0015_item_doc_number"
branch_labels = None
depends_on = None

WHERE = "candidate_department IS NOT NULL"


def upgrade():
    op.create_index("ix_human_task_department_due", "human_task", ["due_at", "candidate_department"],
                    postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE))


def downgrade():
    op.drop_index("ix_human_task_department_due", table_name="human_task")
