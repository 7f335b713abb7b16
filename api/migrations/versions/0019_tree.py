"""department tree: department.parent_code and the materialised path (issue 16, item 1)

``path`` is the codes from the root down, each between slashes ("/city/countyA/bureau1/"): a
subtree is one indexed prefix range (``path LIKE '/city/countyA/%'``) on SQLite and PostgreSQL
alike. The existing flat departments become one level of roots: path "/code/".

Revision ID: 0019_tree
Revises: 0018_inbox
Create Date: 2026-12-01 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0019_tree"
down_revision = "0018_inbox"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("department") as batch:
        batch.add_column(sa.Column("parent_code", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("path", sa.String(length=1000), nullable=True))
        batch.create_foreign_key("fk_department_parent", "department", ["parent_code"], ["code"])
    op.execute("UPDATE department SET path = '/' || code || '/'")
    with op.batch_alter_table("department") as batch:
        batch.alter_column("path", existing_type=sa.String(length=1000), nullable=False)
    # text_pattern_ops: PostgreSQL uses a btree for LIKE 'prefix%' only with it (or the C collation).
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_department_path", "department", [sa.text("path text_pattern_ops")])
    else:
        op.create_index("ix_department_path", "department", ["path"])
    op.create_index("ix_department_parent", "department", ["parent_code"])


def downgrade():
    op.drop_index("ix_department_parent", table_name="department")
    op.drop_index("ix_department_path", table_name="department")
    with op.batch_alter_table("department") as batch:
        batch.drop_constraint("fk_department_parent", type_="foreignkey")
        batch.drop_column("path")
        batch.drop_column("parent_code")
