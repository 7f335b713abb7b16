"""indexes found missing by the inbox-at-scale benchmark (docs/BENCHMARKS.md)

Partial indexes over the open tasks only (a few percent of ``human_task``), one per way a task
reaches an inbox (assignee, candidate user, department, role, starter), so the inbox query
becomes a union of small index scans; the open tasks of an item (lights, item lists);
item lists newest first per status; the items of a department (index-only).

Revision ID: 0005_bench_indexes
Revises: 0003_api
Create Date: 2026-11-23 04:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0005_bench_indexes"
down_revision = "0003_api"
branch_labels = None
depends_on = None

OPEN = "state = 'open'"
UNOWNED = "state = 'open' AND assignee IS NULL AND candidate_user IS NULL"
# (name, table, columns, partial condition)
INDEXES = (
    ("ix_human_task_open_assignee", "human_task", ["assignee"], OPEN),
    ("ix_human_task_open_candidate_user", "human_task", ["candidate_user"], OPEN),
    ("ix_human_task_open_department", "human_task", ["candidate_department", "due_at"], UNOWNED),
    ("ix_human_task_open_role", "human_task", ["candidate_role", "due_at"],
     UNOWNED + " AND candidate_department IS NULL"),
    ("ix_human_task_open_starter", "human_task", ["started_by"],
     UNOWNED + " AND candidate_department IS NULL AND candidate_role IS NULL"),
    ("ix_human_task_open_item", "human_task", ["business_key", "due_at"], OPEN),
    ("ix_item_status_created", "item", ["status", "created_at", "code"], None),
    ("ix_item_created", "item", ["created_at", "code"], None),
    ("ix_item_department_department_item", "item_department", ["department", "item_id"], None),
)


def upgrade():
    for name, table, columns, where in INDEXES:
        condition = sa.text(where) if where else None
        op.create_index(name, table, columns, postgresql_where=condition, sqlite_where=condition)


def downgrade():
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
