"""Process instances: start, read, cancel, deliver messages."""
import json

from sqlalchemy import func, select
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.db import unavailable
from engine.errors import Conflict, InvalidInput, NotFound, problem
from engine.models import HumanTask, Instance
from engine.scripting import check_data_size
from engine.serialization import typename_paths

STATUSES = ("running", "suspended", "completed", "cancelled", "error")


def _check_variables(variables, reserved):
    if not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object",
                           details=[problem("variables", "invalid", "expected an object")])
    problems = [problem(f"variables/{path}", "reserved_key", "the key 'typename' is reserved")
                for path in typename_paths(variables)]
    problems += [problem(f"variables/{name}", "reserved_name", "this name is a script function")
                 for name in sorted(set(variables) & reserved)]
    try:
        json.dumps(variables)
    except (TypeError, ValueError) as err:
        problems.append(problem("variables", "not_json", f"not JSON-serialisable: {err}"))
    if problems:
        raise InvalidInput("invalid start variables", details=problems)


def _catches(workflow, event):
    """Whether ``workflow`` catches ``event``: a waiting task (an intermediate or boundary event,
    a receive task, a start event, or one of the events an event-based gateway waits for, whose
    names ``waiting_events()`` does not list), or the start event of one of the process's
    event subprocesses (SpiffWorkflow starts those on the event, see ``EventManager.catch``)."""
    if any(task.task_spec.event_definition.catches(task, event)
           for task in workflow.event_manager.tasks.values()):
        return True
    for name in workflow.spec.start.trigger_specs:
        if any(start.event_definition == event.event_definition
               for start in workflow.subprocess_specs[name].bpmn_start_events):
            return True
    return False


class Instances:
    def __init__(self, runtime):
        self.rt = runtime

    def start(self, key, variables, actor, version=None, business_key=None):
        """Start the latest (or given) version of ``key`` and run it until it waits."""
        variables = variables or {}
        _check_variables(variables, set(self.rt.script_functions()))
        check_data_size(variables, self.rt.max_data_bytes, "the start variables")
        with self.rt.db.read() as session:
            definition = self.rt.definitions.get(session, key, version)
        if definition.kind != "bpmn":
            raise InvalidInput(f"{key!r} is a decision table, not a process", reason="not_a_process")
        return self.rt.uow.start(definition, variables, actor, business_key).instance

    def get(self, instance_id):
        with self.rt.db.read() as session:
            instance = session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"no instance {instance_id}", reason="no_instance")
            return instance

    def open_tasks(self, session, instance_ids):
        rows = session.scalars(select(HumanTask).where(
            HumanTask.instance_id.in_(instance_ids), HumanTask.state == "open")
            .order_by(HumanTask.created_at))
        tasks = {}
        for row in rows:
            tasks.setdefault(row.instance_id, []).append(row)
        return tasks

    def list(self, definition=None, status=None, business_key=None, limit=50, offset=0, scope=None):
        """``(rows, total)``, newest first. ``scope``: a condition on ``Instance`` the caller's
        access policy adds (who may see which instance is not the engine's to decide)."""
        query = select(Instance)
        if scope is not None:
            query = query.where(scope)
        if definition:
            query = query.where(Instance.definition_key == definition)
        if status:
            query = query.where(Instance.status == status)
        if business_key:
            query = query.where(Instance.business_key == business_key)
        with self.rt.db.read() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            rows = list(session.scalars(query.order_by(Instance.started_at.desc(), Instance.id)
                                        .limit(limit).offset(offset)))
        return rows, total

    def counts(self, definition=None, scope=None):
        """``[(key, version, status, count)]``: instances per definition version and status
        (``scope``: as for :meth:`list`)."""
        query = select(Instance.definition_key, Instance.definition_version, Instance.status, func.count())
        if scope is not None:
            query = query.where(scope)
        if definition:
            query = query.where(Instance.definition_key == definition)
        with self.rt.db.read() as session:
            return [tuple(row) for row in session.execute(
                query.group_by(Instance.definition_key, Instance.definition_version, Instance.status)
                .order_by(Instance.definition_key, Instance.definition_version, Instance.status))]

    def cancel(self, instance_id, reason, actor):
        def action(ctx):
            ctx.workflow.cancel()
            ctx.status = "cancelled"
            ctx.audit("instance_cancelled", reason=reason)
            ctx.emit("instance_cancelled", data={"reason": reason})
        return self.rt.uow.run(instance_id, action, actor, command="cancel",
                               allow_status=("running", "suspended", "error")).instance

    def suspend(self, instance_id, reason, actor):
        """Pause an instance: no task can be completed and no timer fires until it is resumed."""
        def action(ctx):
            ctx.status = "suspended"
            ctx.audit("instance_suspended", reason=reason)
        return self.rt.uow.run(instance_id, action, actor, command="suspend").instance

    def resume(self, instance_id, actor):
        """Continue a suspended instance; timers that fell due meanwhile fire now."""
        def action(ctx):
            ctx.audit("instance_resumed")
        return self.rt.uow.run(instance_id, action, actor, allow_status=("suspended",), command="resume").instance

    def retry(self, instance_id, actor):
        """Run the failed task of an instance in error again (after its cause was fixed).

        An instance its command's budget stopped (``engine.budget``) has no failed task but
        automatic tasks ready to run: the retry runs on from them, with a fresh budget.
        A failure again leaves the instance in error with the new reason.
        """
        def action(ctx):
            failed = ctx.workflow.get_tasks(state=TaskState.ERROR)
            stopped = [] if failed else [t for t in ctx.workflow.get_tasks(state=TaskState.READY)
                                         if not t.task_spec.manual]
            if not failed and not stopped:
                raise Conflict(f"instance {instance_id} has no failed task to retry", reason="nothing_to_retry")
            ctx.audit("instance_retried", tasks=[t.task_spec.bpmn_id for t in failed or stopped])
            for task in failed:
                try:
                    task.run()
                except Exception as err:  # noqa: BLE001 — still failing: saved as the error
                    outage = unavailable(err)
                    if outage is not None:  # the database, not the task: nothing is saved
                        raise outage from err
                    ctx.fail(err)
                    return
        return self.rt.uow.run(instance_id, action, actor, allow_status=("error",), command="retry").instance

    def send_message(self, instance_id, name, payload, actor):
        """Deliver message ``name``; Conflict when the instance is not waiting for it."""
        check_data_size(payload, self.rt.max_data_bytes, "the message's payload")

        def action(ctx):
            event = BpmnEvent(MessageEventDefinition(name), payload=payload)
            if not _catches(ctx.workflow, event):
                raise Conflict(f"instance is not waiting for message {name!r}", reason="not_waiting")
            ctx.workflow.send_event(event)
            ctx.audit("message_received", name=name)
        return self.rt.uow.run(instance_id, action, actor, command="message").instance
