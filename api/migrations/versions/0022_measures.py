"""measure_kind: the catalogue of accountability measures (一案双查, issue 16 item 4); a measure's
kind, points, answerable people, referral and interview record

Revision ID: 0022_measures
Revises: 0021_publish
Create Date: 2026-12-01 16:10:00
"""
from alembic import op
import sqlalchemy as sa

import engine.models


revision = "0022_measures"
down_revision = "0021_publish"
branch_labels = None
depends_on = None

# The first catalogue; the names the accountability DMN proposes (提醒约谈, 通报批评, 考核扣分,
# 问责建议) are names of these rows, which is how a proposal finds its kind.
SEED = [
    # code, name, points, referral, answerable, interview, position
    ("reminder_talk", "提醒约谈", 0, None, "owner", True, 10),
    ("public_review", "公开检讨", 1, None, "owner", False, 20),
    ("admonition_talk", "诫勉谈话", 2, None, "owner_and_leader", True, 30),
    ("circular", "通报批评", 2, None, "department", False, 40),
    ("deduction", "考核扣分", 3, None, "department", False, 50),
    ("no_awards", "取消评先", 5, None, "department", False, 60),
    ("discipline_referral", "问责建议", 5, "discipline", "owner_and_leader", False, 70),
    ("personnel_referral", "组织调整建议", 5, "personnel", "owner_and_leader", False, 80),
]


def upgrade():
    kind = op.create_table(
        "measure_kind",
        sa.Column("code", sa.String(length=50), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("referral", sa.String(length=50), nullable=True),
        sa.Column("answerable", sa.String(length=50), nullable=False),
        sa.Column("interview", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.bulk_insert(kind, [dict(code=c, name=n, points=p, referral=r, answerable=a, interview=i, active=True,
                               position=o) for c, n, p, r, a, i, o in SEED])
    with op.batch_alter_table("measure") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("points", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("people", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("proposed", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("referral", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("referral_instance_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("referral_result", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("referral_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("referral_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("referral_at", engine.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("interview", sa.JSON(), nullable=True))
    # Measures recorded before the catalogue: their kind by name.
    op.execute("UPDATE measure SET kind = (SELECT code FROM measure_kind WHERE measure_kind.name = measure.measure)")


def downgrade():
    with op.batch_alter_table("measure") as batch:
        for column in ("interview", "referral_at", "referral_by", "referral_note", "referral_result",
                       "referral_instance_id", "referral", "reason", "proposed", "people", "points", "kind"):
            batch.drop_column(column)
    op.drop_table("measure_kind")
