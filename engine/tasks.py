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
import functools
import uuid

import sqlalchemy as sa
from sqlalchemy import and_, case, func, or_, select, union_all, update

from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from engine import forms, rescheduling
from engine.clock import parse_moment
from engine.errors import Conflict, Forbidden, NotFound
from engine.models import HumanTask, Instance
from engine.roles import ASSIGNING_ROLES
from engine.scripting import check_data_size


def may_work(actor, task):
    """Whether ``actor`` may work (claim, complete) ``task``: the engine's one rule, by routing.

    Admins any task; else the assignee, else the diagram's candidate user; else whoever holds
    its candidate role in its candidate department (either may be absent); a task routed to
    nobody belongs to whoever started its instance. ``workable_by`` is its SQL twin.
    """
    if actor.is_admin:
        return True
    owner = task.assignee or task.candidate_user
    if owner:
        return owner == actor.username
    if not task.candidate_role and not task.candidate_department:
        return actor.username == task.started_by
    return ((not task.candidate_role or task.candidate_role in actor.roles)
            and (not task.candidate_department or task.candidate_department == actor.department))


# Inline, not a bound parameter: SQLite uses a partial index (``WHERE state = 'open'``) only
# when the query's own text implies the index's condition.
OPEN = sa.literal_column("'open'")


def _arms(is_admin, me, department, roles):
    """The arms of :func:`workable_arms`; ``me``, ``department``, ``roles`` are values or bind
    parameters (``department`` / ``roles`` falsy when the caller has none)."""
    is_open = HumanTask.state == OPEN
    if is_admin:
        return [is_open]
    unowned = and_(is_open, HumanTask.assignee.is_(None), HumanTask.candidate_user.is_(None))
    arms = [and_(is_open, HumanTask.assignee == me),
            and_(is_open, HumanTask.assignee.is_(None), HumanTask.candidate_user == me)]
    if department is not None:
        arms.append(and_(unowned, HumanTask.candidate_department == department,
                         or_(HumanTask.candidate_role.is_(None), HumanTask.candidate_role.in_(roles if roles is not None else []))))
    if roles is not None:
        arms.append(and_(unowned, HumanTask.candidate_department.is_(None),
                         HumanTask.candidate_role.in_(roles)))
    arms.append(and_(unowned, HumanTask.candidate_department.is_(None), HumanTask.candidate_role.is_(None),
                     HumanTask.started_by == me))
    return arms


def workable_arms(actor):
    """The ways an open task reaches ``actor``, as disjoint SQL conditions (one for admins).

    Assigned to them; else named as candidate; else (nobody named) routed to their department
    (with no role or one of theirs); else routed to one of their roles alone; else unrouted and
    started by them. No task matches two arms, and each arm matches one partial index over
    open tasks (migration 0005), each condition repeating ``state = 'open'`` for SQLite.
    """
    return _arms(actor.is_admin, actor.username, actor.department or None, sorted(actor.roles) or None)


def workable_by(actor):
    """SQL twin of :func:`may_work` for open tasks (keep the two in step): the OR of
    :func:`workable_arms`, which the database answers as a union of small index scans."""
    arms = workable_arms(actor)
    return arms[0] if len(arms) == 1 else and_(HumanTask.state == OPEN, or_(*arms))


# The inbox's orders: due first (the default), due last, newest first.
SORTS = ("due", "due_desc", "created")


def inbox_order(task=HumanTask, sort="due"):
    """The order ``sort`` (one of :data:`SORTS`); no due time always last. ``due``: due first,
    then oldest (``NULLS LAST`` lets an index on due_at serve it); ``due_desc``: latest due
    first; ``created``: newest first. ``task``: the entity, or the columns (``.c``) of a
    subquery of it."""
    if sort == "due_desc":
        return (task.due_at.is_(None), task.due_at.desc(), task.created_at.desc(), task.id)
    if sort == "created":
        return (task.created_at.desc(), task.id)
    return (task.due_at.asc().nulls_last(), task.created_at, task.id)


def _count(arms, narrow):
    """How many open tasks match any of the (disjoint) ``arms``: the sum of per-arm counts, each
    an index(-only) scan of its partial index rather than one scan that rechecks every row."""
    counts = [select(func.count().label("n")).select_from(HumanTask).where(arm, *narrow) for arm in arms]
    if len(counts) == 1:
        return counts[0]
    union = union_all(*counts).subquery()
    return select(func.coalesce(func.sum(union.c.n), 0)).select_from(union)


@functools.lru_cache(maxsize=64)
def _inbox_statements(is_admin, has_department, has_roles, by_instance, by_key, sort="due"):
    """``(count, page, overdue)`` statements for one shape of caller and filter, built once:
    building these unions costs milliseconds of Python, so values travel as bind parameters
    (``me``, ``department``, ``roles``, ``instance_id``, ``business_key``, ``window``, ``limit``,
    ``offset``, ``now``)."""
    narrow = []
    if by_instance:
        narrow.append(HumanTask.instance_id == sa.bindparam("instance_id"))
    if by_key:
        narrow.append(HumanTask.business_key == sa.bindparam("business_key"))
    return _build_statements(is_admin, has_department, has_roles, narrow, sort)


