"""回头看: a check, some time after an item or a problem was closed (销号), that it stayed fixed.

The secretariat schedules one on a closed record (:func:`schedule`: a date, or N months after
closure). It is its own small process, ``bpmn/lookback.bpmn``, with the record's id as business
key (so its task and audit records show on the record's page and timeline, and the access
policy treats them as the record's): a timer catch event waits until office opening of that
date on the engine's clock, then the secretariat's ``lookback_check`` opens — ``holds``
(整改成果巩固) or ``rebounded`` (问题反弹, with findings and a new deadline).

Why a separate process rather than a branch after 销号 in the record's own diagram: the record
closes when its process ends (reports count it closed that day), and a look-back is optional
and may be scheduled after the fact, on records closed by any version of their diagram.

A rebound counts on the record (``rebounds``, the ledger's and reports' 反弹) and:

- for a problem, reopens it: status ``open`` again, its deadline the new one, in the check's
  transaction; then (outbox effect :data:`REOPEN`, after commit — a command on another
  instance) a new round of the latest ``rectification`` process starts with the same problem
  id as business key, which opens 移交整改 again and then plan, review, report and
  verification as for a new problem. ``rectification``'s ``instance_started`` listener sees
  the existing row and resets its round instead of inserting (:func:`reopen_round`).
- for an item, registers a new problem (source 巡察 ``inspection``, the item's lead
  department, the new deadline; outbox effect :data:`RECTIFY_ITEM`) whose description names
  the item: an item's own process (plan, reports, confirmation) is not restarted, the rebound
  is rectified like any problem found later.

One pending look-back per record: 409 ``lookback_pending`` (and a partial unique index as the
backstop of two simultaneous requests).
"""
import calendar as month_days
import datetime as dt

from sqlalchemy import select

from engine.actor import Actor
from engine.errors import Conflict, InvalidInput, problem
from workflows import records
from workflows.lookback.models import PENDING, Lookback
from workflows.rectification.models import Problem
from workflows.supervision.models import Item

PROCESS_KEY = "lookback"
TASK = "lookback_check"
RESULTS = ("holds", "rebounded")
MAX_MONTHS = 36
REOPEN = "lookback_reopen_problem"
RECTIFY_ITEM = "lookback_rectify_item"
KINDS = {"problem": (Problem, "problem"), "item": (Item, "item")}


def add_months(day, months):
    """``day`` ``months`` later, on the month's last day when it has fewer days (1-31 → 2-28)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, month_days.monthrange(year, month)[1]))


def due_day(engine, record, data):
    """The day the check opens, from ``{"on": "YYYY-MM-DD"}`` or ``{"months": N}`` (after the
    record's closure), moved to the next working day when it is a weekend or holiday (the
    check opens at office opening); InvalidInput listing each field problem, or when it is not
    after today."""
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", reason="not_an_object")
    problems = [problem(name, "unknown", "unknown field") for name in data if name not in ("on", "months")]
    on, months = data.get("on"), data.get("months")
    day = None
    if (on is None) == (months is None):
        problems.append(problem("on", "required", "give either on (a date) or months"))
    elif on is not None:
        try:
            day = dt.date.fromisoformat(on) if isinstance(on, str) else None
        except ValueError:
            day = None
        if day is None:
            problems.append(problem("on", "invalid_date", "must be a date YYYY-MM-DD"))
    elif isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        problems.append(problem("months", "out_of_range", f"must be a whole number from 1 to {MAX_MONTHS}",
                                minimum=1, maximum=MAX_MONTHS))
    else:
        day = add_months(engine.calendar.local(record.closed_at).date(), months)
    records.refuse(problems, "invalid look-back")
    today = engine.calendar.local(engine.clock.now()).date()
    if day <= today:
        field = "on" if on is not None else "months"
        records.refuse([problem(field, "not_after_today", "the look-back must fall after today")], "invalid look-back")
    return engine.calendar.nth_working_day(day, 0)


def schedule(engine, kind, record_id, data, actor):
    """Schedule a look-back of the closed ``kind`` (``item`` or ``problem``) ``record_id``;
    returns its instance. 404 unknown record, 409 ``not_closed`` / ``lookback_pending``, 400
    bad date. Returns ``(instance, day)``. Who may is the caller's business
    (``access.LOOKBACK_SCHEDULERS``, and seeing the record)."""
    model, noun = KINDS[kind]
    record = records.get(engine, model, record_id, noun)
    if record.status != "closed":
        raise Conflict(f"{noun} {record.code} is not closed", reason="not_closed")
    day = due_day(engine, record, data)
    with engine.db.read() as session:
        if pending(session, record_id) is not None:
            raise Conflict(f"{noun} {record.code} already has a pending look-back", reason="lookback_pending")
    at = engine.calendar.at(day, engine.calendar.office_open)
    variables = {"record_kind": kind, "record_id": record.id, "record_code": record.code,
                 "title": record.title, "department": record.department,
                 "lookback_on": day.isoformat(), "lookback_at": engine.calendar.local(at).isoformat()}
    return engine.instances.start(PROCESS_KEY, variables, actor, business_key=record.id), day


def pending(session, record_id):
    return session.scalar(select(Lookback).where(Lookback.record_id == record_id, Lookback.status == PENDING))


def of_record(session, record_id):
    """The record's look-backs, oldest first."""
    return list(session.scalars(select(Lookback).where(Lookback.record_id == record_id).order_by(Lookback.id)))


