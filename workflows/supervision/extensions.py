"""Extension requests (延期申请): filed before a step falls due, effective when the leader approves.

Lead-department staff ask for a later due time of an open step of their item, with the
reason and the progress so far, before the step's due time (after it the escalation path
applies: 409). The request starts a short ``extension`` process (its own instance,
business key = the item) whose ``approve_extension`` goes to the item's leader.

Approval changes *another* instance, the item's supervision instance, whose step and timers
move (``engine.tasks.Tasks.reschedule``). That is a second unit of work, run by the outbox
effect :data:`APPLY` that the approval writes in its own transaction (engine.outbox): an
approval that rolls back moves nothing, and one that committed is applied even if its
process dies right after the commit (a scheduler runs the effect then). Its outcome is in
the audit log: ``task_rescheduled`` (written by the supervision instance's unit of work) or
``extension_not_applied`` with the reason (e.g. the step was completed meanwhile).

The effect runs at least once, so applying is idempotent: the reschedule is a no-op when the
step already has the requested due time (checked inside the supervision instance's unit of
work, under its version check), so a second run moves nothing and records nothing. An
instance that keeps changing concurrently raises after a few tries: the outbox retries later.
"""
import logging

from sqlalchemy import select

from engine.actor import Actor
from engine.clock import parse_moment
from engine.errors import Conflict, EngineError, Forbidden, InvalidInput, StaleInstance, problem
from engine.models import AuditRecord, HumanTask, Instance
from engine.rescheduling import due_variable
from workflows import access
from workflows.supervision.models import Item
from workflows.supervision.notifications import notify

log = logging.getLogger(__name__)
PROCESS_KEY = "extension"
RETRIES = 5


def _problem(field, code, message):
    raise InvalidInput(f"{field}: {message}", details=[problem(field, code, message)])


def request_extension(engine, item, task_id, reason, new_due, progress, actor):
    """Start the approval of an extension of ``task_id`` to ``new_due``; returns the instance."""
    if not access.may_request_extension(actor, item):
        raise Forbidden("only staff of the lead department may request an extension", reason="not_lead_staff")
    if item.status != "open":
        raise Conflict(f"item {item.code} is {item.status}", reason="item_closed")
    if new_due.tzinfo is None:
        _problem("new_due", "no_offset", "needs a UTC offset")
    with engine.db.read() as session:
        task = session.get(HumanTask, task_id)
        pending = list(session.scalars(select(Instance).where(
            Instance.definition_key == PROCESS_KEY, Instance.business_key == item.id,
            Instance.status == "running")))
    if task is None or task.business_key != item.id:
        _problem("task_id", "not_a_step", "not a step of this item")
    if task.state != "open":
        raise Conflict(f"step {task.key} is already {task.state}", reason="step_done")
    if task.due_at is None:
        raise Conflict(f"step {task.key} has no due time to extend", reason="no_due")
    due_variable(engine.tasks.task_spec(task))  # Conflict when its due time cannot move
    if engine.clock.now() >= task.due_at:
        raise Conflict(f"step {task.key} fell due at {task.due_at.isoformat()}: an extension must "
                       "be requested before the due time", reason="fell_due")
    if new_due <= task.due_at:
        _problem("new_due", "not_later", "must be later than the step's current due time")
    if any((p.variables or {}).get("task_id") == task.id for p in pending):
        raise Conflict(f"an extension of step {task.key} is already waiting for approval", reason="already_requested")
    variables = {"item_id": item.id, "leader": item.leader, "department": item.department,
                 "task_id": task.id, "task_key": task.key, "task_title": task.title,
                 "current_due": engine.calendar.local(task.due_at).isoformat(),
                 "new_due": engine.calendar.local(new_due).isoformat(),
                 "reason": reason, "progress": progress, "requested_by": actor.username}
    return engine.instances.start(PROCESS_KEY, variables, actor, business_key=item.id)


APPLY = "apply_extension"


def apply_effect(engine, data, effect):
    """The outbox handler of :data:`APPLY` (``data``: the request, the approver, the extension
    instance's id)."""
    apply_extension(engine, data["request"], Actor(data["approver"]), data["extension_id"])


def apply_extension(engine, request, actor, extension_id):
    """Reschedule the step on the item's instance (after the approval committed); True if it
    has the requested due time now (moved now, or by an earlier run), False if it cannot move
    (recorded as ``extension_not_applied``). Raises StaleInstance while the item's instance
    keeps changing (the outbox tries again later)."""
    for attempt in range(RETRIES):
        try:
            engine.tasks.reschedule(request["task_id"], parse_moment(request["new_due"]), actor,
                                    reason=f"extension {extension_id} approved", unless_due=True)
            return True
        except StaleInstance:
            if attempt == RETRIES - 1:
                raise
        except EngineError as err:
            if _has_due(engine, request):  # moved by an earlier run, then the step went on
                return True
            reason = err.message
            break
    log.warning("extension %s not applied: %s", extension_id, reason)
    with engine.db.write() as session:
        if session.scalar(select(AuditRecord.seq).where(  # recorded by an earlier run
                AuditRecord.instance_id == extension_id, AuditRecord.kind == "extension_not_applied")):
            return False
        engine.audit.append(session, "extension_not_applied", actor=actor.username,
                            instance_id=extension_id, business_key=request["item_id"],
                            data={"task_id": request["task_id"], "new_due": request["new_due"],
                                  "reason": reason})
    return False


def _has_due(engine, request):
    with engine.db.read() as session:
        task = session.get(HumanTask, request["task_id"])
    return task is not None and task.due_at == parse_moment(request["new_due"])


# -- listeners (of the extension process's approve_extension) --------------------------------
def on_task_opened(event):
    item = event.session.get(Item, event.instance.business_key)
    request = event.data
    notify(event, [request["leader"]], "extension_requested", f"延期申请：{item.code}「{request['task_title']}」",
           f"{request['department']} 申请将「{request['task_title']}」的期限由 {request['current_due']} "
           f"延至 {request['new_due']}。理由：{request['reason']}", task_id=event.task_id)


def on_task_completed(event):
    request, approved = event.instance.variables, bool(event.data.get("approved"))
    item = event.session.get(Item, request["item_id"])
    verdict = "同意" if approved else "不同意"
    notify(event, [request["requested_by"]], "extension_decided",
           f"延期申请{verdict}：{item.code}「{request['task_title']}」",
           f"分管领导{verdict}将期限延至 {request['new_due']}。{event.data.get('comment') or ''}",
           task_id=request["task_id"])
    if approved:
        event.outbox(APPLY, {"request": request, "approver": event.actor.username,
                             "extension_id": event.instance.id})


def register(registry):
    registry.on("task_opened", process=PROCESS_KEY, task="approve_extension")(on_task_opened)
    registry.on("task_completed", process=PROCESS_KEY, task="approve_extension")(on_task_completed)
    registry.effect(APPLY, apply_effect)
