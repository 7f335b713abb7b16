"""一月一调度 (issue 16): key items (重点) report monthly; the secretariat's digest flags the lagging.

**Opening.** The periodic job ``monthly_reports`` is due from 09:00 (local, engine clock) of day
``[supervision] monthly_report_day`` (default 25) of each month. For every open key item with no
report for the month it adds a ``monthly_report`` row (unique per item and month: the job's
``job_run`` row and this key make a second run add nothing) due at the month's end, and an
outbox effect ``monthly_report_open``; after the job commits, the effect starts the small process
``monthly_report`` (bpmn/monthly_report.bpmn: one task, 报送月度调度报告, for the item's lead
department, business key the item, so access and the inbox treat it as the item's step). The
effect runs at least once: the process's ``instance_started`` listener claims the row with a
guarded update and refuses (the start rolls back) when it already has its instance.

**Submitting** the task (progress_of_month, difficulties, next_month_plan) fills the row in the
completion's transaction.

**The digest** (:func:`digest`) lists the open key items with the month's report and flags
for 现场督查 (on-site review) those lagging: no monthly report submitted for the month (or
none), a red light (an open step past due), or progress behind time (the latest progress report's
percentage below the share of the item's time, registration to deadline, elapsed; an item with
no progress report yet is not "behind": its plan step shows in its light).
Trade-off: the monthly task is a department step of the item like the plan and the progress
reports, so it counts in the ranking's on-time rate and shows as a current step.
"""
import datetime as dt

from sqlalchemy import select, update

from engine.actor import SYSTEM
from engine.errors import Conflict
from engine.models import HumanTask
from workflows import lights, records
from workflows.supervision import reports
from workflows.supervision.models import Item, MonthlyReport

PROCESS_KEY = "monthly_report"
TASK = "submit_monthly_report"
OPEN = "monthly_report_open"
DEFAULT_DAY = 25
OPEN_TIME = dt.time(9, 0)
FIELDS = ("progress_of_month", "difficulties", "next_month_plan")


def report_day(engine):
    """The day of the month the reports open (``[supervision] monthly_report_day``, 1..28)."""
    return min(28, max(1, int(engine.config.get("supervision", {}).get("monthly_report_day", DEFAULT_DAY))))


def occurrence(engine, now):
    """The month (``"2026-11"``) whose reports are due to open at ``now``, or None before the day."""
    local = engine.calendar.local(now)
    opens = engine.calendar.at(local.date().replace(day=report_day(engine)), OPEN_TIME)
    return f"{local.year}-{local.month:02d}" if local >= opens else None


def run(engine, session, month, now):
    """Open the month's report of every open key item that has none (the job's transaction);
    returns the ids of the effects that start their tasks once it commits."""
    _, end = reports.month_bounds(engine.calendar, month)
    have = select(MonthlyReport.item_id).where(MonthlyReport.month == month)
    items = session.scalars(select(Item).where(Item.status == "open", Item.is_key.is_(True),
                                               Item.id.not_in(have)).order_by(Item.code))
    rows = [MonthlyReport(item_id=item.id, month=month, department=item.department, opened_at=now, due_at=end)
            for item in items]
    session.add_all(rows)
    session.flush()
    return engine.outbox.write(session.connection(), None, [(OPEN, {"report_id": row.id}) for row in rows])


def open_effect(engine, payload, effect=None):
    """Start the report's task (after the job committed; idempotent: a report with its instance
    is left alone, and the start listener refuses a second instance)."""
    with engine.db.read() as session:
        row = session.get(MonthlyReport, payload["report_id"])
    if row is None or row.instance_id is not None:
        return
    engine.instances.start(PROCESS_KEY, {
        "item_id": row.item_id, "department": row.department, "month": row.month, "monthly_report_id": row.id,
        "due_at": engine.calendar.local(row.due_at).isoformat()}, SYSTEM, business_key=row.item_id)


listeners = records.Listeners(PROCESS_KEY)


@listeners.on("instance_started")
def claim(event):
    claimed = event.session.execute(update(MonthlyReport).where(
        MonthlyReport.id == event.data["monthly_report_id"], MonthlyReport.instance_id.is_(None))
        .values(instance_id=event.instance.id))
    if claimed.rowcount != 1:
        raise Conflict("the monthly report has its task already", reason="already_opened")


@listeners.on("task_completed", TASK)
def submitted(event):
    row = event.session.scalar(select(MonthlyReport).where(MonthlyReport.instance_id == event.instance.id))
    for field in FIELDS:
        setattr(row, field, event.data.get(field))
    row.submitted_by, row.submitted_at = event.actor.username, event.at


def register(registry):
    registry.owns("supervision", PROCESS_KEY)
    registry.periodic("monthly_reports", occurrence, run)
    registry.effect(OPEN, open_effect)
    listeners.register(registry)


# -- the digest ---------------------------------------------------------------------------------
def digest(session, calendar, month, now, department_names):
    """The month's key items (open, or closed in the month) with their monthly report and flags:
    ``no_report``, ``red``, ``behind`` (see the module); ``lagging`` when any is set."""
    start, end = reports.month_bounds(calendar, month)
    as_of = min(end, now)
    items = list(session.scalars(select(Item).where(
        Item.is_key.is_(True), Item.status != "cancelled", Item.created_at < end,
        (Item.closed_at.is_(None)) | (Item.closed_at >= start)).order_by(Item.department, Item.code)))
    ids = [item.id for item in items]
    monthly = {r.item_id: r for r in session.scalars(select(MonthlyReport).where(
        MonthlyReport.month == month, MonthlyReport.item_id.in_(ids)))} if ids else {}
    open_due = {}
    for business_key, due_at in session.execute(select(HumanTask.business_key, HumanTask.due_at).where(
            HumanTask.business_key.in_(ids), HumanTask.state == "open")) if ids else ():
        open_due.setdefault(business_key, []).append(due_at)
    latest = reports._latest_reports(session, ids, as_of)
    warning = calendar.add_working_days(as_of, calendar.warning_working_days)
    rows = []
    for item in items:
        report, progress = monthly.get(item.id), latest.get(item.id)
        light = lights.worst(lights.light(due, as_of, warning) for due in open_due.get(item.id, []))
        expected = _expected_progress(calendar, item, as_of)
        flags = {"no_report": report is None or report.submitted_at is None,
                 "red": light == "red",
                 "behind": expected is not None and progress is not None and progress.progress < expected}
        rows.append({"item_id": item.id, "code": item.code, "title": item.title, "department": item.department,
                     "department_name": department_names.get(item.department, item.department),
                     "deadline": item.deadline.isoformat() if item.deadline else None, "light": light,
                     "progress": progress.progress if progress else None, "expected_progress": expected,
                     "report": _report_out(report), **flags, "lagging": any(flags.values())})
    return {"month": month, "as_of": as_of.isoformat(), "items": rows,
            "lagging": sum(1 for row in rows if row["lagging"])}


def _expected_progress(calendar, item, as_of):
    """The share of the item's time (registration to deadline) elapsed at ``as_of``, in percent."""
    if item.deadline is None:
        return None
    begin = item.created_at
    finish = calendar.at(item.deadline + dt.timedelta(days=1), dt.time(0))
    if finish <= begin:
        return 100
    return max(0, min(100, round((as_of - begin) / (finish - begin) * 100)))


def _report_out(row):
    if row is None:
        return None
    return {"due_at": row.due_at.isoformat(), "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
            "submitted_by": row.submitted_by, **{field: getattr(row, field) for field in FIELDS}}