# -- listeners (in the lookback instance's transactions) ------------------------------------------
def on_started(event):
    data = event.data
    event.session.add(Lookback(record_kind=data["record_kind"], record_id=data["record_id"],
                               due_on=dt.date.fromisoformat(data["lookback_on"]), instance_id=event.instance.id,
                               status=PENDING, created_by=event.actor.username, created_at=event.at))


def _row(event):
    return event.session.scalar(select(Lookback).where(Lookback.instance_id == event.instance.id))


def check_deadline(step):
    """``before_complete`` of ``lookback_check``: a rebound's new deadline before today is refused."""
    day = step.data.get("new_deadline")
    if step.data.get("result") == "rebounded" and day and \
            dt.date.fromisoformat(day) < step.engine.calendar.local(step.now).date():
        raise InvalidInput("new_deadline: must not be in the past", details=[
            problem("new_deadline", "date_in_past", "the new deadline must not be before today")])


def on_checked(event):
    row, data = _row(event), event.data
    row.status, row.findings = data["result"], data["findings"]
    row.checked_by, row.checked_at = event.actor.username, event.at
    if data["result"] != "rebounded":
        event.audit("lookback_held", {"findings": data["findings"]})
        return
    row.new_deadline = dt.date.fromisoformat(data["new_deadline"])
    model, _noun = KINDS[row.record_kind]
    record = event.session.get(model, row.record_id)
    record.rebounds = (record.rebounds or 0) + 1
    event.audit("lookback_rebounded", {"findings": data["findings"], "new_deadline": data["new_deadline"]})
    payload = {"record_id": record.id, "actor": event.actor.username, "lookback_id": event.instance.id}
    if row.record_kind == "problem":
        previous = record.instance_id
        record.status, record.closed_at, record.deadline = "open", None, row.new_deadline
        event.outbox(REOPEN, {**payload, "previous_instance": previous})
    else:
        event.outbox(RECTIFY_ITEM, {**payload, "findings": data["findings"], "deadline": data["new_deadline"]})


def on_ended(status):
    def listener(event):
        row = _row(event)
        if row is not None and row.status == PENDING:
            row.status = status
    return listener


# -- outbox effects (after the check committed) ----------------------------------------------------
def reopen_effect(engine, data, effect):
    """Start the problem's new rectification round, unless an earlier run already did."""
    with engine.db.read() as session:
        found = session.get(Problem, data["record_id"])
    if found is None or found.instance_id != data["previous_instance"]:
        return
    variables = {"problem_id": found.id, "title": found.title, "description": found.description or "",
                 "source": found.source, "department": found.department,
                 "problem_deadline": found.deadline.isoformat(), "rebound_of": data["lookback_id"]}
    engine.instances.start("rectification", variables, Actor(data["actor"]), business_key=found.id)


def rectify_item_effect(engine, data, effect):
    """Register the rebounded item's new problem (at least once: a crash between the start and
    the outbox's bookkeeping could register it twice — the secretariat cancels the copy)."""
    from workflows.rectification.problems import create_problem
    with engine.db.read() as session:
        item = session.get(Item, data["record_id"])
    create_problem(engine, {"title": f"回头看反弹：{item.title}"[:400], "source": "inspection",
                            "department": item.department, "deadline": data["deadline"],
                            "description": f"督办事项 {item.code} 回头看发现问题反弹：{data['findings']}"[:10000]},
                   Actor(data["actor"], frozenset({"secretariat"})), origin={"rebound_of": data["lookback_id"]})


def reopen_round(event, problem):
    """``rectification``'s ``instance_started`` for a problem that exists: a rebound's new round.
    The row follows the new instance; the previous round's plan and hand-over are cleared (its
    reports stay, listed with the new ones)."""
    problem.instance_id, problem.status, problem.closed_at = event.instance.id, "open", None
    problem.deadline = dt.date.fromisoformat(event.data["problem_deadline"])
    for column in ("requirements", "handed_over_at", "plan_owner", "plan_measures", "plan_deadline",
                   "plan_submitted_at", "plan_cause_analysis", "plan_goal", "plan_milestones", "plan_state",
                   "plan_needs_extension"):
        setattr(problem, column, None)


def register(registry):
    registry.owns("lookback", PROCESS_KEY)
    registry.on("instance_started", process=PROCESS_KEY)(records.keyed(on_started))
    registry.on("task_completed", process=PROCESS_KEY, task=TASK)(records.keyed(on_checked))
    registry.on("instance_cancelled", process=PROCESS_KEY)(records.keyed(on_ended("cancelled")))
    registry.before_complete(TASK, process=PROCESS_KEY)(records.keyed(check_deadline))
    registry.effect(REOPEN, reopen_effect)
    registry.effect(RECTIFY_ITEM, rectify_item_effect)
