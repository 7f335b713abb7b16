"""Rectification problems (问题整改) and their reports: the domain's projection.

Written by the engine listeners in the same transaction as the instance they follow, so a
problem never disagrees with its process. Read by the ledger (问题台账) without loading workflows.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class Problem(Base):
    __tablename__ = "problem"
    __table_args__ = (sa.UniqueConstraint("year", "seq"),
                      sa.Index("ix_problem_ledger", "status", "department"))

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # = instance business key
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)      # ZG-2026-0001
    year: Mapped[int]
    seq: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(400))
    description: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(20), index=True)     # inspection|self_check|complaint|audit
    department: Mapped[str] = mapped_column(sa.String(100))
    deadline: Mapped[dt.date | None] = mapped_column(sa.Date)          # 整改时限, set at registration
    status: Mapped[str] = mapped_column(sa.String(20), default="open")  # open|closed|cancelled
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    complaint_id: Mapped[str | None] = mapped_column(sa.String(36))   # the 群众反映 clue it came from
    campaign_id: Mapped[int | None] = mapped_column(index=True)        # 专项行动 (0021), and its category
    category_id: Mapped[int | None]
    requirements: Mapped[str | None] = mapped_column(sa.Text)         # given at hand-over (移交)
    handed_over_at: Mapped[dt.datetime | None]
    plan_owner: Mapped[str | None] = mapped_column(sa.String(100))    # the department's plan (整改方案)
    plan_measures: Mapped[str | None] = mapped_column(sa.Text)
    plan_deadline: Mapped[dt.date | None] = mapped_column(sa.Date)
    plan_submitted_at: Mapped[dt.datetime | None]
    plan_cause_analysis: Mapped[str | None] = mapped_column(sa.Text)  # 原因分析 (0016)
    plan_goal: Mapped[str | None] = mapped_column(sa.Text)            # 整改目标
    plan_milestones: Mapped[list | None]                               # [{date, target}]
    plan_state: Mapped[str | None] = mapped_column(sa.String(20))     # submitted|approved|returned (审定)
    plan_needs_extension: Mapped[bool | None]                          # completion later than 整改时限
    created_by: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    rebounds: Mapped[int] = mapped_column(default=0, server_default="0")  # 回头看 found it rebounded (0021)


class ProblemReport(Base):
    """One rectification report (整改报告), and the verification (验收) that followed it, if any."""

    __tablename__ = "problem_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[str] = mapped_column(sa.ForeignKey("problem.id"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    summary: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[str | None] = mapped_column(sa.Text)
    done: Mapped[bool]
    due_at: Mapped[dt.datetime | None]
    submitted_by: Mapped[str] = mapped_column(sa.String(100))
    submitted_at: Mapped[dt.datetime]
    passed: Mapped[bool | None]
    findings: Mapped[str | None] = mapped_column(sa.Text)
    verified_by: Mapped[str | None] = mapped_column(sa.String(100))
    verified_at: Mapped[dt.datetime | None]
