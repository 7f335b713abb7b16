"""Supervision items (督办事项), plans, reports, escalations, measures, notifications: the domain's projection.

Written by the engine listeners in the same transaction as the instance they follow, so an
item never disagrees with its process. Read by lists and reports without loading workflows.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base
import workflows.rectification.models  # noqa: F401 (the problem table that escalations and measures name)


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (sa.UniqueConstraint("year", "seq"),
                      sa.Index("ix_item_list", "status", "department"),
                      # list order; id last, so joins to tasks and skipped rows stay in the index (0009)
                      sa.Index("ix_item_status_created", "status", "created_at", "code", "id"),
                      sa.Index("ix_item_created", "created_at", "code", "id"))

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # = instance business key
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)      # DB-2026-0007
    year: Mapped[int]
    seq: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(400))
    basis: Mapped[str | None] = mapped_column(sa.String(100))
    department: Mapped[str] = mapped_column(sa.String(100))
    co_departments: Mapped[list] = mapped_column(default=list)
    leader: Mapped[str] = mapped_column(sa.String(100))
    deadline: Mapped[dt.date | None] = mapped_column(sa.Date)
    requirements: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")  # open|closed|cancelled
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    rebounds: Mapped[int] = mapped_column(default=0, server_default="0")  # 回头看 found it rebounded (0021)
    rating: Mapped[str | None] = mapped_column(sa.String(20))
    campaign_id: Mapped[int | None] = mapped_column(index=True)  # 专项行动 (0021), and its category
    category_id: Mapped[int | None]
    # 文号 as the secretariat set it; none: the notice prints 督办〔year〕seq号 (management.doc_number)
    doc_number: Mapped[str | None] = mapped_column(sa.String(100))
    # 重点: a key item gets a monthly report task (一月一调度, workflows.supervision.monthly)
    is_key: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class ItemDepartment(Base):
    """Which departments take part in an item: the lead (主办) and co-departments (协办)."""

    __tablename__ = "item_department"
    # A department's items in list order (newest first), index-only with item_id last (migration 0009).
    __table_args__ = (sa.Index("ix_item_department_department_item", "department", "created_at", "code", "item_id"),
                      sa.Index("ix_item_department_department_status", "department", "status", "created_at", "code",
                               "item_id"))

    item_id: Mapped[str] = mapped_column(sa.ForeignKey("item.id"), primary_key=True)
    department: Mapped[str] = mapped_column(sa.String(100), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(sa.String(10))  # lead | co
    # The item's status, copied so "a department's open items" is one index range; kept in step
    # by the supervision listeners.
    status: Mapped[str] = mapped_column(sa.String(20), default="open", server_default="open")
    # The item's created_at and code (never changed after registration), copied so a
    # department's items are one index range in list order.
    created_at: Mapped[dt.datetime]
    code: Mapped[str] = mapped_column(sa.String(20))


class ItemPlan(Base):
    """One submitted work plan; a returned plan stays, with its leader's comment."""

    __tablename__ = "item_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(sa.ForeignKey("item.id"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    owner: Mapped[str] = mapped_column(sa.String(100))
    milestones: Mapped[list]
    measures: Mapped[str] = mapped_column(sa.Text)
    expected_result: Mapped[str] = mapped_column(sa.Text)
    submitted_by: Mapped[str] = mapped_column(sa.String(100))
    submitted_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(sa.String(20), default="submitted")  # submitted|approved|returned|filed|changed
    change_reason: Mapped[str | None] = mapped_column(sa.Text)  # set on a plan adopted by a 计划调整
    decision_comment: Mapped[str | None] = mapped_column(sa.Text)
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))
    filed_at: Mapped[dt.datetime | None]


class ItemReport(Base):
    """One progress report (进度反馈), and the recheck (复查) result when one followed it."""

    __tablename__ = "item_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(sa.ForeignKey("item.id"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    department: Mapped[str] = mapped_column(sa.String(100))
    progress: Mapped[int]
    summary: Mapped[str] = mapped_column(sa.Text)
    done: Mapped[bool]
    completion_report: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[dt.datetime | None]
    submitted_by: Mapped[str] = mapped_column(sa.String(100))
    submitted_at: Mapped[dt.datetime]
    recheck_passed: Mapped[bool | None]
    recheck_findings: Mapped[str | None] = mapped_column(sa.Text)


