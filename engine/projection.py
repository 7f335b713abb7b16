"""The projection of a workflow into queryable rows: its open human tasks (``human_task``)
and its waiting timers (``timer``), so that queries never deserialize a workflow (DESIGN
invariant 3) and the rows never disagree with the saved state (invariant 1).

**Computing** (:func:`open_tasks`, :func:`waiting_timers`) reads only the in-memory
workflow. Routing: a task's lane name maps to a role (through the registry's lane aliases,
or the lane name itself when it is a known role) or else to a department code; the task
properties ``candidateRole``, ``candidateDepartment``, ``assignee`` and ``dueDate`` are
expressions over the task's data and override the lane.

**Writing** (:func:`write`) is the unit of work's, at the end of every command. Its contract:

* *Transaction*: the unit of work's write transaction, after the instance row's optimistic
  save and before the listeners; Core SQL on that session's connection (no ORM flush).
* *Reads* the command's :class:`~engine.context.Context`: what was open and waiting
  when loaded (``tasks_before``, ``timers_before``), the projection after the command
  (``open_tasks``, ``timers``; ``None`` when a failure left it unknown: the rows then stay
  as they are, except that the task the person completed closes), the tasks the command
  completed (``completed``), which tasks and timers finished (``done()``), ``now``,
  ``actor``, ``instance`` and ``workflow``. The rows are not read back: the open and
  waiting rows are what the save of the loaded state wrote with it, in one transaction. Two
  exceptions: the routing columns of the tasks open before and after (to write only what
  changed), and, only when the instance was loaded in error (``ctx.loaded_in_error``), its
  open task rows and waiting timer rows, which a failure left as they were, and the rows of
  tasks and timers that appear again (a retry reopens them instead of inserting).
* *Writes* ``human_task`` rows (open, close, routing, reopen; a closed row comes back from
  its ``UPDATE ... RETURNING``) and BPMN ``timer`` rows (add, move, fired or cancelled,
  waiting again); never a service task's retry row (``engine.timers``).
* *Appends* to the Context what the caller and the listeners need: the rows it opened and
  closed (``opened``, ``closed``), a ``task_opened`` event per opened task with the data it
  opened with, and a ``timer_fired`` event and audit record per timer occurrence that fired.

A timer fired when its row leaves the projection and its SpiffWorkflow task finished (a
cycle timer: its last occurrence). A cycle timer keeps its row (one SpiffWorkflow task)
while occurrences fire, so one fired when its ``fire_at`` moved on. A date or duration
timer whose ``fire_at`` moved was rescheduled (``engine.rescheduling``), not fired, even
when the old time had passed before a worker claimed it: it fires once, at its new time.
"""
import collections
import dataclasses
import datetime as dt
import uuid

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select, update

from engine.models import HumanTask, Timer
from engine.roles import ROLES
from engine.serialization import task_data
from engine.timers import RETRY_PREFIX

HUMAN_TASK, TIMER = HumanTask.__table__, Timer.__table__


@dataclasses.dataclass
class OpenTask:
    id: str
    key: str
    title: str | None
    lane: str | None
    candidate_role: str | None
    candidate_department: str | None
    candidate_user: str | None
    due_at: dt.datetime | None
    # The definition whose spec holds the task: a called process's, inside a call activity
    # to another definition (engine.calls); None: the instance's own.
    definition_id: int | None = None


@dataclasses.dataclass
class WaitingTimer:
    id: str
    key: str
    fire_at: dt.datetime
    cycle: bool = False  # a cycle timer: one task whose fire_at moves on at each occurrence


# -- computing ------------------------------------------------------------------------------
def open_tasks(workflow, lane_roles):
    return [_open_task(task, lane_roles)
            for task in workflow.get_tasks(state=TaskState.READY, manual=True)]


def open_task_ids(workflow):
    """The ids of the open tasks, without evaluating their routing."""
    return [str(task.id) for task in workflow.get_tasks(state=TaskState.READY, manual=True)]


