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
import collections
import contextlib
import contextvars
import dataclasses
import datetime as dt
import json
import logging
import uuid

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, func, insert, select, update

from engine import compaction, projection, serialization
from engine.clock import FixedClock, using_clock
from engine.errors import Conflict, EngineError, NotFound, StaleInstance
from engine.events import Event
from engine.models import HumanTask, Instance, Timer

INSTANCE, HUMAN_TASK, TIMER = Instance.__table__, HumanTask.__table__, Timer.__table__
# Built once (every command saves): the optimistic save of an instance.
_SAVE_INSTANCE = update(INSTANCE).where(
    INSTANCE.c.id == bindparam("saved_id"), INSTANCE.c.version == bindparam("saved_version"))

_BUSINESS_KEY = object()  # marks a listener's record that names another business key
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
    tasks_before: list = dataclasses.field(default_factory=list)   # ids of tasks open when loaded
    retry: tuple | None = None                                # (task key, retries, backoff base)
    loaded_status: str | None = None                          # the instance's status when loaded
    outcomes: dict = dataclasses.field(default_factory=dict)  # task id -> done (see done())
    variables: dict | None = None                             # read before compaction

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

    @property
    def loaded_in_error(self):
        """The instance was in error when loaded: its projection rows were left as they were
        when it failed, so they are read rather than known from the workflow, and a retry
        may reopen rows. Such an instance is not compacted."""
        return self.loaded_status == "error"

    def done(self, task_id):
        """Whether SpiffWorkflow task ``task_id`` completed (a timer: fired its last time)."""
        if task_id not in self.outcomes:
            task = self.workflow.get_task_from_id(uuid.UUID(task_id))
            self.outcomes[task_id] = task is not None and (task.state == TaskState.COMPLETED
                                                           or _cycles_used_up(task))
        return self.outcomes[task_id]

    def emit(self, name, task_key=None, task_id=None, data=None):
        self.events.append((name, task_key, task_id, data or {}))

    def after_commit(self, fn):
        self.committed.append(fn)

    def audit_for_listener(self, kind, data=None, business_key=None):
        """A listener's audit record (``Event.audit``): written last, with the engine's own."""
        self.audits.append((kind, {**(data or {}), _BUSINESS_KEY: business_key}))


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
        with self._command(ctx):
            self._advance(ctx)
            self._write(ctx, new=True)
        self._after_commit(ctx)
        return ctx

    # -- run a command on an existing instance ----------------------------------------------
    def run(self, instance_id, action, actor, allow_status=("running",), instance=None):
        """Apply ``action(ctx)`` to the instance and save; returns the context.

        ``instance``: the row, when the caller has just read it (saves a read); a stale copy
        is harmless, the save's version check refuses it.
        """
        with self.rt.db.read() as session:
            if instance is None:
                instance = session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"no instance {instance_id}", reason="no_instance")
            definition = self.rt.definitions.by_id(session, instance.definition_id)
        if instance.status not in allow_status:
            raise Conflict(f"instance {instance_id} is {instance.status}", reason="instance_not_running")
        ctx = Context(actor=actor, now=self.rt.clock.now(), instance=instance,
                      loaded_status=instance.status)
        ctx.workflow = self._load(instance, definition)
        ctx.timers_before = projection.waiting_timers(ctx.workflow)
        ctx.tasks_before = projection.open_task_ids(ctx.workflow)
        with self._command(ctx):
            action(ctx)
            self._advance(ctx)
            self._write(ctx, new=False)
        self._after_commit(ctx)
        return ctx

    @staticmethod
    @contextlib.contextmanager
    def _command(ctx):
        """While a command runs and writes: ``ctx`` is the running unit of work, and every
        clock in the engine and in SpiffWorkflow reads the command's instant."""
        token = _running.set(ctx)
        try:
            with using_clock(FixedClock(ctx.now)):
                yield
        finally:
            _running.reset(token)

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
        if ctx.status == "running" and not ctx.loaded_in_error:
            self._compact(ctx)

    def _compact(self, ctx):
        """Drop the workflow's finished past before it is saved (engine.compaction), after
        reading what the save still needs from it: the outcome of every task and timer that
        was waiting when loaded, and the variables."""
        for task_id in (*ctx.tasks_before, *(timer.id for timer in ctx.timers_before)):
            ctx.done(task_id)
        ctx.variables = self._variables(ctx.workflow)
        compaction.compact(ctx.workflow)

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
    # The write path runs on every command, so it speaks Core SQL over the session's connection
    # (no ORM identity map or flush for its own rows); listeners keep the ORM session, in the
    # same transaction.
    def _write(self, ctx, new):
        instance, workflow = ctx.instance, ctx.workflow
        moved = ctx.definition  # a migration moves the instance to another version
        values = dict(state=serialization.dump(workflow), status=ctx.status, updated_at=ctx.now,
                      variables=ctx.variables if ctx.variables is not None else self._variables(workflow),
                      error=ctx.error, error_task=ctx.error_task,
                      ended_at=ctx.now if ctx.status in ("completed", "cancelled") else instance.ended_at,
                      definition_id=moved.id if moved else instance.definition_id,
                      definition_version=moved.version if moved else instance.definition_version)
        with self.rt.db.write() as session:
            connection = session.connection()
            if new:
                for name, value in values.items():
                    setattr(instance, name, value)
                instance.version = 1
                connection.execute(insert(INSTANCE).values(
                    {column.name: getattr(instance, column.name) for column in INSTANCE.columns}))
            else:
                result = connection.execute(_SAVE_INSTANCE, {
                    **values, "version": instance.version + 1,
                    "saved_id": instance.id, "saved_version": instance.version})
                if result.rowcount != 1:
                    raise StaleInstance(f"instance {instance.id} was changed by another command; "
                                        "reload and try again", reason="changed_concurrently")
                # The row now holds exactly these values: keep the (detached) object in step
                # instead of reading it back.
                for name, value in values.items():
                    setattr(instance, name, value)
                instance.version += 1
            self._sync_tasks(connection, ctx, new)
            self._sync_timers(connection, ctx, new)
            if ctx.retry:
                self._schedule_retry(session, ctx)
            for name, task_key, task_id, data in ctx.events:
                self.rt.registry.emit(Event(name, session, instance, ctx.actor, ctx.now, self.rt,
                                            task_key, task_id, data, ctx.after_commit,
                                            ctx.audit_for_listener))
            # Last: appending locks the audit chain's head until this transaction commits.
            self.rt.audit.extend(session, [_audit_entry(ctx, kind, data) for kind, data in ctx.audits],
                                 at=ctx.now)

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

    def _sync_tasks(self, connection, ctx, new):
        """Close, update and open ``human_task`` rows so the open ones are the workflow's.

        The open rows are the tasks that were open when the instance was last saved (written
        in the same transaction), so they are known from the loaded workflow without a read,
        except after a failure, when the rows were left as they were: an instance loaded in
        error reads them, and only such an instance (retried) can open a task it had opened
        before, whose row is then reopened instead of inserted.
        """
        instance = ctx.instance
        if new:
            open_ids = set()
        elif ctx.loaded_in_error:
            open_ids = set(connection.scalars(select(HUMAN_TASK.c.id).where(
                HUMAN_TASK.c.instance_id == instance.id, HUMAN_TASK.c.state == "open")))
        else:
            open_ids = set(ctx.tasks_before)
        if ctx.open_tasks is None:  # unknown after a failure: close only what the person completed
            current, closing = {}, open_ids & ctx.completed.keys()
        else:
            current = {task.id: task for task in ctx.open_tasks}
            closing = open_ids - current.keys()
        self._update_routing(connection, [current[task_id] for task_id in open_ids & current.keys()])
        for task_id in closing:
            changes = dict(completed_at=ctx.now, state=self._closed_state(ctx, task_id))
            if task_id in ctx.completed:
                changes.update(completed_by=ctx.actor.username, data=ctx.completed[task_id])
            row = connection.execute(update(HUMAN_TASK).where(HUMAN_TASK.c.id == task_id)
                                     .values(changes).returning(*HUMAN_TASK.c)).mappings().one()
            ctx.closed[task_id] = HumanTask(**row)
        opening = [task for task_id, task in current.items() if task_id not in open_ids]
        if opening and ctx.loaded_in_error:
            opening = self._reopen(connection, opening)
        if not opening:
            return
        created = [dict(id=task.id, instance_id=instance.id, definition_id=instance.definition_id,
                        business_key=instance.business_key, key=task.key, title=task.title,
                        lane=task.lane, **_routing(task), started_by=instance.started_by,
                        state="open", created_at=ctx.now, assignee=None, completed_at=None,
                        completed_by=None, data=None) for task in opening]
        connection.execute(insert(HUMAN_TASK), created)
        for values in created:
            ctx.opened.append(HumanTask(**values))
            spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(values["id"]))
            ctx.events.append(("task_opened", values["key"], values["id"], _jsonable(
                {k: v for k, v in spiff_task.data.items() if not callable(v)})))

    @staticmethod
    def _update_routing(connection, staying):
        """Tasks open before and after the command: write their due time and candidates where
        the command changed them (a rescheduled due time, a reassignment)."""
        if not staying:
            return
        columns = [HUMAN_TASK.c.id, *(HUMAN_TASK.c[name] for name in _routing(staying[0]))]
        rows = {row.id: row._mapping for row in connection.execute(
            select(*columns).where(HUMAN_TASK.c.id.in_([task.id for task in staying])))}
        for task in staying:
            changes = {name: value for name, value in _routing(task).items() if rows[task.id][name] != value}
            if changes:
                connection.execute(update(HUMAN_TASK).where(HUMAN_TASK.c.id == task.id).values(changes))

    @staticmethod
    def _closed_state(ctx, task_id):
        return "completed" if task_id in ctx.completed or ctx.done(task_id) else "cancelled"

    @staticmethod
    def _reopen(connection, opening):
        """Tasks open again after their instance failed and was retried: the same rows,
        reopened. Returns the tasks that are really new."""
        known = set(connection.scalars(select(HUMAN_TASK.c.id).where(
            HUMAN_TASK.c.id.in_([task.id for task in opening]))))
        for task in opening:
            if task.id in known:
                connection.execute(update(HUMAN_TASK).where(HUMAN_TASK.c.id == task.id).values(
                    state="open", completed_at=None, completed_by=None, **_routing(task)))
        return [task for task in opening if task.id not in known]

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

    def _sync_timers(self, connection, ctx, new):
        """Write the timer projection; every occurrence that fired gets a ``timer_fired`` record.

        A cycle timer keeps its row (one SpiffWorkflow task) while occurrences fire: an
        occurrence fired when its ``fire_at`` moved on, and the last one when the row leaves
        the projection with its cycles used up.
        """
        instance = ctx.instance
        if ctx.timers is None:  # unknown after a failure: the rows stay as they are
            return
        current = {timer.id: timer for timer in ctx.timers}
        if new:
            rows = {}
        elif not ctx.loaded_in_error:
            # The waiting rows (and incidents, still waiting to SpiffWorkflow) are the timers the
            # workflow waited on when it was saved, written in the same transaction: no read.
            rows = {timer.id: WaitingRow(timer.id, timer.key, timer.fire_at) for timer in ctx.timers_before}
        else:  # after a failure the rows were left as they were
            rows = {row.id: row for row in connection.execute(
                select(TIMER.c.id, TIMER.c.task_key, TIMER.c.fire_at).where(
                    TIMER.c.instance_id == instance.id, TIMER.c.state.in_(("waiting", "incident")),
                    ~TIMER.c.task_key.startswith(RETRY_PREFIX)))}

        def fired(row):
            ctx.audits.append(("timer_fired", {"task": row.task_key, "due": row.fire_at}))
            ctx.events.append(("timer_fired", row.task_key, row.id, {"due": row.fire_at}))

        ended = {"fired": [], "cancelled": []}
        for timer_id, row in rows.items():
            if timer_id in current:
                fire_at = current[timer_id].fire_at
                if fire_at != row.fire_at:
                    if row.fire_at < ctx.now:
                        fired(row)  # a cycle's occurrence; the row waits for the next one
                    connection.execute(update(TIMER).where(TIMER.c.id == timer_id).values(fire_at=fire_at))
                continue
            done = ctx.done(timer_id)
            ended["fired" if done else "cancelled"].append(timer_id)
            if done:
                fired(row)
        for state, timer_ids in ended.items():
            if timer_ids:
                connection.execute(update(TIMER).where(TIMER.c.id.in_(timer_ids)).values(state=state))
        adding = [timer for timer_id, timer in current.items() if timer_id not in rows]
        if adding and ctx.loaded_in_error:
            known = set(connection.scalars(select(TIMER.c.id).where(
                TIMER.c.id.in_([timer.id for timer in adding]))))
            for timer in adding:
                if timer.id in known:  # waiting again after its instance failed and was retried
                    connection.execute(update(TIMER).where(TIMER.c.id == timer.id).values(
                        state="waiting", fire_at=timer.fire_at, attempts=0, lease_owner=None,
                        lease_until=None, last_error=None))
            adding = [timer for timer in adding if timer.id not in known]
        if adding:
            connection.execute(insert(TIMER), [
                dict(id=timer.id, instance_id=instance.id, task_key=timer.key, fire_at=timer.fire_at,
                     state="waiting", attempts=0, lease_owner=None, lease_until=None, last_error=None)
                for timer in adding])


def _audit_entry(ctx, kind, data):
    business_key = data.pop(_BUSINESS_KEY, None) or ctx.instance.business_key
    return dict(kind=kind, actor=ctx.actor.username, instance_id=ctx.instance.id,
                business_key=business_key, data=_jsonable(data))


WaitingRow = collections.namedtuple("WaitingRow", "id task_key fire_at")


def _routing(task):
    """The columns of a ``human_task`` row that follow the open task: due time and candidates."""
    return dict(due_at=task.due_at, candidate_user=task.candidate_user,
                candidate_role=task.candidate_role, candidate_department=task.candidate_department)


def _cycles_used_up(task):
    """A cycle timer whose last occurrence fired (SpiffWorkflow leaves it READY, not COMPLETED)."""
    value = task.internal_data.get("event_value")
    return (task.state & TaskState.NOT_FINISHED_MASK and isinstance(value, dict)
            and value.get("cycles") == 0)
