"""A command's context: what one unit of work loaded, what its command did, and what to do
after commit (engine.unit_of_work).

A command (``action(ctx)``: completing a task, firing timers, cancelling, migrating) reads
``ctx.workflow`` and records what it did through :meth:`Context.audit`,
:meth:`Context.emit`, :meth:`Context.fail` and the fields marked as the command's; the unit
of work fills in the rest, and the projection (engine.projection) reads it to write the
rows. Nothing here touches the database.
"""
import dataclasses
import datetime as dt
import uuid

from SpiffWorkflow.bpmn import BpmnWorkflow

from engine import projection, serialization
from engine.models import Instance

_BUSINESS_KEY = object()  # marks a listener's record that names another business key


def _list():
    return dataclasses.field(default_factory=list)


def _dict():
    return dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Context:
    """One command, from load to after commit."""

    # -- what was loaded
    actor: object
    now: dt.datetime                      # the command's instant: every clock reads it
    instance: Instance                    # the row; kept in step with what the save writes
    workflow: BpmnWorkflow | None = None
    loaded_status: str | None = None      # the instance's status when loaded (None: a start)
    budget: object = None                 # engine.budget.CommandBudget: how far it may run
    tasks_before: list = _list()          # ids of the tasks open when loaded
    timers_before: list = _list()         # projection.WaitingTimer, waiting when loaded

    # -- what the command did: set by the command itself ...
    completed: dict = _dict()             # task id -> form data, the tasks a person completed
    status: str | None = None             # the final status; suspend and cancel force theirs
    migration_target: object = None       # the definition a migration moves the instance to
    audits: list = _list()                # (kind, data): the audit records, in order
    events: list = _list()                # (name, task_key, task_id, data): for the listeners
    # ... by a failure of the model (fail())
    error: str | None = None              # why the instance is in error
    error_task: str | None = None         # the BPMN id of the task that failed
    retry: tuple | None = None            # (task key, retries, backoff base) of a failed service task
    # ... by advancing the workflow (the unit of work), for the write
    open_tasks: list | None = None        # projection.OpenTask once it waits; None: unknown
    timers: list | None = None            # projection.WaitingTimer once it waits; None: unknown
    variables: dict | None = None         # the instance's variables, read before compaction
    outcomes: dict = _dict()              # task id -> done (see done()), read before compaction
    # ... by the write, for the command's caller
    opened: list = _list()                # HumanTask rows opened
    closed: dict = _dict()                # task id -> HumanTask row closed

    # -- what to do after commit
    effects: list = _list()               # (kind, payload): listeners' outbox effects, in order
    effect_ids: list = _list()            # ... their outbox rows, once written

    def audit(self, kind, **data):
        self.audits.append((kind, data))

    def emit(self, name, task_key=None, task_id=None, data=None):
        self.events.append((name, task_key, task_id, data or {}))

    def fail(self, err):
        """Record a failure of the model: the instance is saved in error with the reason and task."""
        task = getattr(err, "task", None)
        self.status, self.error = "error", _reason(err)
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
            self.outcomes[task_id] = task is not None and projection.finished(task)
        return self.outcomes[task_id]

    def outbox(self, kind, payload=None):
        """A listener's effect (``Event.outbox``): an outbox row written with the command."""
        self.effects.append((kind, payload or {}))

    def audit_for_listener(self, kind, data=None, business_key=None):
        """A listener's audit record (``Event.audit``): written last, with the engine's own."""
        self.audits.append((kind, {**(data or {}), _BUSINESS_KEY: business_key}))

    def audit_entries(self):
        """The audit records as the audit log appends them, in order."""
        return [dict(kind=kind, actor=self.actor.username, instance_id=self.instance.id,
                     business_key=data.get(_BUSINESS_KEY) or self.instance.business_key,
                     data=serialization.jsonable({k: v for k, v in data.items() if k is not _BUSINESS_KEY}))
                for kind, data in self.audits]


def _reason(err):
    """Why the model failed: SpiffWorkflow's "Error evaluating expression ..." wraps the cause
    (a time limit, a size limit) without naming it, so the cause is added."""
    reason = f"{type(err).__name__}: {err}"
    cause = err.__cause__ or err.__context__  # SpiffWorkflow raises its exception in the handler
    if cause is not None and str(cause) not in reason:
        reason += f" ({type(cause).__name__}: {cause})"
    return reason