def _open_task(task, lane_roles):
    spec = task.task_spec
    props = spec.extensions.get("properties", {})
    lane = spec.lane
    role = lane_roles.get(lane, lane if lane in ROLES else None)
    department = lane if lane and role is None else None
    evaluate = lambda name: _evaluate(task, props.get(name))  # noqa: E731
    due = evaluate("dueDate")
    return OpenTask(
        id=str(task.id), key=spec.bpmn_id, title=spec.bpmn_name, lane=lane,
        candidate_role=evaluate("candidateRole") or role,
        candidate_department=evaluate("candidateDepartment") or department,
        candidate_user=evaluate("assignee"),
        due_at=_as_datetime(due) if due else None,
        definition_id=getattr(task.workflow.spec, "definition_id", None))


def _evaluate(task, expression):
    if not expression:
        return None
    value = task.workflow.script_engine.evaluate(task, expression)
    return str(value) if value is not None and not isinstance(value, dt.datetime) else value


def _as_datetime(value):
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"due time {value!r} has no UTC offset")
    return moment


def waiting_timers(workflow):
    """Every WAITING timer with its due time (boundary, intermediate, in subprocesses too)."""
    timers = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        value = task.internal_data.get("event_value")
        cycle = isinstance(value, dict)
        if cycle:  # cycle timer: its next occurrence, unless exhausted
            value = value.get("next") if value.get("cycles") != 0 else None
        if isinstance(value, str):
            timers.append(WaitingTimer(str(task.id), task.task_spec.bpmn_id,
                                       TimerEventDefinition.get_datetime(value), cycle))
    return timers


def finished(task):
    """Whether SpiffWorkflow ``task`` is done: completed, or a cycle timer whose last
    occurrence fired (SpiffWorkflow leaves that one READY, not COMPLETED)."""
    if task.state == TaskState.COMPLETED:
        return True
    value = task.internal_data.get("event_value")
    return bool(task.state & TaskState.NOT_FINISHED_MASK and isinstance(value, dict)
                and value.get("cycles") == 0)


# -- writing --------------------------------------------------------------------------------
def write(connection, ctx, new):
    """Bring the instance's ``human_task`` and ``timer`` rows in line with ``ctx`` (see the
    module's contract); ``new``: the instance is being inserted, it has no rows yet."""
    _write_tasks(connection, ctx, new)
    _write_timers(connection, ctx, new)


def _write_tasks(connection, ctx, new):
    """Close, update and open ``human_task`` rows so the open ones are the workflow's."""
    if new:
        open_ids = set()
    elif ctx.loaded_in_error:
        open_ids = set(connection.scalars(select(HUMAN_TASK.c.id).where(
            HUMAN_TASK.c.instance_id == ctx.instance.id, HUMAN_TASK.c.state == "open")))
    else:
        open_ids = set(ctx.tasks_before)
    if ctx.open_tasks is None:  # unknown after a failure: close only what the person completed
        current, closing = {}, open_ids & ctx.completed.keys()
    else:
        current = {task.id: task for task in ctx.open_tasks}
        closing = open_ids - current.keys()
    _update_routing(connection, [current[task_id] for task_id in open_ids & current.keys()])
    for task_id in closing:
        _close(connection, ctx, task_id)
    opening = [task for task_id, task in current.items() if task_id not in open_ids]
    if opening and ctx.loaded_in_error:  # only a retried instance can open a task again
        opening = _reopen(connection, opening)
    if opening:
        _open(connection, ctx, opening)


def _close(connection, ctx, task_id):
    changes = dict(completed_at=ctx.now, state=_closed_state(ctx, task_id))
    if task_id in ctx.completed:
        changes.update(completed_by=ctx.actor.username, data=ctx.completed[task_id])
    row = connection.execute(update(HUMAN_TASK).where(HUMAN_TASK.c.id == task_id)
                             .values(changes).returning(*HUMAN_TASK.c)).mappings().one()
    ctx.closed[task_id] = HumanTask(**row)


def _closed_state(ctx, task_id):
    return "completed" if task_id in ctx.completed or ctx.done(task_id) else "cancelled"


