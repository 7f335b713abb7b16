"""item lists: item_department in list order; open tasks by due time

Item lists are newest first (created_at, then code, descending). A list confined to one
department used to walk ``item`` in that order, probing each item for the department: fine
for a department's open items, which are mostly recent, but with a rare filter (a light) it
probed tens of thousands of items for one page (docs/BENCHMARKS.md, inbox at scale). With the
item's created_at and code beside each department row, the department's rows are one index
range already in list order, and counting them never touches ``item``. Both copies never
change once the item is registered (the listener writes them with the row), unlike a light,
which stays computed from the open tasks at query time.

The two department indexes gain the order columns (and keep item_id last, so lists and scope
subqueries stay index-only); membership probes use the primary key (item_id, department).
The two ``item`` indexes in list order gain ``id`` last: counting open items with a light joins
their ids to the tasks due soon straight from the index (PostgreSQL: index-only instead of
reading every open item's row), and SQLite walks a list without reading the rows it skips.

``ix_human_task_open_due`` (due_at, business_key) over open tasks: the tasks due before a
moment (a red or yellow light) are one short index range, so PostgreSQL counts a light by
hashing those few business keys instead of scanning every open task of ``ix_human_task_open_item``.

Revision ID: 0009_item_lists
Revises: 0008_merge
Create Date: 2026-11-23 07:00:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0009_item_lists"
down_revision = "0008_merge"
branch_labels = None
depends_on = None

OPEN = "state = 'open'"
# (name, table, new columns, old columns)
INDEXES = (
    ("ix_item_department_department_status", "item_department",
     ["department", "status", "created_at", "code", "item_id"], ["department", "status", "item_id"]),
    ("ix_item_department_department_item", "item_department",
     ["department", "created_at", "code", "item_id"], ["department", "item_id"]),
    ("ix_item_status_created", "item", ["status", "created_at", "code", "id"], ["status", "created_at", "code"]),
    ("ix_item_created", "item", ["created_at", "code", "id"], ["created_at", "code"]),
)


def upgrade():
    with op.batch_alter_table("item_department", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_at", engine.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("code", sa.String(length=20), nullable=True))
    for column in ("created_at", "code"):
        op.execute(f"UPDATE item_department SET {column} = (SELECT item.{column} FROM item "
                   "WHERE item.id = item_department.item_id)")
    with op.batch_alter_table("item_department", schema=None) as batch_op:
        batch_op.alter_column("created_at", existing_type=engine.models.UTCDateTime(), nullable=False)
        batch_op.alter_column("code", existing_type=sa.String(length=20), nullable=False)
    for name, table, columns, _old in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
    op.create_index("ix_human_task_open_due", "human_task", ["due_at", "business_key"],
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    op.drop_index("ix_human_task_open_due", table_name="human_task")
    for name, table, _columns, old in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, old)
    with op.batch_alter_table("item_department", schema=None) as batch_op:
        batch_op.drop_column("code")
        batch_op.drop_column("created_at")
