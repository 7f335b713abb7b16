"""Human tasks: who may work them, the inbox, claim / unclaim / assign, completion, rescheduling.

SpiffWorkflow's ``task.run()`` has no guard of its own: completing checks, in order, that the
task exists (404), that it is the caller's (403: admin; else the assignee, else the
diagram's candidate user, else role and department; a task with no routing belongs to the
instance's starter), that it is still open (409), and its form (400). Then the unit of work
re-checks READY and manual on the loaded workflow, which turns a concurrent completion into
a 409 as well, and runs the registry's ``before_complete`` hooks for the task's key (which
may refuse, or change the same instance, e.g. move a sibling task's due time).

Rescheduling moves an open task's due time and its boundary timers (``engine.rescheduling``)
in one unit of work on the task's instance.
"""
import dataclasses
import datetime as dt
import uuid

from sqlalchemy import and_, case, func, or_, select, update

from SpiffWorkflow.util.task import TaskState

from engine import forms, rescheduling
from engine.errors import Conflict, Forbidden, NotFound
from engine.models import HumanTask

ASSIGNING_ROLES = ("supervisor", "leader", "admin")


def may_work(actor, task):
    if actor.is_admin:
        return True
    owner = task.assignee or task.candidate_user
    if owner:
        return owner == actor.username
    if not task.candidate_role and not task.candidate_department:
        return actor.username == task.started_by
    return ((not task.candidate_role or task.candidate_role in actor.roles)
            and (not task.candidate_department or task.candidate_department == actor.department))


def workable_by(actor):
    """SQL twin of :func:`may_work` for open tasks (keep the two in step)."""
    if actor.is_admin:
        return HumanTask.state == "open"
    me = actor.username
    routed = or_(HumanTask.candidate_role.is_not(None), HumanTask.candidate_department.is_not(None))
    by_group = and_(routed,
                    or_(HumanTask.candidate_role.is_(None), HumanTask.candidate_role.in_(actor.roles)),
                    or_(HumanTask.candidate_department.is_(None),
                        HumanTask.candidate_department == actor.department))
    unrouted = and_(HumanTask.candidate_role.is_(None), HumanTask.candidate_department.is_(None),
                    HumanTask.started_by == me)
    return and_(HumanTask.state == "open", or_(
        HumanTask.assignee == me,
        and_(HumanTask.assignee.is_(None), HumanTask.candidate_user == me),
        and_(HumanTask.assignee.is_(None), HumanTask.candidate_user.is_(None), or_(by_group, unrouted))))


def _unchanged(task):
    """Guard for an assignee change: nobody changed the assignee since we read it."""
    return HumanTask.assignee == task.assignee if task.assignee else HumanTask.assignee.is_(None)


@dataclasses.dataclass
class CompletionStep:
    """What a ``before_complete`` hook sees: the task being completed, in its unit of work."""

    engine: object
    instance: object        # engine.models.Instance as loaded (not yet saved)
    task: HumanTask         # the row of the task being completed
    data: dict              # the submitted (form-valid) data
    actor: object
    now: dt.datetime
    _ctx: object

    def reschedule(self, task_id, due, reason=None):
        """Move open task ``task_id`` of this same instance to ``due`` (saved with the completion)."""
        return self.engine.tasks.reschedule_in(self._ctx, task_id, due, reason)


