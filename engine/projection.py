"""The projection of a workflow into queryable rows: open human tasks and waiting timers.

Computed from the in-memory workflow at the end of every unit of work and written in the
same transaction as the instance (DESIGN invariant 1). Routing: a task's lane name maps to a
role (through the registry's lane aliases, or the lane name itself when it is a known role)
or else to a department code; the task properties ``candidateRole``, ``candidateDepartment``,
``assignee`` and ``dueDate`` are expressions over the task's data and override the lane.
"""
import dataclasses
import datetime as dt

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

ROLES = frozenset({"staff", "leader", "secretariat", "supervisor", "designer", "admin"})


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


@dataclasses.dataclass
class WaitingTimer:
    id: str
    key: str
    fire_at: dt.datetime


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
        due_at=_as_datetime(due) if due else None)


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
        if isinstance(value, dict):  # cycle timer: its next occurrence, unless exhausted
            value = value.get("next") if value.get("cycles") != 0 else None
        if isinstance(value, str):
            timers.append(WaitingTimer(str(task.id), task.task_spec.bpmn_id,
                                       TimerEventDefinition.get_datetime(value)))
    return timers
