"""Managing items (事项管理): cancel (撤销), edit the notice, change the lead department, send back.

Every action is one command on the item's own instance (``engine.uow.run``), so the item row,
the instance's data, the routing of its open tasks and the audit record change together or
not at all:

- **cancel** — the engine's cancel: the instance and its open tasks end; the item's
  ``instance_cancelled`` listener marks the item and its department rows ``cancelled``. The
  audit record ``instance_cancelled`` carries the reason (the item's timeline shows it).
- **amend** — notice fields (title, requirements, deadline 办结时限, leader, 文号) and the lead
  department. The new values are written into the data of every unfinished task of the
  instance, so the open tasks' routing (``candidateDepartment``: ``department``; ``assignee``:
  ``leader``, evaluated again when the command is projected) follows them: an open 承办部门
  task moves to the new department in the same command, and later steps inherit the values.
  The ``item_amended`` domain event updates the item row (and its ``item_department`` rows);
  the audit record ``item_amended`` carries ``{field: [old, new]}``.
- **send back** (退回交办) — the lead department, on its open draft_plan task, says the item is
  not theirs. Design: the task stays open with that department; the secretariat is notified
  (notification ``item_sent_back``) and re-dispatches by changing the lead department, which
  moves the task. No new BPMN step: the diagram stays as it is, and the department's task
  cannot be lost meanwhile. Audited (``item_sent_back`` with the reason).

Only the secretariat (and admins, as everywhere) cancels and amends; only staff and leaders of the lead department send
back. A closed or cancelled item refuses every action (409 ``item_closed``).
"""
import datetime as dt

from sqlalchemy import delete, select
from SpiffWorkflow.util.task import TaskState

from engine.errors import Conflict, Forbidden, InvalidInput, problem
from engine.models import HumanTask
from engine.roles import LEADER, SECRETARIAT
from workflows import access, records
from workflows.supervision.models import Item, ItemDepartment
from workflows.supervision.notifications import department_name, notify

AMENDED = "item_amended"    # domain event: data {"changes": {field: [old, new]}}
SENT_BACK = "item_sent_back"  # domain event: data {"reason", "department"}
NOTICE_FIELDS = ("title", "requirements", "deadline", "leader", "doc_number")
FIELDS = NOTICE_FIELDS + ("department",)
MAX_REASON = 2000


def _reason(reason):
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("a reason is required (at most 2000 characters)",
                           details=[problem("reason", "required", "请填写原因")])
    return reason


def _open(item):
    if item.status != "open":
        raise Conflict(f"item {item.code} is {item.status}", reason="item_closed")


def _secretariat(actor):
    if not access.may_manage_item(actor):
        raise Forbidden("only the secretariat manages items", reason="not_item_manager")


def get_item(engine, item_id):
    return records.get(engine, Item, item_id, "item")


def cancel_item(engine, item, reason, actor):
    """撤销: end the item's instance and open tasks; the item becomes ``cancelled``."""
    _secretariat(actor)
    reason = _reason(reason)
    _open(item)
    engine.instances.cancel(item.instance_id, reason, actor)


def check_changes(engine, item, changes):
    """The changes that differ from the item, cleaned; InvalidInput lists every bad field.
    ``deadline``: an ISO date not before today (the engine's calendar); ``department``: a
    known department, not one of the item's co-departments; ``leader``: an active leader."""
    problems, clean = [], {}
    directory = engine.registry.directory
    with engine.db.read() as session:
        departments = directory.departments(session)
        leaders = set(directory.users(session, role=LEADER))
    for field, value in changes.items():
        if field not in FIELDS:
            problems.append(problem(field, "unknown", f"{field!r} cannot be edited"))
            continue
        if value is None:
            continue
        value = value.isoformat() if isinstance(value, dt.date) else str(value).strip()
        if field == "title" and not value:
            problems.append(problem(field, "required", "标题不能为空"))
        elif field == "deadline":
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                problems.append(problem(field, "invalid", "办结时限应为日期"))
                continue
            if day < engine.calendar.local(engine.clock.now()).date():
                problems.append(problem(field, "in_the_past", "办结时限不能早于今天"))
        elif field == "department":
            if value not in departments:
                problems.append(problem(field, "unknown_department", f"unknown department {value!r}"))
            elif value in (item.co_departments or []):
                problems.append(problem(field, "lead_co_handles", "the lead department cannot co-handle"))
        elif field == "leader" and value not in leaders:
            problems.append(problem(field, "not_a_leader", f"{value!r} is not a leader"))
        current = getattr(item, field)
        current = current.isoformat() if isinstance(current, dt.date) else current
        if value != (current or ""):
            clean[field] = [current, value]
    if problems:
        raise InvalidInput("invalid changes to the item", details=problems)
    return clean