def _open(connection, ctx, opening):
    instance = ctx.instance
    created = [dict(id=task.id, instance_id=instance.id, definition_id=task.definition_id or instance.definition_id,
                    business_key=instance.business_key, key=task.key, title=task.title,
                    lane=task.lane, **_routing(task), started_by=instance.started_by,
                    state="open", created_at=ctx.now, assignee=None, completed_at=None,
                    completed_by=None, data=None) for task in opening]
    connection.execute(insert(HUMAN_TASK), created)
    for values in created:
        ctx.opened.append(HumanTask(**values))
        spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(values["id"]))
        ctx.emit("task_opened", values["key"], values["id"], task_data(spiff_task))


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


def _routing(task):
    """The columns of a ``human_task`` row that follow the open task: due time and candidates."""
    return dict(due_at=task.due_at, candidate_user=task.candidate_user,
                candidate_role=task.candidate_role, candidate_department=task.candidate_department)


WaitingRow = collections.namedtuple("WaitingRow", "id task_key fire_at")  # a timer row as saved


def _write_timers(connection, ctx, new):
    """Move, end and add ``timer`` rows so the waiting ones are the workflow's; every
    occurrence that fired gets a ``timer_fired`` record (see the module's rule)."""
    if ctx.timers is None:  # unknown after a failure: the rows stay as they are
        return
    current = {timer.id: timer for timer in ctx.timers}
    rows = _waiting_rows(connection, ctx, new)
    ended = {"fired": [], "cancelled": []}
    for timer_id, row in rows.items():
        timer = current.get(timer_id)
        if timer is None:
            done = ctx.done(timer_id)
            ended["fired" if done else "cancelled"].append(timer_id)
            if done:
                _fired(ctx, row)
        elif timer.fire_at != row.fire_at:
            if timer.cycle and row.fire_at < ctx.now:
                _fired(ctx, row)  # an occurrence; the row waits for the next one
            connection.execute(update(TIMER).where(TIMER.c.id == timer_id).values(fire_at=timer.fire_at))
    for state, timer_ids in ended.items():
        if timer_ids:
            connection.execute(update(TIMER).where(TIMER.c.id.in_(timer_ids)).values(state=state))
    adding = [timer for timer_id, timer in current.items() if timer_id not in rows]
    if adding and ctx.loaded_in_error:
        adding = _rewait(connection, adding)
    if adding:
        connection.execute(insert(TIMER), [
            dict(id=timer.id, instance_id=ctx.instance.id, task_key=timer.key, fire_at=timer.fire_at,
                 state="waiting", attempts=0, lease_owner=None, lease_until=None, last_error=None)
            for timer in adding])


def _waiting_rows(connection, ctx, new):
    """The instance's waiting timer rows (incidents too: still waiting to SpiffWorkflow)."""
    if new:
        return {}
    if not ctx.loaded_in_error:  # written with the state it was loaded from: no read
        return {timer.id: WaitingRow(timer.id, timer.key, timer.fire_at) for timer in ctx.timers_before}
    return {row.id: row for row in connection.execute(  # a failure left the rows as they were
        select(TIMER.c.id, TIMER.c.task_key, TIMER.c.fire_at).where(
            TIMER.c.instance_id == ctx.instance.id, TIMER.c.state.in_(("waiting", "incident")),
            ~TIMER.c.task_key.startswith(RETRY_PREFIX)))}


def _rewait(connection, adding):
    """Timers waiting again after their instance failed and was retried: the same rows,
    waiting with a fresh count. Returns the timers that are really new."""
    known = set(connection.scalars(select(TIMER.c.id).where(TIMER.c.id.in_([timer.id for timer in adding]))))
    for timer in adding:
        if timer.id in known:
            connection.execute(update(TIMER).where(TIMER.c.id == timer.id).values(
                state="waiting", fire_at=timer.fire_at, attempts=0, lease_owner=None,
                lease_until=None, last_error=None))
    return [timer for timer in adding if timer.id not in known]


def _fired(ctx, row):
    ctx.audit("timer_fired", task=row.task_key, due=row.fire_at)
    ctx.emit("timer_fired", row.task_key, row.id, {"due": row.fire_at})