class Escalation(Base):
    """An overdue step (逾期督办) of an item or a problem: opened when the step's escalation timer
    fires, handled by a supervisor.

    ``level`` is the department's count of overdue steps in the year of ``overdue_since``
    (this one included), items' and problems' steps alike: the rung of the accountability ladder. The unique constraint makes
    two escalations racing for the same rung collide; the loser's unit of work is retried
    and counts again.
    """

    __tablename__ = "escalation"
    __table_args__ = (sa.UniqueConstraint("department", "year", "level"),
                      sa.Index("ix_escalation_state", "state", "overdue_since"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # the record whose step is overdue: an item or a problem (one of the two is null; 0016)
    item_id: Mapped[str | None] = mapped_column(sa.ForeignKey("item.id"), index=True)
    problem_id: Mapped[str | None] = mapped_column(sa.ForeignKey("problem.id", name="fk_escalation_problem_id"),
                                                   index=True)
    instance_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    task_id: Mapped[str | None] = mapped_column(sa.String(36))          # the overdue step's task
    task_key: Mapped[str] = mapped_column(sa.String(200))
    handle_task_id: Mapped[str | None] = mapped_column(sa.String(36), unique=True)  # handle_escalation
    department: Mapped[str] = mapped_column(sa.String(100))
    year: Mapped[int]
    overdue_since: Mapped[dt.datetime]
    level: Mapped[int]
    proposed_measure: Mapped[str | None] = mapped_column(sa.String(100))
    state: Mapped[str] = mapped_column(sa.String(20), default="open")  # open|handled|cancelled
    created_at: Mapped[dt.datetime]
    handled_by: Mapped[str | None] = mapped_column(sa.String(100))
    handled_at: Mapped[dt.datetime | None]
    action: Mapped[str | None] = mapped_column(sa.String(20))  # remind|extend|reassign|accountability
    comment: Mapped[str | None] = mapped_column(sa.Text)
    new_due: Mapped[dt.datetime | None]                        # extend
    reassigned_to: Mapped[str | None] = mapped_column(sa.String(100))  # reassign


class Measure(Base):
    """An accountability measure (问责措施) a supervisor confirmed: what the annual assessment counts."""

    __tablename__ = "measure"
    __table_args__ = (sa.Index("ix_measure_department_year", "department", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(sa.String(100))
    year: Mapped[int]
    measure: Mapped[str] = mapped_column(sa.String(100))
    item_id: Mapped[str | None] = mapped_column(sa.ForeignKey("item.id"), index=True)  # or:
    problem_id: Mapped[str | None] = mapped_column(sa.ForeignKey("problem.id", name="fk_measure_problem_id"),
                                                   index=True)
    escalation_id: Mapped[int] = mapped_column(sa.ForeignKey("escalation.id"), unique=True)
    recorded_by: Mapped[str] = mapped_column(sa.String(100))
    at: Mapped[dt.datetime]
    # 0021 (一案双查): the catalogue entry chosen, its points, who answers, why another than proposed
    kind: Mapped[str | None] = mapped_column(sa.String(50))
    points: Mapped[int] = mapped_column(default=0, server_default="0")
    people: Mapped[list | None]          # [{"who": username or name, "as": "owner" | "leader"}]
    proposed: Mapped[str | None] = mapped_column(sa.String(100))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # a referral to 纪检 / 人事: the role, its process instance, and the result it recorded
    referral: Mapped[str | None] = mapped_column(sa.String(50))
    referral_instance_id: Mapped[str | None] = mapped_column(sa.String(36))
    referral_result: Mapped[str | None] = mapped_column(sa.String(50))
    referral_note: Mapped[str | None] = mapped_column(sa.Text)
    referral_by: Mapped[str | None] = mapped_column(sa.String(100))
    referral_at: Mapped[dt.datetime | None]
    interview: Mapped[dict | None]       # 约谈记录: {"at", "interviewees", "interviewer", "minutes", "by"}


class MeasureKind(Base):
    """The catalogue of accountability measures (问责措施目录) the secretariat edits.

    ``points``: deducted from the department's year-end score (and counted for each person the
    measure names); ``referral``: the role a recorded measure is referred to (``discipline`` 纪检,
    ``personnel`` 人事) or None; ``answerable``: who the measure names — the ``department`` only,
    the step's ``owner`` (责任人), or ``owner_and_leader`` (also the item's 分管领导);
    ``interview``: the measure is a talk (约谈) whose record can be added. Inactive kinds stay
    for the measures that name them, but cannot be chosen.
    """

    __tablename__ = "measure_kind"

    code: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    points: Mapped[int] = mapped_column(default=0)
    referral: Mapped[str | None] = mapped_column(sa.String(50))
    answerable: Mapped[str] = mapped_column(sa.String(50), default="department")
    interview: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class Notification(Base):
    """A message to one user (催办, 督办, decisions); read in the app, optionally also pushed out."""

    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_inbox", "username", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(50))
    title: Mapped[str] = mapped_column(sa.String(400))
    body: Mapped[str] = mapped_column(sa.Text)
    item_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    created_at: Mapped[dt.datetime]
    read_at: Mapped[dt.datetime | None]


class ReportSnapshot(Base):
    """A report as it stood when its periodic job ran (the weekly report, the month's ranking)."""

    __tablename__ = "report_snapshot"
    __table_args__ = (sa.UniqueConstraint("kind", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))     # weekly | ranking
    period: Mapped[str] = mapped_column(sa.String(20))   # 2026-W48 | 2026-11
    created_at: Mapped[dt.datetime]
    data: Mapped[dict]


class TaskReturn(Base):
    """An open step that a deciding step sent back (退回): written in the return's own
    transaction (``workflows.returns``), read by the inbox, the task page and the API."""

    __tablename__ = "task_return"

    task_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # the step to redo
    instance_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    decision_task_id: Mapped[str] = mapped_column(sa.String(36))
    step: Mapped[str] = mapped_column(sa.String(400))  # the deciding step's title
    returned_by: Mapped[str] = mapped_column(sa.String(100))
    returned_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(sa.Text)
    previous_task_id: Mapped[str | None] = mapped_column(sa.String(36))  # its last submission


class Publication(Base):
    """A month's ranking published to the public page (公示, issue 16): a frozen snapshot of the
    columns the secretariat chose, computed at publish time, so the page never shows more than
    was chosen nor changes when the figures move. Withdrawing keeps the row (who published what
    stays on record) and hides it from the public."""

    __tablename__ = "publication"
    __table_args__ = (sa.Index("ix_publication_withdrawn_published", "withdrawn_at", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7))       # 2026-11
    fields: Mapped[list]                                   # the chosen ranking columns, in table order
    circular: Mapped[bool] = mapped_column(default=False)  # with the circular's sentences
    note: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict]                                     # the snapshot: exactly what the public page shows
    published_by: Mapped[str] = mapped_column(sa.String(100))
    published_at: Mapped[dt.datetime]
    withdrawn_by: Mapped[str | None] = mapped_column(sa.String(100))
    withdrawn_at: Mapped[dt.datetime | None]


class MonthlyReport(Base):
    """一月一调度: a key item's monthly report (issue 16). Opened by the periodic job
    ``monthly_reports`` (one per item and month: the unique key), its task started after that
    commits (``instance_id``), filled in when the lead department submits it."""

    __tablename__ = "monthly_report"
    __table_args__ = (sa.UniqueConstraint("item_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(sa.ForeignKey("item.id"), index=True)
    month: Mapped[str] = mapped_column(sa.String(7))      # 2026-11
    department: Mapped[str] = mapped_column(sa.String(100))
    opened_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    instance_id: Mapped[str | None] = mapped_column(sa.String(36))
    progress_of_month: Mapped[str | None] = mapped_column(sa.Text)
    difficulties: Mapped[str | None] = mapped_column(sa.Text)
    next_month_plan: Mapped[str | None] = mapped_column(sa.Text)
    submitted_by: Mapped[str | None] = mapped_column(sa.String(100))
    submitted_at: Mapped[dt.datetime | None]