def _build_statements(is_admin, has_department, has_roles, narrow, sort):
    arms = _arms(is_admin, sa.bindparam("me"), sa.bindparam("department") if has_department else None,
                 sa.bindparam("roles", expanding=True) if has_roles else None)
    count = _count(arms, narrow)
    overdue = _count(arms, [*narrow, HumanTask.due_at < sa.bindparam("now", type_=HumanTask.due_at.type)])
    if len(arms) == 1:
        page = (select(HumanTask).where(arms[0], *narrow).order_by(*inbox_order(sort=sort))
                .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))
    else:
        heads = [select(HumanTask).where(arm, *narrow).order_by(*inbox_order(sort=sort))
                 .limit(sa.bindparam("window")).subquery() for arm in arms]
        union = union_all(*(select(head) for head in heads)).subquery()
        page = select(HumanTask).from_statement(
            select(union).order_by(*inbox_order(union.c, sort))
            .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))
    return count, page, overdue


def _inbox_call(actor, instance_id=None, business_key=None, where=(), sort="due", scope=None):
    """The statements and parameters of one inbox read. ``where``: more SQL conditions on
    ``human_task`` (a domain's filters, values inline) and ``scope`` (the access policy's limit);
    such statements are built per call."""
    if sort not in SORTS:
        raise ValueError(f"unknown inbox order {sort!r}")
    shape = (actor.is_admin, bool(actor.department), bool(actor.roles))
    where = [*where, *([scope] if scope is not None else [])]
    if where:
        narrow = [*where]
        if instance_id:
            narrow.append(HumanTask.instance_id == sa.bindparam("instance_id"))
        if business_key:
            narrow.append(HumanTask.business_key == sa.bindparam("business_key"))
        statements = _build_statements(*shape, narrow, sort)
    else:
        statements = _inbox_statements(*shape, bool(instance_id), bool(business_key), sort)
    params = {"me": actor.username, "department": actor.department, "roles": sorted(actor.roles),
              "instance_id": instance_id, "business_key": business_key}
    return statements, params


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
                raise NotFound(f"no task {task_id}", reason="no_task")
            return task

    def task_spec(self, task):
        """The SpiffWorkflow spec of a task row (from the cached definition, not the instance)."""
        with self.rt.db.read() as session:
            definition = self.rt.definitions.by_id(session, task.definition_id)
        return self.rt.definitions.task_spec(definition, task.key)

    def count_overdue(self, actor, now, scope=None):
        (_count_, _page, overdue), params = _inbox_call(actor, scope=scope)
        with self.rt.db.read() as session:
            return session.scalar(overdue, {**params, "now": now})

    def open_counts(self, now):
        """``[(candidate_department, open, overdue)]``: open tasks per department (None: tasks
        routed to a role or a person only), overdue = due before ``now``."""
        overdue = func.sum(case((HumanTask.due_at < now, 1), else_=0))
        with self.rt.db.read() as session:
            return [(department, count, int(late or 0)) for department, count, late in session.execute(
                select(HumanTask.candidate_department, func.count(), overdue)
                .where(HumanTask.state == "open").group_by(HumanTask.candidate_department)
                .order_by(HumanTask.candidate_department))]

    def inbox(self, actor, instance_id=None, business_key=None, limit=50, offset=0, where=(), sort="due",
              scope=None):
        """One page of the caller's open tasks in :func:`inbox_order` ``sort``, and their total.

        ``scope``: a condition on ``HumanTask`` the application adds (its access policy's limit
        on what the caller works, beside :func:`may_work`), or None.

        The page is the union of each arm's own first ``offset + limit`` tasks (read in index
        order), sorted again: a large department's inbox then reads a page, not every task.
        ``where``: more conditions on ``human_task`` (the domain's filters).
        """
        (count, page, _overdue), params = _inbox_call(actor, instance_id, business_key, where, sort, scope)
        params.update(window=offset + limit, limit=limit, offset=offset)
        with self.rt.db.read() as session:
            total = session.scalar(count, params)
            rows = list(session.scalars(page, params))
        return rows, total

    def done(self, actor, limit=50, offset=0):
        """``(rows, total)``: the tasks ``actor`` completed, newest first (已办); an index on
        ``(completed_by, completed_at)`` serves both (migration 0016)."""
        mine = (HumanTask.completed_by == actor.username, HumanTask.state == "completed")
        with self.rt.db.read() as session:
            total = session.scalar(select(func.count()).select_from(HumanTask).where(*mine))
            rows = list(session.scalars(select(HumanTask).where(*mine).order_by(
                HumanTask.completed_at.desc(), HumanTask.id).limit(limit).offset(offset)))
        return rows, total

    def complete(self, task_id, data, actor):
        """Complete an open task with ``data``; returns ``(task_row, newly_opened_rows)``."""
        with self.rt.db.read() as session:  # the task and its instance in one read
            task = session.get(HumanTask, str(task_id))
            if task is None:
                raise NotFound(f"no task {task_id}", reason="no_task")
            instance = session.get(Instance, task.instance_id)
        if not may_work(actor, task):
            raise Forbidden(f"task {task_id} is not yours to complete", reason="not_yours")
        if task.state != "open":
            raise Conflict(f"task {task_id} is already {task.state}", reason="task_closed")
        forms.validate(self.task_spec(task), data, reserved=self.rt.script_functions())
        check_data_size(data, self.rt.max_data_bytes, "the task's data")

        def action(ctx):
            try:
                spiff_task = ctx.workflow.get_task_from_id(uuid.UUID(task.id))
            except TaskNotFoundException:
                # The row was read open, the instance after a rival completed the task and
                # compaction dropped it (on PostgreSQL each statement of the read has its own
                # snapshot): completed concurrently, so 409 like any lost race.
                spiff_task = None
            if spiff_task is None or not spiff_task.task_spec.manual or spiff_task.state != TaskState.READY:
                raise Conflict(f"task {task_id} is no longer open", reason="task_closed")
            for hook in self.rt.registry.completion_hooks(instance.definition_key, task.key):
                hook(CompletionStep(self.rt, ctx.instance, task, data, actor, ctx.now, ctx))
            spiff_task.set_data(**data)
            check_data_size(spiff_task.data, self.rt.max_data_bytes, "the instance's data with this form")
            spiff_task.run()
            ctx.completed[task.id] = data
            ctx.audit("task_completed", task=task.key, task_id=task.id, data=data)
            ctx.emit("task_completed", task.key, task.id, data)

        ctx = self.rt.uow.run(task.instance_id, action, actor, instance=instance, command="complete_task")
        row = ctx.closed.get(task.id)  # as the unit of work saved it; no need to read it back
        return (row if row is not None else self.get(task_id)), ctx.opened

    # -- due times --------------------------------------------------------------------------
    def reschedule(self, task_id, due, actor, reason=None, unless_due=False):
        """Move open task ``task_id``'s due time (and its boundary timers) to ``due``.

        One unit of work on the task's instance: 404 unknown task, 409 when it is no longer
        open, has no due-date variable, or the instance changed concurrently (StaleInstance:
        callers acting for the system retry). Returns the task row.

        ``unless_due``: do nothing (no timer re-armed, no record) when the task's due time is
        already ``due`` — what makes a retried effect (engine.outbox) move it once.
        """
        task = self.get(task_id)
        if task.state != "open":
            raise Conflict(f"task {task_id} is already {task.state}", reason="task_closed")
        if unless_due and task.due_at == due:
            return task  # the projection says so; the unit of work below checks it again
        self.rt.uow.run(task.instance_id,
                        lambda ctx: self.reschedule_in(ctx, task.id, due, reason, unless_due), actor,
                        command="reschedule")
        return self.get(task_id)

    def reschedule_in(self, ctx, task_id, due, reason=None, unless_due=False):
        """The reschedule command inside an already running unit of work ``ctx``."""
        if due.tzinfo is None:
            raise ValueError("a due time needs a UTC offset")
        if unless_due:
            current = rescheduling.current_due(ctx.workflow, task_id)
            if current and parse_moment(current) == due:
                return current
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
            raise Forbidden(f"task {task_id} is not yours to claim", reason="not_yours")
        return self._set_assignee(task, actor.username, actor, "task_claimed",
                                  HumanTask.assignee.is_(None) | (HumanTask.assignee == actor.username))

    def unclaim(self, task_id, actor, override=False):
        """Give the task back to its candidates: its assignee may, or anyone the caller's
        layer grants ``override`` (supervisors, the item's leader)."""
        task = self.get(task_id)
        if task.assignee != actor.username and not (override or actor.is_admin):
            raise Forbidden(f"task {task_id} is not claimed by you", reason="not_claimed_by_you")
        return self._set_assignee(task, None, actor, "task_unclaimed", _unchanged(task))

    def assign(self, task_id, username, actor):
        """Give the task to ``username``. The caller's layer checks who may assign what; the
        engine only insists on an assigning role."""
        if not actor.has_any(*ASSIGNING_ROLES):
            raise Forbidden("only supervisors, leaders and admins assign tasks", reason="may_not_assign")
        task = self.get(task_id)
        return self._set_assignee(task, username, actor, "task_assigned", _unchanged(task))

    def _set_assignee(self, task, username, actor, kind, guard):
        """Change the assignee if the task is still open and unchanged; 409 otherwise."""
        with self.rt.db.write() as session:
            result = session.execute(update(HumanTask).where(
                HumanTask.id == task.id, HumanTask.state == "open", guard).values(assignee=username))
            if result.rowcount != 1:
                raise Conflict(f"task {task.id} is closed or was claimed by someone else", reason="task_taken")
            self.rt.audit.append(session, kind, actor=actor.username, instance_id=task.instance_id,
                                 business_key=task.business_key,
                                 data={"task": task.key, "task_id": task.id, "assignee": username})
        return self.get(task.id)
