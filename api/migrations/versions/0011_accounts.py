"""accounts: department.active, api_token.via (web sessions are token rows), login_throttle

- ``department.active``: an inactive department takes no new members (rename/deactivate).
- ``api_token.via``: ``api`` or ``web``; a web page session is a token row too, so logging
  out, deactivating a user and changing a password end it on the server at once.
- ``login_throttle``: failed logins per username and per client address (wall time), shared
  by every process of the deployment.

Existing tokens are revoked: their expiry was written on the business clock, which a
simulated deployment may have moved days ahead of wall time. Everyone logs in once more.

Revision ID: 0011_accounts
Revises: 0010_drop_item_light
Create Date: 2026-12-01 11:00:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0011_accounts"
down_revision = "0010_drop_item_light"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("via", sa.String(length=10), nullable=False, server_default="api"))
    op.execute(sa.text("UPDATE api_token SET revoked = :yes").bindparams(yes=True))
    op.create_table(
        "login_throttle",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("last_failure_at", engine.models.UTCDateTime(), nullable=False),
        sa.Column("locked_until", engine.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kind", "key"),
    )


def downgrade():
    op.drop_table("login_throttle")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("via")
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_column("active")
