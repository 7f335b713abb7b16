"""Supervision items: register-and-dispatch (立项交办), and the listeners that keep items in step.

Creating an item starts the latest ``supervision`` process with the item's id as business
key; the ``instance_started`` listener writes the item row and allocates its code
``DB-<year>-<seq>`` inside the instance's own transaction, so an item exists exactly when its
process does. Later listeners record plans, reports, rechecks and closure the same way.
"""
import datetime as dt

from sqlalchemy import update

from engine.errors import problem
from workflows import records
from workflows.supervision.models import Item, ItemDepartment, ItemPlan, ItemReport

PROCESS_KEY = "supervision"
BASES = ("meeting_decision", "leader_instruction", "inspection_finding", "public_complaint", "other")
_FIELDS = {"title": str, "basis": str, "department": str, "co_departments": list, "leader": str,
           "deadline": str, "requirements": str, "evidence": list, "key": bool, "campaign": int, "category": int}
_REQUIRED = ("title", "department", "leader", "deadline")
_CODE_LOCK = 0x6974656D  # "item": serialises code allocation per year on PostgreSQL


def validate_item(data):
    """Return the cleaned item fields or raise InvalidInput listing every field problem."""
    problems = records.check_fields(data, _FIELDS, _REQUIRED)
    if isinstance(data.get("co_departments"), list) and not all(
            isinstance(code, str) and code for code in data["co_departments"]):
        problems.append(problem("co_departments", "invalid", "must list department codes"))
    records.refuse(problems, "invalid item")
    return {"title": data["title"].strip(), "basis": data.get("basis") or "other",
            "department": data["department"], "co_departments": list(data.get("co_departments") or []),
            "leader": data["leader"], "deadline": data["deadline"],
            "requirements": data.get("requirements") or "", "key": bool(data.get("key"))}


def create_item(engine, data, actor, origin=None):
    """Register and dispatch an item; returns the Item row (``origin``: see ``records.start``).
    Forbidden (``outside_subtree``) when a county's registrar names a department outside its
    subtree (``access.refuse_outside_subtree``); a campaign and category must fit
    (``campaigns.refuse_membership``)."""
    from workflows import access  # (access imports this module)
    from workflows.campaigns import campaigns
    fields = validate_item(data)
    campaign, category = data.get("campaign"), data.get("category")
    with engine.db.read() as session:
        access.refuse_outside_subtree(session, actor, [fields["department"], *fields["co_departments"]])
        campaigns.refuse_membership(session, campaign, category, fields["department"])
    if campaign is not None:  # only then: instances without a campaign keep their variables
        fields.update(campaign_id=campaign, category_id=category)
    return get_item(engine, records.start(engine, PROCESS_KEY, "item_id", fields, actor, origin,
                                          evidence=data.get("evidence")))


def get_item(engine, item_id):
    return records.get(engine, Item, item_id, "item")


# -- listeners (records.Listeners: in the write transaction, for items' instances) ----------
listeners = records.Listeners(PROCESS_KEY)


@listeners.on("instance_started")
def on_instance_started(event):
    data, session = event.data, event.session
    item = Item(**records.opening_columns(event, Item, "DB", _CODE_LOCK),
                title=data["title"], basis=data.get("basis"), department=data["department"],
                co_departments=data.get("co_departments") or [], leader=data["leader"],
                deadline=dt.date.fromisoformat(data["deadline"]) if data.get("deadline") else None,
                requirements=data.get("requirements"), is_key=bool(data.get("key")),
                campaign_id=data.get("campaign_id"), category_id=data.get("category_id"))
    session.add(item)
    session.flush()
    departments = {data["department"]: "lead"}
    for department in data.get("co_departments") or []:
        departments.setdefault(department, "co")
    session.add_all(ItemDepartment(item_id=item.id, department=department, role=role, status=item.status,
                                   created_at=item.created_at, code=item.code)
                    for department, role in departments.items())


@listeners.on("task_completed", "draft_plan")
def record_plan(event):
    data = event.data
    event.session.add(ItemPlan(
        item_id=event.instance.business_key, task_id=event.task_id, owner=data["owner"],
        milestones=data["milestones"], measures=data["measures"], expected_result=data["expected_result"],
        submitted_by=event.actor.username, submitted_at=event.at, state="submitted"))


def _latest_plan(event):
    return records.latest(event.session, ItemPlan, ItemPlan.item_id == event.instance.business_key)


@listeners.on("task_completed", "approve_plan")
def decide_plan(event):
    plan = _latest_plan(event)
    plan.state = "approved" if event.data.get("approved") else "returned"
    plan.decision_comment, plan.decided_by = event.data.get("comment"), event.actor.username


@listeners.on("task_completed", "file_plan")
def file_plan(event):
    plan = _latest_plan(event)
    plan.state, plan.filed_at = "filed", event.at


@listeners.on("task_completed", "report_progress")
def record_report(event):
    data, item = event.data, event.session.get(Item, event.instance.business_key)
    event.session.add(ItemReport(
        item_id=item.id, task_id=event.task_id, department=item.department, progress=data["progress"],
        summary=data["summary"], done=data["done"], completion_report=data.get("completion_report"),
        due_at=records.due_at(event), submitted_by=event.actor.username, submitted_at=event.at))


@listeners.on("task_completed", "recheck")
def record_recheck(event):
    item_id = event.instance.business_key
    report = records.latest(event.session, ItemReport, ItemReport.item_id == item_id, ItemReport.done)
    if report is not None:
        report.recheck_passed, report.recheck_findings = event.data["passed"], event.data["findings"]


@listeners.on("task_completed", "confirm_close")
def confirm_close(event):
    event.session.get(Item, event.instance.business_key).rating = event.data["rating"]


def _departments_follow(event, item, status):
    """The item's department rows carry its status (department lists read them alone)."""
    event.session.execute(update(ItemDepartment).where(ItemDepartment.item_id == item.id)
                          .values(status=status))


listeners.close_on_end(Item, also=_departments_follow)


def register(registry):
    listeners.register(registry)