def amend_item(engine, item, changes, actor):
    """Edit notice fields and/or the lead department; returns ``{field: [old, new]}`` (empty:
    nothing differed, nothing written)."""
    _secretariat(actor)
    _open(item)
    clean = check_changes(engine, item, changes)
    if not clean:
        return {}
    if "department" in clean:
        with engine.db.read() as session:
            access.refuse_outside_subtree(session, actor, [clean["department"][1]])

    def action(ctx):
        values = {field: new for field, (_, new) in clean.items()}
        for task in ctx.workflow.get_tasks():
            if not task.has_state(TaskState.FINISHED_MASK):
                task.data.update(values)
        ctx.workflow.data.update(values)
        ctx.audit(AMENDED, changes=clean)
        ctx.emit(AMENDED, data={"changes": clean})
    engine.uow.run(item.instance_id, action, actor, command="amend_item")
    return clean


def mark_key(engine, item, key, actor):
    """Mark an open item key (重点) or not; returns ``{"key": [old, new]}`` (empty: unchanged).
    A listing flag, not process data: written to the item row (audited, ``item_key_changed``)
    without a command on its instance; the monthly job reads it (workflows.supervision.monthly)."""
    _secretariat(actor)
    _open(item)
    if bool(item.is_key) == bool(key):
        return {}
    with engine.db.write() as session:
        session.get(Item, item.id).is_key = bool(key)
        engine.audit.append(session, "item_key_changed", actor=actor.username, business_key=item.id,
                            data={"key": bool(key)})
    return {"key": [bool(item.is_key), bool(key)]}


def drafting(engine, item):
    """Whether the item's draft_plan step is open (when it may be sent back)."""
    with engine.db.read() as session:
        return session.scalar(select(HumanTask.id).where(
            HumanTask.business_key == item.id, HumanTask.key == "draft_plan", HumanTask.state == "open")) is not None


def send_back(engine, item, reason, actor):
    """退回交办: the lead department says the item is misrouted; the secretariat is told."""
    reason = _reason(reason)
    _open(item)
    if not access.may_send_back(actor, item):
        raise Forbidden("only the lead department sends an item back", reason="not_lead_department")
    if not drafting(engine, item):
        raise Conflict("an item is sent back before its work plan is drafted", reason="not_drafting")

    def action(ctx):
        ctx.audit(SENT_BACK, reason=reason, department=item.department)
        ctx.emit(SENT_BACK, data={"reason": reason, "department": item.department})
    engine.uow.run(item.instance_id, action, actor, command="send_back")


def doc_number(item):
    """The notice's 文号: the one the secretariat set, else ``督办〔year〕seq号`` from the item's
    code (its per-year sequence), so every item has one and none repeats within a year."""
    return item.doc_number or f"督办〔{item.year}〕{item.seq}号"


# -- listeners ------------------------------------------------------------------------------
def on_amended(event):
    session, changes = event.session, event.data["changes"]
    item = session.get(Item, event.instance.business_key)
    for field, (_, new) in changes.items():
        setattr(item, field, dt.date.fromisoformat(new) if field == "deadline" else new)
    if "department" in changes:
        old, new = changes["department"]
        session.execute(delete(ItemDepartment).where(ItemDepartment.item_id == item.id,
                                                     ItemDepartment.department == old))
        session.add(ItemDepartment(item_id=item.id, department=new, role="lead", status=item.status,
                                   created_at=item.created_at, code=item.code))


def on_sent_back(event):
    session = event.session
    item = session.get(Item, event.instance.business_key)
    secretaries = event.engine.registry.directory.users(session, role=SECRETARIAT)
    notify(event, secretaries, SENT_BACK, f"事项退回：{item.code}",
           f"{department_name(event, event.data['department'])} 退回「{item.title}」，请重新交办。"
           f"理由：{event.data['reason']}")


def register(registry, process_key):
    for name in (AMENDED, SENT_BACK):
        registry.event(name)
    registry.on(AMENDED, process=process_key)(on_amended)
    registry.on(SENT_BACK, process=process_key)(on_sent_back)
