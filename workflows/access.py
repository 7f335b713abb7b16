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

**The department tree** (issue 16). The overseers among the secretariat and the supervisors
work within a subtree: one whose department is a root (no parent), or who has no department,
oversees the whole organisation as before; one whose department has a parent (a county's
office) oversees that department's subtree only (:func:`confinement`): the items any of its
departments takes part in, the problems and escalations of its departments, the tasks of those
records, and registers items and problems for its departments only. Admins are never confined.
The department's place in the tree comes with the actor (``Actor.department_path``).

The SQL twins of the visibility rules (item lists, the ledger, escalation lists) live in the
domains' ``queries`` modules, which read their role groups from here: keep the two in step
(``tests/test_access.py`` checks them against each other).
"""
from sqlalchemy import and_, exists, false, or_, select, true

from engine.errors import Forbidden
from engine.models import HumanTask, Instance
from engine.roles import ADMIN, DESIGNER, LEADER, SECRETARIAT, STAFF, SUPERVISOR
from engine.tasks import may_work
from workflows import departments
from workflows.campaigns import campaigns
from workflows.campaigns.models import Campaign, CampaignDepartment
from workflows.complaints.models import Complaint
from workflows.rectification.models import Problem
from workflows.rectification.problems import get_problem
from workflows.supervision.items import get_item
from workflows.supervision.models import Item, ItemDepartment

RECORD_OVERSEERS = (ADMIN, SECRETARIAT, SUPERVISOR)
TASK_OVERSEERS = (ADMIN, SUPERVISOR)
ESCALATION_OVERSEERS = (ADMIN, SUPERVISOR)
REGISTRARS = (SECRETARIAT,)  # who registers items and problems (立项交办, 问题登记)
ITEM_MANAGERS = (SECRETARIAT,)  # who cancels items, edits their notice, changes their lead department
LOOKBACK_SCHEDULERS = (SECRETARIAT,)  # who schedules a 回头看 on a closed item or problem (and admins)
INSTANCE_READERS = (SECRETARIAT, DESIGNER, SUPERVISOR)  # the generic instance views (and admins)
INSTANCE_STARTERS = (SECRETARIAT, DESIGNER)  # start a generic process (not a domain's; and admins)
COMPLAINT_READERS = (SECRETARIAT, SUPERVISOR)  # the triage desk (and admins; api.complaints.READERS)
CAMPAIGN_MANAGERS = (SECRETARIAT,)  # create and edit campaigns (专项行动; and admins)
SELF_CHECKERS = (STAFF, LEADER)  # register their own department's findings in a self-check stage


CONFINED_OVERSEERS = (SECRETARIAT, SUPERVISOR)  # overseers held to their department's subtree


def _holds(actor, roles):
    return actor.is_admin or actor.has_any(*roles)


def confinement(actor):
    """The path of the subtree a secretariat or supervisor in a non-root department oversees
    ("/city/county/"), or None: admins, overseers at a root department or with none, and
    everyone who oversees nothing (their scope is their own department's, as before)."""
    if actor.is_admin or not actor.has_any(*CONFINED_OVERSEERS):
        return None
    path = actor.department_path
    return path if path and not departments.is_root(path) else None


def _oversees(actor, roles):
    """Holds one of ``roles`` and is not confined to a subtree: sees all of it."""
    return _holds(actor, roles) and confinement(actor) is None


# -- items and problems -------------------------------------------------------------------------
def sees_every_item(actor):
    """Whether ``actor`` sees all items (lists, lights, reports) rather than a scope of them."""
    return _oversees(actor, RECORD_OVERSEERS)


def sees_every_problem(actor):
    """Whether ``actor`` sees the whole problem ledger rather than their department's part."""
    return _oversees(actor, RECORD_OVERSEERS)


def subtree_items(path, status=None):
    """SELECT of the ids of the items a department in the subtree of ``path`` takes part in."""
    query = select(ItemDepartment.item_id).where(ItemDepartment.department.in_(departments.subtree_codes(path)))
    return query.where(ItemDepartment.status == status) if status else query


def leads_item(actor, item):
    """Whether ``actor`` is the leader in charge of ``item`` (分管领导)."""
    return LEADER in actor.roles and item.leader == actor.username


def may_see_item(session, actor, item):
    """Overseers every item; a leader the items they lead; anyone the items their department
    takes part in, as lead (主办) or co-department (协办). SQL twin: ``queries.scope``."""
    if sees_every_item(actor) or leads_item(actor, item):
        return True
    path = confinement(actor)
    if path:  # a confined overseer: any department of the subtree takes part
        return bool(session.scalar(select(exists(subtree_items(path).where(ItemDepartment.item_id == item.id)))))
    return bool(actor.department) and session.get(ItemDepartment, (item.id, actor.department)) is not None


def may_see_problem(session, actor, problem):
    """Overseers every problem (a confined one those of its subtree's departments); anyone
    else the problems of their own department.
    SQL twin: ``workflows.rectification.queries.scope``."""
    if sees_every_problem(actor):
        return True
    path = confinement(actor)
    if path:
        return departments.in_subtree(session, problem.department, path)
    return bool(actor.department) and problem.department == actor.department


def may_register(actor):
    """Whether ``actor`` may register a new item or problem (and so sees the page's button)."""
    return _holds(actor, REGISTRARS)


def may_register_self_check(session, actor, campaign_id, department, day):
    """边查边改: staff and leaders may register a ``self_check`` problem of their OWN department
    for a campaign whose scope holds it, while its current stage (on ``day``, the engine
    clock's local date) is a self-check stage (自查自纠)."""
    return (actor.has_any(*SELF_CHECKERS) and bool(actor.department) and department == actor.department
            and campaigns.in_self_check(session, campaign_id, department, day))


def refuse_registration(session, actor, fields, day):
    """Forbidden unless ``actor`` may register this problem (``fields``: its department,
    source and campaign): a registrar (:func:`may_register`) any, staff and leaders their
    own findings (:func:`may_register_self_check`, else ``self_check_only``)."""
    if may_register(actor):
        return
    if not (fields["source"] == "self_check"
            and may_register_self_check(session, actor, fields.get("campaign"), fields["department"], day)):
        raise Forbidden("only a self-check finding of your own department, in a campaign's self-check stage",
                        reason="self_check_only")


# -- campaigns (专项行动) ---------------------------------------------------------------------------
def may_manage_campaigns(actor):
    """Create and edit campaigns: the secretariat (and admins)."""
    return _holds(actor, CAMPAIGN_MANAGERS)


def may_see_campaign(session, actor, campaign_id):
    """The record overseers every campaign; anyone else the campaigns whose scope holds their
    department (what they see of its figures is their scope of problems). SQL twin: :func:`campaign_scope`."""
    return _holds(actor, RECORD_OVERSEERS) or (
        bool(actor.department) and session.get(CampaignDepartment, (campaign_id, actor.department)) is not None)


def campaign_scope(actor):
    """The condition limiting ``Campaign`` rows to :func:`may_see_campaign`, or None (all)."""
    if _holds(actor, RECORD_OVERSEERS):
        return None
    return Campaign.id.in_(select(CampaignDepartment.campaign_id)
                           .where(CampaignDepartment.department == (actor.department or "")))


def visible_campaign(engine, actor, campaign_id):
    """The campaign, if ``actor`` may see it: NotFound (404) when there is none, else Forbidden (403)."""
    campaign = campaigns.get(engine, campaign_id)
    with engine.db.read() as session:
        if not may_see_campaign(session, actor, campaign.id):
            raise Forbidden(f"campaign {campaign_id} is not in your scope", reason="out_of_scope")
    return campaign


def refuse_outside_subtree(session, actor, codes):
    """Forbidden (``outside_subtree``) when a confined registrar names a department outside its
    subtree (``codes``: the lead department, co-departments, a problem's department)."""
    path = confinement(actor)
    if not path:
        return
    outside = [code for code in codes if code and not departments.in_subtree(session, code, path)]
    if outside:
        raise Forbidden(f"departments outside your subtree: {', '.join(outside)}", reason="outside_subtree")


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
    return isinstance(record, Problem) and may_see_problem(session, actor, record)


def _personal(actor, task):
    return actor.username in (task.assignee, task.candidate_user)


def may_work_task(session, actor, task):
    """``engine.tasks.may_work``, and for a confined overseer only tasks named to them, of no
    item or problem, or of a record in their subtree: a county office does not work the city's
    or another county's steps routed to its role. SQL twin: :func:`task_scope`."""
    if not may_work(actor, task):
        return False
    if not confinement(actor) or _personal(actor, task):
        return True
    record = task_record(session, task)
    return record is None or may_see_record(session, actor, record)


def register(registry):
    """Completing any task checks :func:`may_work_task` (the engine checks ``may_work`` alone):
    a confined overseer cannot complete a step outside their subtree by its id."""
    @registry.before_complete(None)
    def within_subtree(step):
        if not confinement(step.actor):
            return
        with step.engine.db.read() as session:
            allowed = may_work_task(session, step.actor, step.task)
        if not allowed:
            raise Forbidden(f"task {step.task.id} is outside your subtree", reason="not_yours")


def task_scope(actor):
    """The condition an inbox adds for :func:`may_work_task` (beside ``may_work``'s own), or None."""
    if not confinement(actor):
        return None
    key = HumanTask.business_key
    generic = or_(key.is_(None), and_(key.not_in(select(Item.id)), key.not_in(select(Problem.id))))
    return or_(HumanTask.assignee == actor.username, HumanTask.candidate_user == actor.username, generic,
               key.in_(_visible_item_ids(actor)), key.in_(_visible_problem_ids(actor)))


def may_see_task(session, actor, task):
    """Whoever may work the task (:func:`may_work_task`), ``TASK_OVERSEERS`` (not confined),
    and whoever may see its item or problem (its departments, its leader, the record overseers)."""
    return (may_work_task(session, actor, task) or _oversees(actor, TASK_OVERSEERS)
            or may_see_record(session, actor, task_record(session, task)))


def may_see_task_record(session, actor, task, record):
    """Whether a task's page shows ``record`` (its item or problem: notice, plan, timeline):
    to whoever may see the record, and to whoever may work the task, even outside their scope
    (a person the task was assigned to needs the notice to do it)."""
    return record is not None and (may_work_task(session, actor, task) or may_see_record(session, actor, record))


def may_override_task(session, actor, task):
    """Whether ``actor`` may reassign ``task`` or give it back for its assignee:
    ``TASK_OVERSEERS`` any task (a confined one the tasks of records in its subtree), a leader
    the tasks of the items they lead."""
    record = task_record(session, task)
    if _holds(actor, TASK_OVERSEERS) and (not confinement(actor) or may_see_record(session, actor, record)):
        return True
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
def may_manage_item(actor):
    """Cancel an item, edit its notice, change its lead department (the secretariat; admins)."""
    return actor.is_admin or _holds(actor, ITEM_MANAGERS)


def may_send_back(actor, item):
    """退回交办: staff and leaders of the item's lead department (while drafting their plan)."""
    return actor.department == item.department and actor.has_any(STAFF, LEADER)


def sees_every_escalation(actor):
    """``ESCALATION_OVERSEERS`` see every escalation; a leader only those of items they lead
    (SQL: ``workflows.supervision.queries.escalations``)."""
    return _oversees(actor, ESCALATION_OVERSEERS)


# -- process instances (the generic views and commands of any process) ----------------------------
def may_start_instance(actor):
    """Whether ``actor`` may start a generic process through ``POST /instances`` (a process a
    domain owns, ``Registry.owner``, is started only through that domain, by anyone)."""
    return _holds(actor, INSTANCE_STARTERS)


def may_operate_instances(actor):
    """Operating live instances (cancel, suspend, resume, retry, migrate for real, deliver a
    message) is for admins alone: designers design, and a domain's work is its owners'."""
    return actor.is_admin


def instance_record(session, instance):
    """The item or problem ``instance`` works on (its business key), or None."""
    key = instance.business_key
    return (session.get(Item, key) or session.get(Problem, key)) if key else None


def may_see_instance(session, actor, instance):
    """``INSTANCE_READERS``, admins and whoever started it; and, for an instance of an item or
    a problem (its business key), only if they may see that record too: the generic views show
    no more than the domain's views. SQL twin: :func:`instance_scope`."""
    if not (_holds(actor, INSTANCE_READERS) or instance.started_by == actor.username):
        return False
    record = instance_record(session, instance)
    return record is None or may_see_record(session, actor, record)


def instance_scope(actor):
    """The condition limiting ``Instance`` rows to :func:`may_see_instance`, or None (all)."""
    if sees_every_item(actor) and sees_every_problem(actor):
        return None  # the record overseers are all instance readers too
    key = Instance.business_key
    generic = or_(key.is_(None), and_(key.not_in(select(Item.id)), key.not_in(select(Problem.id))))
    reader = true() if _holds(actor, INSTANCE_READERS) else Instance.started_by == actor.username
    return and_(reader, or_(generic, key.in_(_visible_item_ids(actor)), key.in_(_visible_problem_ids(actor))))


def _visible_item_ids(actor):
    if sees_every_item(actor):
        return select(Item.id)
    conditions = [Item.leader == actor.username] if LEADER in actor.roles else []
    if confinement(actor):
        conditions.append(Item.id.in_(subtree_items(confinement(actor))))
    elif actor.department:
        conditions.append(Item.id.in_(select(ItemDepartment.item_id)
                                      .where(ItemDepartment.department == actor.department)))
    return select(Item.id).where(or_(*conditions) if conditions else false())


def _visible_problem_ids(actor):
    if sees_every_problem(actor):
        return select(Problem.id)
    if confinement(actor):
        return select(Problem.id).where(Problem.department.in_(departments.subtree_codes(confinement(actor))))
    return select(Problem.id).where(Problem.department == actor.department if actor.department else false())


def visible_instance(engine, actor, instance_id):
    """The instance, if ``actor`` may see it: NotFound (404), else Forbidden (403)."""
    instance = engine.instances.get(instance_id)
    with engine.db.read() as session:
        if not may_see_instance(session, actor, instance):
            raise Forbidden(f"instance {instance_id} is not in your scope", reason="out_of_scope")
    return instance


def refuse_domain_process(engine, key):
    """Forbidden when a domain owns process ``key``: start it through the domain's own command."""
    owner = engine.registry.owner(key)
    if owner:
        raise Forbidden(f"process {key!r} belongs to the {owner} domain; start it there",
                        reason="domain_process")


# -- evidence files -----------------------------------------------------------------------------
def may_read_file(session, actor, file):
    """Who may download an evidence file (``workflows.files``): its uploader; and, once
    attached, whoever may see the task whose form references it (:func:`may_see_task`: who may
    work it, the task overseers, who may see its item or problem), the item or problem it
    belongs to, the complaint (the triage desk; and, once triaged, who may see the problem or
    item it became), or the generic instance."""
    if file.uploader is not None and file.uploader == actor.username:
        return True
    if file.attached_at is None:
        return False
    task = session.get(HumanTask, file.task_id) if file.task_id else None
    if task is not None and may_see_task(session, actor, task):
        return True
    if file.record_id:
        record = session.get(Item, file.record_id) or session.get(Problem, file.record_id)
        if record is not None:
            return may_see_record(session, actor, record)
        complaint = session.get(Complaint, file.record_id)
        if complaint is not None:
            became = session.get(Problem, complaint.problem_id) if complaint.problem_id else (
                session.get(Item, complaint.item_id) if complaint.item_id else None)
            return _holds(actor, COMPLAINT_READERS) or may_see_record(session, actor, became)
    instance = session.get(Instance, file.instance_id) if file.instance_id else None
    return instance is not None and may_see_instance(session, actor, instance)


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
    with engine.db.read() as session:
        visible = may_see_problem(session, actor, problem)
    if not visible:
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
