"""Who may see and do what in supervision work: the one access policy of the API and the pages.

It builds on the engine's one generic rule, ``engine.tasks.may_work`` (who may work a task by
its assignee, candidate user, role and department); everything else about 督办 is here. Each
rule is named for what it decides and takes the actor (``engine.actor.Actor``) first; rules
that need rows the caller may not hold take an open ``session``. Admins pass every rule but
the lead department's own requests (计划调整, 延期申请).

Three groups of overseers, on purpose not one (each call site kept its behaviour when the
rules moved here):

- ``RECORD_OVERSEERS`` (admin, secretariat, supervisor) see every item and every problem,
  and so every item's and problem's tasks, lists and lights. (Was ``OVERSEERS`` in
  ``workflows/supervision/queries.py`` and ``workflows/rectification/queries.py``.)
- ``TASK_OVERSEERS`` (admin, supervisor) see every task, including tasks of a generic
  process that works on no item or problem, and may reassign any task (a leader only the
  tasks of the items they lead). The secretariat is not among them: it sees the tasks of
  items and problems through ``RECORD_OVERSEERS``, but not the tasks of processes others
  started, and reassigns nothing. (Was ``OVERSEERS`` in ``api/tasks.py``, and spelled out
  again in ``api.tasks.may_override``.)
- ``ESCALATION_OVERSEERS`` (admin, supervisor) see every escalation; a leader sees those of
  the items they lead. (Was spelled out in ``workflows/supervision/queries.py``.)

The SQL twins of the visibility rules (item lists, the ledger, escalation lists) live in the
domains' ``queries`` modules, which read their role groups from here: keep the two in step
(``tests/test_access.py`` checks them against each other).
"""
from engine.errors import Forbidden
from engine.roles import ADMIN, LEADER, SECRETARIAT, STAFF, SUPERVISOR
from engine.tasks import may_work
from workflows.rectification.models import Problem
from workflows.rectification.problems import get_problem
from workflows.supervision.items import get_item
from workflows.supervision.models import Item, ItemDepartment

RECORD_OVERSEERS = (ADMIN, SECRETARIAT, SUPERVISOR)
TASK_OVERSEERS = (ADMIN, SUPERVISOR)
ESCALATION_OVERSEERS = (ADMIN, SUPERVISOR)
REGISTRARS = (SECRETARIAT,)  # who registers items and problems (立项交办, 问题登记)


def _holds(actor, roles):
    return actor.is_admin or actor.has_any(*roles)


# -- items and problems -------------------------------------------------------------------------
def sees_every_item(actor):
    """Whether ``actor`` sees all items (lists, lights, reports) rather than a scope of them."""
    return _holds(actor, RECORD_OVERSEERS)


def sees_every_problem(actor):
    """Whether ``actor`` sees the whole problem ledger rather than their department's part."""
    return _holds(actor, RECORD_OVERSEERS)


def leads_item(actor, item):
    """Whether ``actor`` is the leader in charge of ``item`` (分管领导)."""
    return LEADER in actor.roles and item.leader == actor.username


def may_see_item(session, actor, item):
    """Overseers every item; a leader the items they lead; anyone the items their department
    takes part in, as lead (主办) or co-department (协办). SQL twin: ``queries.scope``."""
    if sees_every_item(actor) or leads_item(actor, item):
        return True
    return bool(actor.department) and session.get(ItemDepartment, (item.id, actor.department)) is not None


def may_see_problem(actor, problem):
    """Overseers every problem; anyone else the problems of their own department.
    SQL twin: ``workflows.rectification.queries.scope``."""
    return sees_every_problem(actor) or (bool(actor.department) and problem.department == actor.department)


def may_register(actor):
    """Whether ``actor`` may register a new item or problem (and so sees the page's button)."""
    return _holds(actor, REGISTRARS)


# -- tasks ----------------------------------------------------------------------------------------
def task_record(session, task):
    """The item or the problem ``task`` works on (its business key), or None."""
    if not task.business_key:
        return None
    return session.get(Item, task.business_key) or session.get(Problem, task.business_key)


