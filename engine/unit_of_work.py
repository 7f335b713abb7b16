"""One unit of work per command (DESIGN invariants 1 and 2).

``run`` loads an instance in a short read transaction, applies the command to the in-memory
workflow, runs SpiffWorkflow until it waits, and then writes in ONE transaction: the
serialized state (``UPDATE ... WHERE version = :v``), the human-task and timer projections,
the audit records and whatever the registry's listeners write. No lock is held while the
workflow runs; a lost race raises :class:`StaleInstance` and writes nothing.

A command that is refused (raises an :class:`EngineError` before the workflow advances)
writes nothing. A failure while the workflow advances (a script error, a time-out, a failing
service) is saved: the instance goes to ``error`` with the reason and the task, and the
person's own step stays done.
"""
import dataclasses
import datetime as dt
import json
import uuid

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from engine import projection, serialization
from engine.clock import using_clock
from engine.errors import Conflict, EngineError, NotFound, StaleInstance
from engine.events import Event
from engine.models import HumanTask, Instance, Timer


@dataclasses.dataclass
class Context:
    """What a command did, collected while it ran; written by the unit of work."""

    actor: object
    now: dt.datetime
    instance: Instance
    workflow: BpmnWorkflow | None = None
    audits: list = dataclasses.field(default_factory=list)   # (kind, data)
    events: list = dataclasses.field(default_factory=list)   # (name, task_key, task_id, data)
    completed: dict = dataclasses.field(default_factory=dict)  # task id -> form data
    status: str | None = None                                 # forced final status
    error: str | None = None
    error_task: str | None = None
    opened: list = dataclasses.field(default_factory=list)    # HumanTask rows opened
    closed: dict = dataclasses.field(default_factory=dict)    # task id -> HumanTask row closed
    timers_before: list = dataclasses.field(default_factory=list)  # waiting when loaded

    def audit(self, kind, **data):
        self.audits.append((kind, data))

    def emit(self, name, task_key=None, task_id=None, data=None):
        self.events.append((name, task_key, task_id, data or {}))


def _jsonable(data):
    return json.loads(json.dumps(data, default=str, ensure_ascii=False))


