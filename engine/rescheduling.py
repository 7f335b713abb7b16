"""Moving an open user task's due time, and its boundary timers with it.

Due times are data (notes §10.4): a task's ``dueDate`` property names the variable that
holds it (``plan_due``), and its boundary timers read the same variable (``timeDate`` =
``plan_due`` or ``last_working_day_start(plan_due)``). SpiffWorkflow evaluates a timer's
expression once, when it starts waiting, caches the moment in the task's ``event_value``,
and re-copies the boundary split's data into waiting boundary events at every refresh.
Rescheduling therefore sets the variable on the user task, on its boundary split and on its
waiting boundary events, and re-evaluates those timers' ``timeDate`` expressions; the unit
of work then projects the new due time (``human_task.due_at``) and fire times (``timer``).

A non-interrupting date timer that already fired (a reminder sent, an escalation opened)
is armed again at the new moment: the step is enforced against its new due time the same
way as against the old one. Duration and cycle timers keep their moment (they count from
when the task started, not from its due time). A ``dueDate`` that is an expression rather
than a variable cannot be rescheduled (409).
"""
import uuid

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from engine.errors import Conflict


def due_variable(task_spec):
    """The variable named by the task's ``dueDate`` property; Conflict when there is none."""
    expression = (task_spec.extensions.get("properties", {}).get("dueDate") or "").strip()
    if not expression.isidentifier():
        raise Conflict(f"task {task_spec.bpmn_id!r} has no due-date variable to move "
                       f"(dueDate is {expression!r})", reason="no_due_variable")
    return expression


def _date_timers(split):
    """The boundary date timers under ``split``, by spec: (waiting task or None, fired task or None)."""
    timers = {}
    for child in split.children:
        spec = child.task_spec
        if isinstance(spec, BoundaryEvent) and isinstance(spec.event_definition, TimeDateEventDefinition):
            waiting, fired = timers.get(spec, (None, None))
            if child.state == TaskState.WAITING:
                waiting = child
            elif child.state == TaskState.COMPLETED:
                fired = child
            timers[spec] = (waiting, fired)
    return timers


def _open_user_task(workflow, task_id):
    try:
        task = workflow.get_task_from_id(uuid.UUID(str(task_id)))
    except TaskNotFoundException:  # completed and compacted away since the caller read its row
        task = None
    if task is None or not task.task_spec.manual or task.state != TaskState.READY:
        raise Conflict(f"task {task_id} is not an open user task of this instance", reason="task_closed")
    return task


def current_due(workflow, task_id):
    """The value of the open user task ``task_id``'s due-date variable (Conflict as :func:`reschedule`)."""
    task = _open_user_task(workflow, task_id)
    return task.data.get(due_variable(task.task_spec))


def reschedule(workflow, task_id, due_iso):
    """Set the open user task ``task_id``'s due time to ``due_iso``; return the previous value.

    Raises Conflict when the task is not an open user task of this workflow, or its due time
    is not a variable. Changes only the in-memory workflow: the caller's unit of work saves it
    (and its refresh fires a re-armed timer whose new moment has already passed).
    """
    task = _open_user_task(workflow, task_id)
    variable = due_variable(task.task_spec)
    previous = task.data.get(variable)
    task.data[variable] = due_iso
    split = task.parent
    if split is None or split.task_spec.name != f"{task.task_spec.name}.BoundaryEventSplit":
        return previous  # no boundary events
    split.data[variable] = due_iso  # waiting boundary events re-copy it at every refresh
    for spec, (waiting, fired) in _date_timers(split).items():
        if waiting is not None:
            waiting.data[variable] = due_iso
            waiting._set_internal_data(event_fired=False, event_value=workflow.script_engine.evaluate(
                waiting, spec.event_definition.expression))
        elif fired is not None and not spec.cancel_activity:
            rearmed = split._add_child(spec, TaskState.FUTURE)
            spec._predict(rearmed, mask=TaskState.NOT_FINISHED_MASK)  # its branch, as SpiffWorkflow's cycle timers do
            spec._update(rearmed)  # inherits the split's data, evaluates its moment, waits
    return previous
