"""drop item.light: lights are computed from the open tasks at query time

``item.light`` was written once, as ``green``, when an item was registered, and never changed
or read: an item's light is its worst open step's, computed from the ``human_task``
projection's due times and the clock when a list, page or report asks (``workflows.lights``,
``api.present``), so no job has to turn a stored light when time passes. The column could
only ever disagree with the item; it goes. The downgrade brings it back filled with the
value it always held.

Revision ID: 0010_drop_item_light
Revises: 0009_item_lists
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0010_drop_item_light"
down_revision = "0009_item_lists"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("light")


def downgrade():
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("light", sa.String(length=10), nullable=False, server_default="green"))

