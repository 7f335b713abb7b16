"""The engine's tables (SQLAlchemy 2). Domain and API modules add theirs to the same ``Base``.

Projection tables (``human_task``, ``timer``) are what queries read; the serialized workflow
in ``instance.state`` is read only inside a unit of work (DESIGN invariant 3).
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

UTC = dt.timezone.utc


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware in Python, stored as naive UTC so SQLite and PostgreSQL agree."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict: sa.JSON, list: sa.JSON}


class Definition(Base):
    """One deployed version of a process (BPMN) or decision (DMN); its source stored once."""

    __tablename__ = "definition"
    __table_args__ = (sa.UniqueConstraint("key", "version"), sa.UniqueConstraint("key", "sha256"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(10))  # bpmn | dmn
    name: Mapped[str | None] = mapped_column(sa.String(400))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.Text)
    dmn_ids: Mapped[list] = mapped_column(default=list)  # DMN definition ids parsed with it
    deployed_at: Mapped[dt.datetime]
    deployed_by: Mapped[str | None] = mapped_column(sa.String(100))


class Instance(Base):
    __tablename__ = "instance"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    definition_id: Mapped[int] = mapped_column(sa.ForeignKey("definition.id"))
    definition_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    definition_version: Mapped[int]
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)  # running|completed|cancelled|error
    state: Mapped[str] = mapped_column(sa.Text)  # instance-only SpiffWorkflow JSON
    variables: Mapped[dict] = mapped_column(default=dict)  # start variables, for listing
    error: Mapped[str | None] = mapped_column(sa.Text)
    error_task: Mapped[str | None] = mapped_column(sa.String(200))
    started_by: Mapped[str | None] = mapped_column(sa.String(100))
    started_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)  # optimistic concurrency counter


_OPEN = "state = 'open'"
_UNOWNED = "state = 'open' AND assignee IS NULL AND candidate_user IS NULL"


class HumanTask(Base):
    """One row per user task reached: open, completed or cancelled (the inbox projection)."""

    __tablename__ = "human_task"
    __table_args__ = (
        # Partial indexes over open tasks, one per way into an inbox (migration 0005, which
        # replaced the full (state, candidate_department | assignee, due_at) indexes).
        *(sa.Index(name, *columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))
          for name, columns, where in (
              ("ix_human_task_open_assignee", ("assignee",), _OPEN + " AND assignee IS NOT NULL"),
              ("ix_human_task_open_candidate_user", ("candidate_user",),
               _OPEN + " AND candidate_user IS NOT NULL"),
              ("ix_human_task_open_department", ("candidate_department", "due_at", "candidate_role"),
               _UNOWNED + " AND candidate_department IS NOT NULL"),
              ("ix_human_task_open_role", ("candidate_role", "due_at"),
               _UNOWNED + " AND candidate_department IS NULL AND candidate_role IS NOT NULL"),
              ("ix_human_task_open_starter", ("started_by",),
               _UNOWNED + " AND candidate_department IS NULL AND candidate_role IS NULL"),
              ("ix_human_task_open_item", ("business_key", "due_at"), _OPEN),
              # the open tasks due before a moment: lights counted from the few due soon (0009)
              ("ix_human_task_open_due", ("due_at", "business_key"), _OPEN),
              # department steps by due time, whatever their state: a month's ranking (0016)
              ("ix_human_task_department_due", ("due_at", "candidate_department"),
               "candidate_department IS NOT NULL"))),
        # a person's 已办 list, newest first (0018)
        sa.Index("ix_human_task_completed_by", "completed_by", "completed_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # SpiffWorkflow task id
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("instance.id"), index=True)
    definition_id: Mapped[int] = mapped_column(sa.ForeignKey("definition.id"))
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    key: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str | None] = mapped_column(sa.String(400))
    lane: Mapped[str | None] = mapped_column(sa.String(200))
    candidate_role: Mapped[str | None] = mapped_column(sa.String(50))
    candidate_department: Mapped[str | None] = mapped_column(sa.String(100))
    candidate_user: Mapped[str | None] = mapped_column(sa.String(100))  # from the diagram
    assignee: Mapped[str | None] = mapped_column(sa.String(100))  # claimed or assigned
    started_by: Mapped[str | None] = mapped_column(sa.String(100))
    state: Mapped[str] = mapped_column(sa.String(20))  # open | completed | cancelled
    created_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    completed_by: Mapped[str | None] = mapped_column(sa.String(100))
    data: Mapped[dict | None] = mapped_column()


class Timer(Base):
    """One row per waiting BPMN timer; written with the instance in the same transaction."""

    __tablename__ = "timer"
    __table_args__ = (sa.Index("ix_timer_due", "state", "fire_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # SpiffWorkflow task id
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("instance.id"), index=True)
    task_key: Mapped[str] = mapped_column(sa.String(200))
    fire_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(sa.String(20))  # waiting | fired | cancelled | incident
    # Claiming (engine/timers.py): a worker holds a row while lease_owner is set and
    # lease_until (wall time) is ahead; with lease_owner empty, lease_until is a retry
    # back-off on the engine clock. attempts counts claims since the timer last progressed.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class Effect(Base):
    """One after-commit effect (engine/outbox.py): written in the transaction of the command
    that causes it, run by a dispatcher once that has committed."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(100))      # the registry's effect handler
    payload: Mapped[dict] = mapped_column(default=dict)
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)  # whose command wrote it
    state: Mapped[str] = mapped_column(sa.String(20))      # pending | done | incident
    # All times here are wall time: effects happen in the real world, not in business time.
    # A dispatcher holds a row while lease_owner is set and lease_until is ahead; attempts
    # counts the runs started (the writing process's own counts as the first).
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime]
    done_at: Mapped[dt.datetime | None]


class JobRun(Base):
    """One row per periodic job occurrence that ran (the unique key makes it run once)."""

    __tablename__ = "job_run"
    __table_args__ = (sa.UniqueConstraint("job", "occurrence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(100))
    occurrence: Mapped[str] = mapped_column(sa.String(100))
    ran_at: Mapped[dt.datetime]


class ClockState(Base):
    """The shared simulated time (one row, ``id = 1``); unused with the system clock."""

    __tablename__ = "clock_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    now_at: Mapped[dt.datetime]


class AuditRecord(Base):
    """Append-only; ``hash`` = sha256(previous hash + canonical record) (DESIGN invariant 9)."""

    __tablename__ = "audit"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    actor: Mapped[str | None] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(100))
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    data: Mapped[dict] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHead(Base):
    """A single row holding the chain's tip; locked while a transaction appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(sa.String(64))


class CalendarSchedule(Base):
    """One entered holiday schedule of a year (append-only: the newest row of a year is in force).

    ``id`` doubles as the calendar's version: every process compares its cached ``max(id)``
    (engine.calendar). ``applied_*`` records that the change was applied to the open tasks'
    due times (engine.calendar_changes); a change is applied at most once.
    """

    __tablename__ = "calendar_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    holidays: Mapped[list] = mapped_column(default=list)       # ISO dates off work
    working_days: Mapped[list] = mapped_column(default=list)   # ISO weekend dates worked (调休)
    entered_at: Mapped[dt.datetime]
    entered_by: Mapped[str | None] = mapped_column(sa.String(100))
    applied_at: Mapped[dt.datetime | None]
    applied_by: Mapped[str | None] = mapped_column(sa.String(100))