class UnitOfWork:
    def __init__(self, runtime):
        self.rt = runtime

    # -- start ----------------------------------------------------------------------------
    def start(self, definition, variables, actor, business_key=None):
        spec, subprocess_specs = self.rt.definitions.spec(definition)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.rt.script_engine())
        workflow.task_tree.data.update(variables)
        now = self.rt.clock.now()
        instance = Instance(
            id=str(uuid.uuid4()), definition_id=definition.id, definition_key=definition.key,
            definition_version=definition.version, business_key=business_key, status="running",
            state="", variables=_jsonable(variables), started_by=actor.username,
            started_at=now, updated_at=now, version=0)
        ctx = Context(actor=actor, now=now, instance=instance, workflow=workflow)
        ctx.audit("instance_started", definition=definition.key, version=definition.version)
        ctx.emit("instance_started", data=_jsonable(variables))
        self._advance(ctx)
        self._write(ctx, new=True)
        return ctx

    # -- run a command on an existing instance ----------------------------------------------
    def run(self, instance_id, action, actor, allow_status=("running",)):
        """Apply ``action(ctx)`` to the instance and save; returns the context."""
        with self.rt.db.read() as session:
            instance = session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"no instance {instance_id}")
            definition = self.rt.definitions.by_id(session, instance.definition_id)
        if instance.status not in allow_status:
            raise Conflict(f"instance {instance_id} is {instance.status}")
        spec, subprocess_specs = self.rt.definitions.spec(definition)
        ctx = Context(actor=actor, now=self.rt.clock.now(), instance=instance)
        ctx.workflow = serialization.load(instance.state, spec, subprocess_specs,
                                          self.rt.script_engine())
        ctx.timers_before = projection.waiting_timers(ctx.workflow)
        with using_clock(self.rt.clock):
            action(ctx)
        self._advance(ctx)
        self._write(ctx, new=False)
        return ctx

    def _advance(self, ctx):
        """Run until the workflow waits; a failure here is saved as the instance's error."""
        workflow = ctx.workflow
        with using_clock(self.rt.clock):
            try:
                if ctx.status is None:
                    workflow.refresh_timers()
                    workflow.do_engine_steps()
                ctx.open_tasks = projection.open_tasks(workflow, self.rt.registry.lane_roles)
                ctx.timers = projection.waiting_timers(workflow)
            except EngineError:
                raise
            except Exception as err:  # noqa: BLE001 — any failure of the model is the instance's error
                task = getattr(err, "task", None)
                ctx.status, ctx.error = "error", f"{type(err).__name__}: {err}"
                ctx.error_task = task.task_spec.bpmn_id if task is not None else None
                ctx.open_tasks, ctx.timers = [], []
                ctx.audit("instance_error", error=ctx.error, task=ctx.error_task)
        if ctx.status is None:
            ctx.status = "completed" if workflow.is_completed() else "running"
            if ctx.status == "completed":
                ctx.audit("instance_completed")
                ctx.emit("instance_completed")

    # -- write ------------------------------------------------------------------------------
    def _write(self, ctx, new):
        instance, workflow = ctx.instance, ctx.workflow
        values = dict(state=serialization.dump(workflow), status=ctx.status, updated_at=ctx.now,
                      variables=self._variables(workflow), error=ctx.error,
                      error_task=ctx.error_task)
        if ctx.status in ("completed", "cancelled"):
            values["ended_at"] = ctx.now
        with self.rt.db.write() as session:
            if new:
                for name, value in values.items():
                    setattr(instance, name, value)
                instance.version = 1
                session.add(instance)
                session.flush()
            else:
                result = session.execute(
                    update(Instance).where(Instance.id == instance.id,
                                           Instance.version == instance.version)
                    .values(version=instance.version + 1, **values)
                    .execution_options(synchronize_session=False))
                if result.rowcount != 1:
                    raise StaleInstance(f"instance {instance.id} was changed by another command; "
                                        "reload and try again")
                # The row now holds exactly these values: keep the (detached) object in step
                # instead of reading it back.
                for name, value in values.items():
                    setattr(instance, name, value)
                instance.version += 1
            self._sync_tasks(session, ctx, new)
            self._sync_timers(session, ctx, new)
            for name, task_key, task_id, data in ctx.events:
                self.rt.registry.emit(Event(name, session, instance, ctx.actor, ctx.now, self.rt,
                                            task_key, task_id, data))
            # Last: appending locks the audit chain's head until this transaction commits.
            self.rt.audit.extend(session, [
                dict(kind=kind, actor=ctx.actor.username, instance_id=instance.id,
                     business_key=instance.business_key, data=_jsonable(data))
                for kind, data in ctx.audits])

    @staticmethod
    def _variables(workflow):
        task = workflow.last_task or workflow.task_tree
        return _jsonable({k: v for k, v in task.data.items() if not callable(v)})

    def _sync_tasks(self, session, ctx, new):
        instance = ctx.instance
        rows = {} if new else {row.id: row for row in session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.state == "open"))}
        current = {task.id: task for task in ctx.open_tasks}
        for task_id, row in rows.items():
            if task_id in current:
                task = current[task_id]
                row.due_at, row.candidate_user = task.due_at, task.candidate_user
                row.candidate_role, row.candidate_department = task.candidate_role, task.candidate_department
                continue
            row.completed_at = ctx.now
            ctx.closed[task_id] = row
            if task_id in ctx.completed:
                row.state, row.completed_by, row.data = "completed", ctx.actor.username, ctx.completed[task_id]
            else:
                spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(task_id))
                done = spiff_task is not None and spiff_task.state == TaskState.COMPLETED
                row.state = "completed" if done else "cancelled"
        for task_id, task in current.items():
            if task_id not in rows:
                row = HumanTask(
                    id=task.id, instance_id=instance.id, definition_id=instance.definition_id,
                    business_key=instance.business_key, key=task.key, title=task.title, lane=task.lane,
                    candidate_role=task.candidate_role, candidate_department=task.candidate_department,
                    candidate_user=task.candidate_user, started_by=instance.started_by,
                    state="open", created_at=ctx.now, due_at=task.due_at)
                session.add(row)
                ctx.opened.append(row)
                ctx.events.append(("task_opened", task.key, task.id, {}))
        session.flush()

    def _sync_timers(self, session, ctx, new):
        instance = ctx.instance
        current = {timer.id: timer for timer in ctx.timers}
        if new or (not current and not ctx.timers_before):
            # The waiting rows are the timers the workflow waited on when it was saved (written
            # in the same transaction), so with none then and none now there is nothing to read.
            rows = {}
        else:
            rows = {row.id: row for row in session.scalars(select(Timer).where(
                Timer.instance_id == instance.id, Timer.state == "waiting"))}
        for timer_id, row in rows.items():
            if timer_id in current:
                row.fire_at = current[timer_id].fire_at
                continue
            spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(timer_id))
            fired = spiff_task is not None and spiff_task.state == TaskState.COMPLETED
            row.state = "fired" if fired else "cancelled"
            if fired:
                ctx.audits.append(("timer_fired", {"task": row.task_key, "due": row.fire_at}))
                ctx.events.append(("timer_fired", row.task_key, row.id, {"due": row.fire_at}))
        for timer_id, timer in current.items():
            if timer_id not in rows:
                session.add(Timer(id=timer.id, instance_id=instance.id, task_key=timer.key,
                                  fire_at=timer.fire_at, state="waiting"))
        session.flush()