class Tasks:
    def __init__(self, runtime):
        self.rt = runtime

    def get(self, task_id):
        with self.rt.db.read() as session:
            task = session.get(HumanTask, str(task_id))
            if task is None:
                raise NotFound(f"no task {task_id}")
            return task

    def task_spec(self, task):
        """The SpiffWorkflow spec of a task row (from the cached definition, not the instance)."""
        with self.rt.db.read() as session:
            definition = self.rt.definitions.by_id(session, task.definition_id)
        return self.rt.definitions.task_spec(definition, task.key)

    def count_overdue(self, actor, now):
        with self.rt.db.read() as session:
            return session.scalar(select(func.count()).select_from(HumanTask).where(
                workable_by(actor), HumanTask.due_at < now))

    def open_counts(self, now):
        """``[(candidate_department, open, overdue)]``: open tasks per department (None: tasks
        routed to a role or a person only), overdue = due before ``now``."""
        overdue = func.sum(case((HumanTask.due_at < now, 1), else_=0))
        with self.rt.db.read() as session:
            return [(department, count, int(late or 0)) for department, count, late in session.execute(
                select(HumanTask.candidate_department, func.count(), overdue)
                .where(HumanTask.state == "open").group_by(HumanTask.candidate_department)
                .order_by(HumanTask.candidate_department))]

    def inbox(self, actor, instance_id=None, business_key=None, limit=50, offset=0):
        query = select(HumanTask).where(workable_by(actor))
        if instance_id:
            query = query.where(HumanTask.instance_id == instance_id)
        if business_key:
            query = query.where(HumanTask.business_key == business_key)
        with self.rt.db.read() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            rows = list(session.scalars(query.order_by(
                HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)
                .limit(limit).offset(offset)))
        return rows, total

    def complete(self, task_id, data, actor):
        """Complete an open task with ``data``; returns ``(task_row, newly_opened_rows)``."""
        task = self.get(task_id)
        if not may_work(actor, task):
            raise Forbidden(f"task {task_id} is not yours to complete")
        if task.state != "open":
            raise Conflict(f"task {task_id} is already {task.state}")
        forms.validate(self.task_spec(task), data)

        def action(ctx):
            spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(task.id))
            if spiff_task is None or not spiff_task.task_spec.manual or spiff_task.state != TaskState.READY:
                raise Conflict(f"task {task_id} is no longer open")
            for hook in self.rt.registry.completion_hooks(task.key):
                hook(CompletionStep(self.rt, ctx.instance, task, data, actor, ctx.now, ctx))
            spiff_task.set_data(**data)
            spiff_task.run()
            ctx.completed[task.id] = data
            ctx.audit("task_completed", task=task.key, task_id=task.id, data=data)
            ctx.emit("task_completed", task.key, task.id, data)

        ctx = self.rt.uow.run(task.instance_id, action, actor)
        return self.get(task_id), ctx.opened

    # -- due times --------------------------------------------------------------------------
    def reschedule(self, task_id, due, actor, reason=None):
        """Move open task ``task_id``'s due time (and its boundary timers) to ``due``.

        One unit of work on the task's instance: 404 unknown task, 409 when it is no longer
        open, has no due-date variable, or the instance changed concurrently (StaleInstance:
        callers acting for the system retry). Returns the task row.
        """
        task = self.get(task_id)
        if task.state != "open":
            raise Conflict(f"task {task_id} is already {task.state}")
        self.rt.uow.run(task.instance_id, lambda ctx: self.reschedule_in(ctx, task.id, due, reason), actor)
        return self.get(task_id)

    def reschedule_in(self, ctx, task_id, due, reason=None):
        """The reschedule command inside an already running unit of work ``ctx``."""
        if due.tzinfo is None:
            raise ValueError("a due time needs a UTC offset")
        due_iso = self.rt.calendar.local(due).isoformat()
        previous = rescheduling.reschedule(ctx.workflow, task_id, due_iso)
        spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(str(task_id)))
        ctx.audit("task_rescheduled", task=spiff_task.task_spec.bpmn_id, task_id=str(task_id),
                  previous_due=previous, due=due_iso, reason=reason)
        return previous

    # -- ownership --------------------------------------------------------------------------
    def claim(self, task_id, actor):
        task = self.get(task_id)
        if not may_work(actor, task):
            raise Forbidden(f"task {task_id} is not yours to claim")
        return self._set_assignee(task, actor.username, actor, "task_claimed",
                                  HumanTask.assignee.is_(None) | (HumanTask.assignee == actor.username))

    def unclaim(self, task_id, actor, override=False):
        """Give the task back to its candidates: its assignee may, or anyone the caller's
        layer grants ``override`` (supervisors, the item's leader)."""
        task = self.get(task_id)
        if task.assignee != actor.username and not (override or actor.is_admin):
            raise Forbidden(f"task {task_id} is not claimed by you")
        return self._set_assignee(task, None, actor, "task_unclaimed", _unchanged(task))

    def assign(self, task_id, username, actor):
        """Give the task to ``username``. The caller's layer checks who may assign what; the
        engine only insists on an assigning role."""
        if not actor.has_any(*ASSIGNING_ROLES):
            raise Forbidden("only supervisors, leaders and admins assign tasks")
        task = self.get(task_id)
        return self._set_assignee(task, username, actor, "task_assigned", _unchanged(task))

    def _set_assignee(self, task, username, actor, kind, guard):
        """Change the assignee if the task is still open and unchanged; 409 otherwise."""
        with self.rt.db.write() as session:
            result = session.execute(update(HumanTask).where(
                HumanTask.id == task.id, HumanTask.state == "open", guard).values(assignee=username))
            if result.rowcount != 1:
                raise Conflict(f"task {task.id} is closed or was claimed by someone else")
            self.rt.audit.append(session, kind, actor=actor.username, instance_id=task.instance_id,
                                 business_key=task.business_key,
                                 data={"task": task.key, "task_id": task.id, "assignee": username})
        return self.get(task.id)
