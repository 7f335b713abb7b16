"""One unit of work per command (DESIGN invariants 1 and 2).

A command reads top to bottom: **load** the instance in a short read transaction, **apply**
the command to the in-memory workflow, **advance** it (SpiffWorkflow runs until it waits),
**compact** its finished past, and **write** in ONE transaction: the serialized state
(``UPDATE ... WHERE version = :v``), the human-task and timer projections
(``engine.projection``), a failed service task's retry row (``engine.timers``), whatever the
registry's listeners write, and the audit records. No lock is held while the workflow runs;
a lost race raises :class:`StaleInstance` and writes nothing.
A database outage is no failure of the model: it fails the command and writes nothing, even
when it surfaces inside a service task or script (``engine.db.unavailable``).

Consecutive commands on one instance in one process skip the load from JSON: the workflow a
committed command leaves is kept, valid while the stored version matches
(``engine.workflow_cache``; never after a failure).

A command that is refused (raises an :class:`EngineError` before the workflow advances)
writes nothing. A failure while the workflow advances (a script error, a time-out, a failing
service, a command past its budget of steps and seconds, ``engine.budget``) is saved: the
instance goes to ``error`` with the reason and the task, and the person's own step stays done.

Events reach the registry's listeners inside the write transaction: the engine's own
(``task_opened`` carries the data the task opened with) and those BPMN scripts raise with
``emit(name, data)`` while the workflow runs. Effects listeners hand to ``event.outbox(kind,
payload)`` are outbox rows written in the same transaction (engine.outbox); once it has
committed, this process runs them at once, and a scheduler runs any that a crash or a
failure left behind. A failing effect never undoes the command.
"""
import contextlib
import contextvars
import uuid

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import bindparam, insert, inspect, update
from sqlalchemy.orm import make_transient_to_detached

from engine import compaction, metrics, projection, serialization
from engine.budget import CommandBudget
from engine.clock import FixedClock, using_clock
from engine.context import Context
from engine.db import unavailable
from engine.errors import Conflict, EngineError, NotFound, StaleInstance
from engine.events import Event
from engine.models import Instance
from engine.timers import schedule_retry
from engine.workflow_cache import WorkflowCache

INSTANCE = Instance.__table__
# Built once (every command saves): the optimistic save of an instance.
_SAVE_INSTANCE = update(INSTANCE).where(
    INSTANCE.c.id == bindparam("saved_id"), INSTANCE.c.version == bindparam("saved_version"))

_running = contextvars.ContextVar("duban_unit_of_work", default=None)