def may_see_record(session, actor, record):
    """``may_see_item`` or ``may_see_problem``, whichever ``record`` is; False for None."""
    if isinstance(record, Item):
        return may_see_item(session, actor, record)
    return isinstance(record, Problem) and may_see_problem(actor, record)


def may_see_task(session, actor, task):
    """Whoever may work the task, ``TASK_OVERSEERS``, and whoever may see its item or problem
    (its departments, its leader, the record overseers)."""
    return (may_work(actor, task) or _holds(actor, TASK_OVERSEERS)
            or may_see_record(session, actor, task_record(session, task)))


def may_see_task_record(session, actor, task, record):
    """Whether a task's page shows ``record`` (its item or problem: notice, plan, timeline):
    to whoever may see the record, and to whoever may work the task, even outside their scope
    (a person the task was assigned to needs the notice to do it)."""
    return record is not None and (may_work(actor, task) or may_see_record(session, actor, record))


def may_override_task(session, actor, task):
    """Whether ``actor`` may reassign ``task`` or give it back for its assignee:
    ``TASK_OVERSEERS`` any task, a leader the tasks of the items they lead."""
    if _holds(actor, TASK_OVERSEERS):
        return True
    record = task_record(session, task)
    return isinstance(record, Item) and leads_item(actor, record)


def may_claim_task(actor, task):
    """Whether ``actor`` may take an open task nobody holds yet (``engine.tasks.claim`` checks
    ``may_work``; a task already held is its holder's until given back)."""
    return task.state == "open" and not task.assignee and not task.candidate_user and may_work(actor, task)


def may_unclaim_task(actor, task, override):
    """Whether ``actor`` may give a held open task back to its candidates: its holder, admins,
    and whoever ``may_override_task`` (passed as ``override``). ``engine.tasks.unclaim`` checks
    the same."""
    return (task.state == "open" and bool(task.assignee)
            and (task.assignee == actor.username or override or actor.is_admin))


# -- requests on an item -------------------------------------------------------------------------
def _lead_staff(actor, item):
    return STAFF in actor.roles and actor.department == item.department


def may_request_plan_change(actor, item):
    """计划调整: staff of the item's lead department (主办部门的承办人员); admins are not."""
    return _lead_staff(actor, item)


def may_request_extension(actor, item):
    """延期申请: staff of the item's lead department; admins are not."""
    return _lead_staff(actor, item)


# -- escalations ---------------------------------------------------------------------------------
def sees_every_escalation(actor):
    """``ESCALATION_OVERSEERS`` see every escalation; a leader only those of items they lead
    (SQL: ``workflows.supervision.queries.escalations``)."""
    return _holds(actor, ESCALATION_OVERSEERS)


# -- loading what the caller may see (the API and the pages alike) -------------------------------
def visible_item(engine, actor, item_id):
    """The item, if ``actor`` may see it: NotFound (404) when there is none, else Forbidden (403)."""
    item = get_item(engine, item_id)
    with engine.db.read() as session:
        if not may_see_item(session, actor, item):
            raise Forbidden(f"item {item.code} is not in your scope", reason="out_of_scope")
    return item


def visible_problem(engine, actor, problem_id):
    """The problem, if ``actor`` may see it: NotFound (404) when there is none, else Forbidden (403)."""
    problem = get_problem(engine, problem_id)
    if not may_see_problem(actor, problem):
        raise Forbidden(f"problem {problem.code} is not in your scope", reason="out_of_scope")
    return problem


def visible_task(engine, actor, task_id):
    """The task row, if ``actor`` may see it (:func:`may_see_task`): NotFound (404), else Forbidden (403)."""
    task = engine.tasks.get(task_id)
    with engine.db.read() as session:
        if not may_see_task(session, actor, task):
            raise Forbidden(f"task {task_id} is not yours", reason="not_yours")
    return task


def overrides_task(engine, actor, task):
    """:func:`may_override_task` in a read transaction of its own."""
    with engine.db.read() as session:
        return may_override_task(session, actor, task)
