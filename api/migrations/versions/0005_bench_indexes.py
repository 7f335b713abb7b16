"""indexes found missing by the inbox-at-scale benchmark (docs/BENCHMARKS.md)

Partial indexes over the open tasks only (a few percent of ``human_task``), one per way a task
reaches an inbox (assignee, candidate user, department, role, starter), so the inbox query
becomes a union of small index scans; the open tasks of an item (lights, item lists);
item lists newest first per status; the items of a department (index-only). The two full
inbox indexes of 0001 are dropped: they match almost every open task on ``assignee IS NULL``
or ``candidate_department IS NULL``, yet SQLite's planner (no value histograms) preferred
them to the partial ones; for the same reason the partial indexes leave out the NULLs of
their own column, so an ``IS NULL`` arm can never pick them.

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
    ("ix_human_task_open_assignee", "human_task", ["assignee"], OPEN + " AND assignee IS NOT NULL"),
    ("ix_human_task_open_candidate_user", "human_task", ["candidate_user"],
     OPEN + " AND candidate_user IS NOT NULL"),
    ("ix_human_task_open_department", "human_task", ["candidate_department", "due_at", "candidate_role"],
     UNOWNED + " AND candidate_department IS NOT NULL"),
    ("ix_human_task_open_role", "human_task", ["candidate_role", "due_at"],
     UNOWNED + " AND candidate_department IS NULL AND candidate_role IS NOT NULL"),
    ("ix_human_task_open_starter", "human_task", ["started_by"],
     UNOWNED + " AND candidate_department IS NULL AND candidate_role IS NULL"),
    ("ix_human_task_open_item", "human_task", ["business_key", "due_at"], OPEN),
    ("ix_item_status_created", "item", ["status", "created_at", "code"], None),
    ("ix_item_created", "item", ["created_at", "code"], None),
    ("ix_item_department_department_item", "item_department", ["department", "item_id"], None),
)


REPLACED = (("ix_human_task_inbox_dept", ["state", "candidate_department", "due_at"]),
            ("ix_human_task_inbox_assignee", ["state", "assignee", "due_at"]))


def upgrade():
    for name, table, columns, where in INDEXES:
        condition = sa.text(where) if where else None
        op.create_index(name, table, columns, postgresql_where=condition, sqlite_where=condition)
    for name, _columns in REPLACED:
        op.drop_index(name, table_name="human_task")


def downgrade():
    for name, columns in REPLACED:
        op.create_index(name, "human_task", columns)
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