class UnitOfWork:
    def __init__(self, runtime):
        self.rt = runtime
        CommandBudget.from_config(runtime.config)  # a bad [engine] section fails at start, not per command
        self.cache = WorkflowCache.from_config(runtime.config)

    def start(self, definition, variables, actor, business_key=None):
        """Start an instance of ``definition`` and run it until it waits; returns the context."""
        with metrics.Command("start") as measured:  # counted and timed (engine.metrics)
            budget = self._budget()  # the command's time runs from here
            self.rt.calendar.refresh()  # schedules another process entered count from this command on
            ctx = self._new(definition, variables, actor, business_key)
            ctx.budget = budget
            measured.lap("load")
            with self._command(ctx):
                self._advance(ctx)
                self._compact(ctx)
                measured.lap("run")
                self._write(ctx, new=True)
            measured.lap("save")
            if ctx.error is not None:
                measured.model_failed()
        self._keep(ctx)
        self._after_commit(ctx)
        return ctx

    def run(self, instance_id, action, actor, allow_status=("running",), instance=None, command="command"):
        """Apply ``action(ctx)`` to the instance and save; returns the context.

        ``instance``: the row, when the caller has just read it (saves a read); a stale copy
        is harmless, the save's version check refuses it. ``command``: its name in the
        metrics (``duban_commands_total{command=...}``), one of a small fixed set.
        """
        with metrics.Command(command) as measured:
            budget = self._budget()
            self.rt.calendar.refresh()
            ctx = self._load(instance_id, actor, allow_status, instance)
            ctx.budget = budget
            measured.lap("load")
            with self._command(ctx):
                action(ctx)
                self._advance(ctx)
                self._compact(ctx)
                measured.lap("run")
                self._write(ctx, new=False)
            measured.lap("save")
            if ctx.error is not None:
                measured.model_failed()
        self._keep(ctx)
        self._after_commit(ctx)
        return ctx

    def _budget(self):
        """A fresh :class:`~engine.budget.CommandBudget` for one command (``[engine]``)."""
        return CommandBudget.from_config(self.rt.config)

    def load(self, instance):
        """The instance's workflow, for read-only inspection (dry runs); never saved."""
        with self.rt.db.read() as session:
            definition = self.rt.definitions.by_id(session, instance.definition_id)
        return self._workflow(instance, definition)

    def emit_from_script(self, name, data=None):
        """``emit(name, data)`` in a BPMN script: a declared domain event for the listeners."""
        ctx = _running.get()
        if ctx is None:
            raise RuntimeError("emit() only works while a unit of work runs the workflow")
        if not self.rt.registry.is_declared(name):
            raise ValueError(f"emit(): no event {name!r} is declared by the registry")
        if data is not None and not isinstance(data, dict):
            raise TypeError("emit(): data must be a dict")
        ctx.emit(name, data=serialization.jsonable(data or {}))

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

    # -- load -------------------------------------------------------------------------------
    def _new(self, definition, variables, actor, business_key):
        called = self.rt.definitions.bind(definition)  # "latest" is resolved now (engine.calls)
        spec, subprocess_specs = self.rt.definitions.specs(definition, called)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.rt.script_engine())
        workflow.called = called
        workflow.task_tree.data.update(variables)
        now = self.rt.clock.now()
        instance = Instance(
            id=str(uuid.uuid4()), definition_id=definition.id, definition_key=definition.key,
            definition_version=definition.version, business_key=business_key, status="running",
            state="", variables=serialization.jsonable(variables), started_by=actor.username,
            started_at=now, updated_at=now, version=0)
        ctx = Context(actor=actor, now=now, instance=instance, workflow=workflow)
        ctx.audit("instance_started", definition=definition.key, version=definition.version)
        ctx.emit("instance_started", data=serialization.jsonable(variables))
        return ctx

    def _load(self, instance_id, actor, allow_status, instance):
        with self.rt.db.read() as session:
            if instance is None:
                instance = session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"no instance {instance_id}", reason="no_instance")
            definition = self.rt.definitions.by_id(session, instance.definition_id)
        if instance.status not in allow_status:
            raise Conflict(f"instance {instance_id} is {instance.status}", reason="instance_not_running")
        workflow = self.cache.take(instance.id, instance.version)  # owned by this command now
        if workflow is None:
            workflow = self._workflow(instance, definition)
        else:
            workflow.script_engine = self.rt.script_engine()  # as a load attaches a fresh one
        ctx = Context(actor=actor, now=self.rt.clock.now(), instance=instance,
                      workflow=workflow, loaded_status=instance.status)
        ctx.tasks_before = projection.open_task_ids(ctx.workflow)
        ctx.timers_before = projection.waiting_timers(ctx.workflow)
        return ctx

    def _workflow(self, instance, definition):
        spec, subprocess_specs = self.rt.definitions.spec(definition)
        return serialization.load(instance.state, spec, subprocess_specs, self.rt.script_engine(),
                                  specs=lambda called: self.rt.definitions.specs(definition, called))

    # -- advance ----------------------------------------------------------------------------
    def _advance(self, ctx):
        """Run until the workflow waits and project it; a failure here is saved as the
        instance's error."""
        if ctx.status != "error":  # else the command's own step failed in the model (ctx.fail)
            try:
                if ctx.status is None:  # suspend and cancel do not run the workflow
                    ctx.workflow.refresh_timers()
                    # Bounded: past the budget BudgetExceeded stops it before the next task.
                    ctx.workflow.do_engine_steps(will_complete_task=ctx.budget.step)
                self._project(ctx)
            except EngineError:
                raise
            except Exception as err:  # noqa: BLE001 — any failure of the model is the instance's error
                outage = unavailable(err)
                if outage is not None:  # the database, not the model: the command fails, writes nothing
                    raise outage from err
                ctx.fail(err)
                self._project_after_failure(ctx)
        if ctx.status is None:
            ctx.status = "completed" if ctx.workflow.is_completed() else "running"
            if ctx.status == "completed":
                ctx.audit("instance_completed")
                ctx.emit("instance_completed")

    def _project(self, ctx):
        ctx.open_tasks = projection.open_tasks(ctx.workflow, self.rt.registry.lane_roles)
        ctx.timers = projection.waiting_timers(ctx.workflow)

    def _project_after_failure(self, ctx):
        """Best effort: the open tasks and timers of a workflow that stopped on an error.

        Kept accurate so that a retry, which reopens the same SpiffWorkflow tasks, finds its
        rows; when even that fails, the rows stay as they were (``None``).
        """
        try:
            self._project(ctx)
        except Exception:  # noqa: BLE001
            ctx.open_tasks = ctx.timers = None

    # -- compact ----------------------------------------------------------------------------
    def _compact(self, ctx):
        """Drop a running workflow's finished past before it is saved (engine.compaction),
        after reading what the write still needs from it: the outcome of every task and
        timer that was waiting when loaded, and the variables. Not for an instance loaded in
        error (see ``Context.loaded_in_error``) nor one that stopped running."""
        if ctx.status != "running" or ctx.loaded_in_error:
            return
        for task_id in (*ctx.tasks_before, *(timer.id for timer in ctx.timers_before)):
            ctx.done(task_id)
        ctx.variables = _variables(ctx.workflow)
        compaction.compact(ctx.workflow)

    # -- write ------------------------------------------------------------------------------
    # The write path runs on every command, so it speaks Core SQL over the session's connection
    # (no ORM identity map or flush for its own rows); listeners keep the ORM session, in the
    # same transaction.
    def _write(self, ctx, new):
        values = _saved_values(ctx)  # serialized before the transaction: it holds locks
        with self.rt.db.write() as session:
            connection = session.connection()
            self._save_instance(connection, ctx, values, new)
            projection.write(connection, ctx, new)
            _adopt(session, [*ctx.opened, *ctx.closed.values()])
            if ctx.retry:
                schedule_retry(session, ctx)
            for name, task_key, task_id, data in ctx.events:
                self.rt.registry.emit(Event(name, session, ctx.instance, ctx.actor, ctx.now, self.rt,
                                            task_key, task_id, data, ctx.outbox,
                                            ctx.audit_for_listener))
            ctx.effect_ids = self.rt.outbox.write(connection, ctx.instance.id, ctx.effects)
            # Last: appending locks the audit chain's head until this transaction commits.
            self.rt.audit.extend(session, ctx.audit_entries(), at=ctx.now)

    @staticmethod
    def _save_instance(connection, ctx, values, new):
        """Insert the new instance, or update it if nobody saved it since it was loaded
        (StaleInstance otherwise); the (detached) row object is kept in step, not read back."""
        instance = ctx.instance
        if not new:
            result = connection.execute(_SAVE_INSTANCE, {
                **values, "version": instance.version + 1,
                "saved_id": instance.id, "saved_version": instance.version})
            if result.rowcount != 1:
                raise StaleInstance(f"instance {instance.id} was changed by another command; "
                                    "reload and try again", reason="changed_concurrently")
        for name, value in values.items():
            setattr(instance, name, value)
        instance.version += 1
        if new:
            connection.execute(insert(INSTANCE).values(
                {column.name: getattr(instance, column.name) for column in INSTANCE.columns}))

    def _keep(self, ctx):
        """After a commit: keep the workflow for the instance's next command (only a running
        one; an instance saved in error, completed or suspended is loaded afresh)."""
        if ctx.status == "running" and ctx.error is None:
            self.cache.put(ctx.instance.id, ctx.instance.version, ctx.workflow)

    def _after_commit(self, ctx):
        """Run the effects this command wrote (never raises: a failure is the effect's)."""
        self.rt.outbox.run_written(ctx.effect_ids)


def _adopt(session, rows):
    """Put the ``human_task`` rows the projection just wrote into the session's identity map,
    as if read back: the listeners' ``session.get(HumanTask, id)`` then costs no query (issue
    18). They hold what the row holds (opened: the values inserted; closed: ``RETURNING``)."""
    for row in rows:
        if inspect(row).transient:
            make_transient_to_detached(row)
        session.add(row)


def _saved_values(ctx):
    """The instance row's columns this command sets."""
    instance, target = ctx.instance, ctx.migration_target
    return dict(state=serialization.dump(ctx.workflow), status=ctx.status, updated_at=ctx.now,
                variables=ctx.variables if ctx.variables is not None else _variables(ctx.workflow),
                error=ctx.error, error_task=ctx.error_task,
                ended_at=ctx.now if ctx.status in ("completed", "cancelled") else instance.ended_at,
                definition_id=target.id if target else instance.definition_id,
                definition_version=target.version if target else instance.definition_version)


def _variables(workflow):
    return serialization.task_data(workflow.last_task or workflow.task_tree)

