"""Supervision items: register-and-dispatch (立项交办), and the listeners that keep items in step.

Creating an item starts the latest ``supervision`` process with the item's id as business
key; the ``instance_started`` listener writes the item row and allocates its code
``DB-<year>-<seq>`` inside the instance's own transaction, so an item exists exactly when its
process does. Later listeners record plans, reports, rechecks and closure the same way.
"""
import datetime as dt
import uuid

from sqlalchemy import select, update

from engine.errors import InvalidInput, NotFound, problem
from engine.models import HumanTask
from workflows.numbering import next_seq
from workflows.supervision.models import Item, ItemDepartment, ItemPlan, ItemReport

PROCESS_KEY = "supervision"
BASES = ("meeting_decision", "leader_instruction", "inspection_finding", "public_complaint", "other")
_FIELDS = {"title": str, "basis": str, "department": str, "co_departments": list, "leader": str,
           "deadline": str, "requirements": str}
_REQUIRED = ("title", "department", "leader", "deadline")


def validate_item(data):
    """Return the cleaned item fields or raise InvalidInput listing every field problem."""
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", reason="not_an_object")
    problems = [problem(name, "required", "is required") for name in _REQUIRED
                if data.get(name) in (None, "")]
    problems += [problem(name, "invalid", f"must be of type {kind.__name__}")
                 for name, kind in _FIELDS.items()
                 if data.get(name) is not None and not isinstance(data[name], kind)]
    problems += [problem(name, "unknown", "unknown field") for name in data if name not in _FIELDS]
    if isinstance(data.get("co_departments"), list) and not all(
            isinstance(code, str) and code for code in data["co_departments"]):
        problems.append(problem("co_departments", "invalid", "must list department codes"))
    if isinstance(data.get("deadline"), str):
        try:
            dt.date.fromisoformat(data["deadline"])
        except ValueError:
            problems.append(problem("deadline", "invalid_date", "must be a date YYYY-MM-DD"))
    if isinstance(data.get("title"), str) and len(data["title"]) > 400:
        problems.append(problem("title", "too_long", "at most 400 characters"))
    if problems:
        raise InvalidInput("invalid item", details=problems)
    return {"title": data["title"].strip(), "basis": data.get("basis") or "other",
            "department": data["department"], "co_departments": list(data.get("co_departments") or []),
            "leader": data["leader"], "deadline": data["deadline"],
            "requirements": data.get("requirements") or ""}


def create_item(engine, data, actor, origin=None):
    """Register and dispatch an item; returns the Item row.

    ``origin``: extra start variables naming where the item came from
    (``{"complaint_id": ...}``); listeners of other domains see them.
    """
    fields = validate_item(data)
    item_id = str(uuid.uuid4())
    instance = engine.instances.start(PROCESS_KEY, {"item_id": item_id, **fields, **(origin or {})},
                                      actor, business_key=item_id)
    return get_item(engine, instance.business_key)


def get_item(engine, item_id):
    with engine.db.read() as session:
        item = session.get(Item, item_id)
        if item is None:
            raise NotFound(f"no item {item_id}", reason="no_item")
        return item


# -- listeners (run inside the unit of work's write transaction) -----------------------------
def _supervision(event):
    return event.instance.definition_key == PROCESS_KEY and event.instance.business_key


_ITEM_CODE_LOCK = 0x6974656D  # "item"


def on_instance_started(event):
    if not _supervision(event):
        return
    data, session = event.data, event.session
    year = event.engine.calendar.local(event.at).year
    seq = next_seq(session, Item, year, _ITEM_CODE_LOCK)
    item = Item(
        id=event.instance.business_key, code=f"DB-{year}-{seq:04d}", year=year, seq=seq,
        title=data["title"], basis=data.get("basis"), department=data["department"],
        co_departments=data.get("co_departments") or [], leader=data["leader"],
        deadline=dt.date.fromisoformat(data["deadline"]) if data.get("deadline") else None,
        requirements=data.get("requirements"), status="open", light="green",
        instance_id=event.instance.id, created_by=event.actor.username, created_at=event.at)
    session.add(item)
    session.flush()
    departments = {data["department"]: "lead"}
    for code in data.get("co_departments") or []:
        departments.setdefault(code, "co")
    session.add_all(ItemDepartment(item_id=item.id, department=department, role=role, status=item.status,
                                   created_at=item.created_at, code=item.code)
                    for department, role in departments.items())


def on_task_completed(event):
    if not _supervision(event):
        return
    handler = _TASK_HANDLERS.get(event.task_key)
    if handler:
        handler(event, event.session, event.instance.business_key)


def _record_plan(event, session, item_id):
    data = event.data
    session.add(ItemPlan(item_id=item_id, task_id=event.task_id, owner=data["owner"],
                         milestones=data["milestones"], measures=data["measures"],
                         expected_result=data["expected_result"], submitted_by=event.actor.username,
                         submitted_at=event.at, state="submitted"))


def _latest_plan(session, item_id):
    return session.scalar(select(ItemPlan).where(ItemPlan.item_id == item_id)
                          .order_by(ItemPlan.id.desc()).limit(1))


def _decide_plan(event, session, item_id):
    plan = _latest_plan(session, item_id)
    plan.state = "approved" if event.data.get("approved") else "returned"
    plan.decision_comment, plan.decided_by = event.data.get("comment"), event.actor.username


def _file_plan(event, session, item_id):
    plan = _latest_plan(session, item_id)
    plan.state, plan.filed_at = "filed", event.at


def _record_report(event, session, item_id):
    data, task = event.data, session.get(HumanTask, event.task_id)
    item = session.get(Item, item_id)
    session.add(ItemReport(item_id=item_id, task_id=event.task_id, department=item.department,
                           progress=data["progress"], summary=data["summary"], done=data["done"],
                           completion_report=data.get("completion_report"),
                           due_at=task.due_at if task else None,
                           submitted_by=event.actor.username, submitted_at=event.at))


def _record_recheck(event, session, item_id):
    report = session.scalar(select(ItemReport).where(ItemReport.item_id == item_id, ItemReport.done)
                            .order_by(ItemReport.id.desc()).limit(1))
    if report is not None:
        report.recheck_passed, report.recheck_findings = event.data["passed"], event.data["findings"]


def _confirm_close(event, session, item_id):
    session.get(Item, item_id).rating = event.data["rating"]


_TASK_HANDLERS = {"draft_plan": _record_plan, "approve_plan": _decide_plan, "file_plan": _file_plan,
                  "report_progress": _record_report, "recheck": _record_recheck,
                  "confirm_close": _confirm_close}


def on_instance_ended(status):
    def listener(event):
        if _supervision(event):
            item = event.session.get(Item, event.instance.business_key)
            item.status, item.closed_at = status, event.at
            event.session.execute(update(ItemDepartment).where(ItemDepartment.item_id == item.id)
                                  .values(status=status))
    return listener


def register(registry):
    registry.on("instance_started")(on_instance_started)
    registry.on("task_completed")(on_task_completed)
    registry.on("instance_completed")(on_instance_ended("closed"))
    registry.on("instance_cancelled")(on_instance_ended("cancelled"))
