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

Events reach the registry's listeners inside the write transaction: the engine's own
(``task_opened`` carries the data the task opened with) and those BPMN scripts raise with
``emit(name, data)`` while the workflow runs. Callbacks listeners hand to ``after_commit`` run
once the transaction has committed, in order; a failing callback is logged and never undoes
the command (they are best effort: a crash between commit and callback loses it).
"""
import contextvars
import dataclasses
import datetime as dt
import json
import logging
import uuid

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select, update

from engine import projection, serialization
from engine.clock import FixedClock, using_clock
from engine.errors import Conflict, EngineError, NotFound, StaleInstance
from engine.events import Event
from engine.models import HumanTask, Instance, Timer

RETRY_PREFIX = "retry:"  # task_key of a service task's retry row in the timer table

log = logging.getLogger(__name__)
_running = contextvars.ContextVar("duban_unit_of_work", default=None)


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
    definition: object = None                                 # set when the instance changes version
    committed: list = dataclasses.field(default_factory=list)  # callbacks to run after commit
    closed: dict = dataclasses.field(default_factory=dict)    # task id -> HumanTask row closed
    timers_before: list = dataclasses.field(default_factory=list)  # waiting when loaded
    retry: tuple | None = None                                # (task key, retries, backoff base)

    def audit(self, kind, **data):
        self.audits.append((kind, data))

    def fail(self, err):
        """Record a failure of the model: the instance is saved in error with the reason and task."""
        task = getattr(err, "task", None)
        self.status, self.error = "error", f"{type(err).__name__}: {err}"
        self.error_task = task.task_spec.bpmn_id if task is not None else None
        self.open_tasks = self.timers = None  # unknown: the projections keep their rows
        retries = getattr(task.task_spec, "retries", None) if task is not None else None
        if retries:  # spiffworkflow:retry on a service task: SpiffWorkflow parses it, we run it
            self.retry = (task.task_spec.bpmn_id, int(retries),
                          int(getattr(task.task_spec, "retry_backoff_base", None) or 1))
        self.audit("instance_error", error=self.error, task=self.error_task)

    def emit(self, name, task_key=None, task_id=None, data=None):
        self.events.append((name, task_key, task_id, data or {}))

    def after_commit(self, fn):
        self.committed.append(fn)


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
        token = _running.set(ctx)
        try:
            self._advance(ctx)
        finally:
            _running.reset(token)
        self._write(ctx, new=True)
        self._after_commit(ctx)
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
        ctx = Context(actor=actor, now=self.rt.clock.now(), instance=instance)
        ctx.workflow = self._load(instance, definition)
        ctx.timers_before = projection.waiting_timers(ctx.workflow)
        token = _running.set(ctx)
        try:
            with using_clock(FixedClock(ctx.now)):
                action(ctx)
            self._advance(ctx)
        finally:
            _running.reset(token)
        self._write(ctx, new=False)
        self._after_commit(ctx)
        return ctx

    def load(self, instance):
        """The instance's workflow, for read-only inspection (dry runs); never saved."""
        with self.rt.db.read() as session:
            definition = self.rt.definitions.by_id(session, instance.definition_id)
        return self._load(instance, definition)

    def _load(self, instance, definition):
        spec, subprocess_specs = self.rt.definitions.spec(definition)
        return serialization.load(instance.state, spec, subprocess_specs, self.rt.script_engine())

    def emit_from_script(self, name, data=None):
        """``emit(name, data)`` in a BPMN script: a declared domain event for the listeners."""
        ctx = _running.get()
        if ctx is None:
            raise RuntimeError("emit() only works while a unit of work runs the workflow")
        if not self.rt.registry.is_declared(name):
            raise ValueError(f"emit(): no event {name!r} is declared by the registry")
        if data is not None and not isinstance(data, dict):
            raise TypeError("emit(): data must be a dict")
        ctx.emit(name, data=_jsonable(data or {}))

    def _advance(self, ctx):
        """Run until the workflow waits; a failure here is saved as the instance's error."""
        workflow = ctx.workflow
        if ctx.status == "error":  # the command's own step failed in the model (ctx.fail)
            return
        with using_clock(FixedClock(ctx.now)):  # the command's instant, for every timer
            try:
                if ctx.status is None:
                    workflow.refresh_timers()
                    workflow.do_engine_steps()
                ctx.open_tasks = projection.open_tasks(workflow, self.rt.registry.lane_roles)
                ctx.timers = projection.waiting_timers(workflow)
            except EngineError:
                raise
            except Exception as err:  # noqa: BLE001 — any failure of the model is the instance's error
                ctx.fail(err)
                self._project_after_failure(ctx)
        if ctx.status is None:  # ("suspended" and "cancelled" are set by their commands)
            ctx.status = "completed" if workflow.is_completed() else "running"
            if ctx.status == "completed":
                ctx.audit("instance_completed")
                ctx.emit("instance_completed")

    def _project_after_failure(self, ctx):
        """Best effort: the open tasks and timers of a workflow that stopped on an error.

        Kept accurate so that a retry, which reopens the same SpiffWorkflow tasks, finds its
        rows; when even that fails, the rows stay as they were (``None``).
        """
        try:
            ctx.open_tasks = projection.open_tasks(ctx.workflow, self.rt.registry.lane_roles)
            ctx.timers = projection.waiting_timers(ctx.workflow)
        except Exception:  # noqa: BLE001
            ctx.open_tasks = ctx.timers = None

    # -- write ------------------------------------------------------------------------------
    def _write(self, ctx, new):
        instance, workflow = ctx.instance, ctx.workflow
        values = dict(state=serialization.dump(workflow), status=ctx.status, updated_at=ctx.now,
                      variables=self._variables(workflow), error=ctx.error,
                      error_task=ctx.error_task)
        if ctx.status in ("completed", "cancelled"):
            values["ended_at"] = ctx.now
        if ctx.definition is not None:
            values.update(definition_id=ctx.definition.id, definition_version=ctx.definition.version)
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
            if ctx.retry:
                self._schedule_retry(session, ctx)
            for name, task_key, task_id, data in ctx.events:
                self.rt.registry.emit(Event(name, session, instance, ctx.actor, ctx.now, self.rt,
                                            task_key, task_id, data, ctx.after_commit))
            # Last: appending locks the audit chain's head until this transaction commits.
            self.rt.audit.extend(session, [
                dict(kind=kind, actor=ctx.actor.username, instance_id=instance.id,
                     business_key=instance.business_key, data=_jsonable(data))
                for kind, data in ctx.audits])

    @staticmethod
    def _after_commit(ctx):
        for fn in ctx.committed:
            try:
                fn()
            except Exception:  # noqa: BLE001 — the command has committed; a follow-up never undoes it
                log.exception("after-commit callback of instance %s failed", ctx.instance.id)

    @staticmethod
    def _variables(workflow):
        task = workflow.last_task or workflow.task_tree
        return _jsonable({k: v for k, v in task.data.items() if not callable(v)})

    def _sync_tasks(self, session, ctx, new):
        instance = ctx.instance
        rows = {} if new else {row.id: row for row in session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.state == "open"))}
        if ctx.open_tasks is None:  # unknown after a failure: close only what the person completed
            rows = {task_id: row for task_id, row in rows.items() if task_id in ctx.completed}
            current = {}
        else:
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
                if not new and self._reopen(session, ctx, task):
                    continue
                row = HumanTask(
                    id=task.id, instance_id=instance.id, definition_id=instance.definition_id,
                    business_key=instance.business_key, key=task.key, title=task.title, lane=task.lane,
                    candidate_role=task.candidate_role, candidate_department=task.candidate_department,
                    candidate_user=task.candidate_user, started_by=instance.started_by,
                    state="open", created_at=ctx.now, due_at=task.due_at)
                session.add(row)
                ctx.opened.append(row)
                spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(task.id))
                ctx.events.append(("task_opened", task.key, task.id, _jsonable(
                    {k: v for k, v in spiff_task.data.items() if not callable(v)})))
        session.flush()

    @staticmethod
    def _schedule_retry(session, ctx):
        """A retry row ``backoff_base * 2**n`` seconds on, while retries remain; else it stays an incident."""
        key, retries, base = ctx.retry
        task_key = RETRY_PREFIX + key
        done = session.scalar(select(func.count()).select_from(Timer).where(
            Timer.instance_id == ctx.instance.id, Timer.task_key == task_key))
        if done >= retries:
            ctx.audit("service_retries_exhausted", task=key, retries=retries)
            return
        fire_at = ctx.now + dt.timedelta(seconds=base * 2 ** done)
        session.add(Timer(id=str(uuid.uuid4()), instance_id=ctx.instance.id, task_key=task_key,
                          fire_at=fire_at, state="waiting"))
        ctx.audit("service_retry_scheduled", task=key, attempt=done + 1, of=retries, at=fire_at)

    @staticmethod
    def _reopen(session, ctx, task):
        """A task open again after its instance failed and was retried: the same row, reopened."""
        row = session.get(HumanTask, task.id)
        if row is None:
            return False
        row.state, row.completed_at, row.completed_by = "open", None, None
        row.due_at, row.candidate_user = task.due_at, task.candidate_user
        row.candidate_role, row.candidate_department = task.candidate_role, task.candidate_department
        return True

    def _sync_timers(self, session, ctx, new):
        """Write the timer projection; every occurrence that fired gets a ``timer_fired`` record.

        A cycle timer keeps its row (one SpiffWorkflow task) while occurrences fire: an
        occurrence fired when its ``fire_at`` moved on, and the last one when the row leaves
        the projection with its cycles used up.
        """
        instance = ctx.instance
        if ctx.timers is None:  # unknown after a failure: the rows stay as they are
            return
        current = {timer.id: timer for timer in ctx.timers}
        if new or (not current and not ctx.timers_before):
            # The waiting rows are the timers the workflow waited on when it was saved (written
            # in the same transaction), so with none then and none now there is nothing to read.
            rows = {}
        else:
            # An incident is still a waiting timer to SpiffWorkflow: keep its row (and its state).
            rows = {row.id: row for row in session.scalars(select(Timer).where(
                Timer.instance_id == instance.id, Timer.state.in_(("waiting", "incident")),
                ~Timer.task_key.startswith(RETRY_PREFIX)))}

        def fired(row):
            ctx.audits.append(("timer_fired", {"task": row.task_key, "due": row.fire_at}))
            ctx.events.append(("timer_fired", row.task_key, row.id, {"due": row.fire_at}))

        for timer_id, row in rows.items():
            if timer_id in current:
                if current[timer_id].fire_at != row.fire_at and row.fire_at < ctx.now:
                    fired(row)  # a cycle's occurrence; the row waits for the next one
                row.fire_at = current[timer_id].fire_at
                continue
            spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(timer_id))
            done = spiff_task is not None and (spiff_task.state == TaskState.COMPLETED
                                               or _cycles_used_up(spiff_task))
            row.state = "fired" if done else "cancelled"
            if done:
                fired(row)
        for timer_id, timer in current.items():
            if timer_id in rows:
                continue
            row = None if new else session.get(Timer, timer.id)
            if row is not None:  # waiting again after its instance failed and was retried
                row.state, row.fire_at, row.attempts = "waiting", timer.fire_at, 0
                row.lease_owner = row.lease_until = row.last_error = None
            else:
                session.add(Timer(id=timer.id, instance_id=instance.id, task_key=timer.key,
                                  fire_at=timer.fire_at, state="waiting"))
        session.flush()


def _cycles_used_up(task):
    """A cycle timer whose last occurrence fired (SpiffWorkflow leaves it READY, not COMPLETED)."""
    value = task.internal_data.get("event_value")
    return (task.state & TaskState.NOT_FINISHED_MASK and isinstance(value, dict)
            and value.get("cycles") == 0)
