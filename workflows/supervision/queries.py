"""Read-side queries over the supervision projection (items, plans, reports, escalations): no workflow loads."""
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import aliased

from engine.roles import LEADER
from workflows import access, departments, lights
from workflows.supervision.models import Escalation, Item, ItemDepartment, ItemPlan, ItemReport, Measure

# A list's own department rows, apart from the scope's subquery over the same table (not
# correlated with it); built once, as adapting an alias costs more than the SQL it saves.
_LISTED = aliased(ItemDepartment, name="listed")


def _department_items(department, status=None):
    """Ids of the items ``department`` takes part in (with ``status``: one index range)."""
    query = select(ItemDepartment.item_id).where(ItemDepartment.department == department)
    return query.where(ItemDepartment.status == status) if status else query


def _visible(actor, item_id, status=None):
    """The condition limiting items (``item_id``: a column holding their ids) to ``actor``'s scope,
    or None for overseers. It names ``Item.leader`` for leaders, so ``Item`` must be in the query.
    The SQL twin of ``access.may_see_item``."""
    if access.sees_every_item(actor):
        return None
    conditions = []
    if LEADER in actor.roles:
        conditions.append(Item.leader == actor.username)
    subtree = access.confinement(actor)
    if subtree:
        conditions.append(item_id.in_(access.subtree_items(subtree, status)))
    elif actor.department:
        conditions.append(item_id.in_(_department_items(actor.department, status)))
    return or_(*conditions) if conditions else false()


def scope(query, actor, status=None):
    """Limit an Item query to what ``actor`` may see: overseers all, leaders theirs, staff their department's.

    ``status``, when the caller filters by it anyway, narrows the department's item ids early.
    """
    condition = _visible(actor, Item.id, status)
    return query if condition is None else query.where(condition)


def _listed(actor, status, department):
    """What an item list reads before its light and search filters:
    ``(rows, item_id, order, conditions, joins_item)``.

    A list confined to one department (``department`` given, or staff, who see their own
    department's items only) reads that department's ``item_department`` rows: they copy the
    item's status, created_at and code (migrations 0006, 0009), so the rows are one index range
    already newest first. The total is counted on that range without touching ``item``, and a
    page walks it in order, so a rare filter (a light) costs at most the department's rows,
    never the whole ``item`` table. Any other list reads ``item`` itself. ``joins_item``: the
    conditions name ``Item``'s own columns (a leader's scope), so counting must join it.
    """
    overseer, leader = access.sees_every_item(actor), LEADER in actor.roles
    own = actor.department if not (overseer or leader or access.confinement(actor)) else None
    listed = department or own
    if not listed:
        visible = _visible(actor, Item.id, status)
        conditions = [] if visible is None else [visible]
        if status:
            conditions.append(Item.status == status)
        return Item, Item.id, (Item.created_at.desc(), Item.code.desc()), conditions, False
    rows = _LISTED
    conditions = [rows.department == listed]
    if status:
        conditions.append(rows.status == status)
    if not overseer and listed != own:  # (staff's own department needs no other scope)
        conditions.append(_visible(actor, rows.item_id, status))
    return rows, rows.item_id, (rows.created_at.desc(), rows.code.desc()), conditions, leader and not overseer


def _count(session, rows, item_id, conditions, joins_item):
    query = select(func.count()).select_from(rows)
    if joins_item and rows is not Item:
        query = query.join(Item, Item.id == item_id)
    return session.scalar(query.where(*conditions))


def list_items(session, actor, calendar, now, status=None, department=None, light=None,
               overdue=None, q=None, limit=50, offset=0, under=None):
    """``(rows, total)``: the items in ``actor``'s scope matching the filters, newest first.

    ``under``: a department's path; only the items a department of its subtree takes part in.

    Lights are conditions on the items' open tasks against ``now`` (``lights.item_light_filter``),
    so a filtered list is always current. See ``_listed`` for which rows a list reads. A total
    over ``item`` itself drives its light condition from the tasks due soon (``from_tasks``);
    the page probes the items it walks in order, and stops after ``offset + limit``.
    """
    rows, item_id, order, conditions, joins_item = _listed(actor, status, department)
    if under:
        conditions.append(item_id.in_(access.subtree_items(under, status)))
    if q:
        pattern = f"%{q}%"
        conditions.append(or_(Item.title.like(pattern), Item.code.like(pattern)))
    now, warning_limit = lights.thresholds(calendar, now)

    def by_light(from_tasks):
        wanted = []
        if light:
            wanted.append(lights.item_light_filter(item_id, light, now, warning_limit, from_tasks))
        if overdue is not None:  # (negated, red must stay NOT EXISTS)
            red = lights.item_light_filter(item_id, "red", now, warning_limit, from_tasks and overdue)
            wanted.append(red if overdue else ~red)
        return wanted

    total = _count(session, rows, item_id, [*conditions, *by_light(rows is Item)], joins_item or bool(q))
    page = select(Item) if rows is Item else select(Item).select_from(rows).join(Item, Item.id == item_id)
    page = page.where(*conditions, *by_light(False)).order_by(*order).limit(limit).offset(offset)
    return list(session.scalars(page)), total


def light_counts(session, actor, calendar, now):
    """Open items in ``actor``'s scope by light: the list's own scope and light filter, counted.

    Three counts from two semi-joins: the open items with an open task due before now (red) and
    before the warning limit (red or yellow), beside all open items in scope. Yellow and green are
    differences, exact because the warning limit is never before now (``lights.thresholds``);
    counting green directly would probe the open tasks of every open item in scope.
    """
    now, warning_limit = lights.thresholds(calendar, now)
    rows, item_id, _order, conditions, joins_item = _listed(actor, "open", None)

    def count(*more):
        return _count(session, rows, item_id, [*conditions, *more], joins_item)

    red, soon = (count(lights.has_task_due_before(item_id, moment, from_tasks=rows is Item))
                 for moment in (now, warning_limit))
    total = count()
    return {"green": total - soon, "yellow": soon - red, "red": red}


def plans(session, item_id):
    return list(session.scalars(select(ItemPlan).where(ItemPlan.item_id == item_id).order_by(ItemPlan.id)))


def reports(session, item_id):
    return list(session.scalars(select(ItemReport).where(ItemReport.item_id == item_id)
                                .order_by(ItemReport.id)))


def _page(session, query, order, limit, offset):
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    return list(session.scalars(query.order_by(*order).limit(limit).offset(offset))), total


def escalations(session, actor, state=None, item_id=None, department=None, limit=50, offset=0, problem_id=None):
    """Escalations, oldest overdue first: supervisors and admins see all (a confined supervisor
    those of its subtree's departments), leaders their items' (``access.sees_every_escalation``;
    a problem has no leader, so its escalations are the overseers' only)."""
    query = select(Escalation)
    if not access.sees_every_escalation(actor):
        visible = [Escalation.item_id.in_(select(Item.id).where(Item.leader == actor.username))]
        subtree = access.confinement(actor)
        if subtree and actor.has_any(*access.ESCALATION_OVERSEERS):
            visible.append(Escalation.department.in_(departments.subtree_codes(subtree)))
        query = query.where(or_(*visible))
    for column, value in ((Escalation.state, state), (Escalation.item_id, item_id),
                          (Escalation.problem_id, problem_id), (Escalation.department, department)):
        if value:
            query = query.where(column == value)
    return _page(session, query, (Escalation.overdue_since, Escalation.id), limit, offset)


def item_escalations(session, item_id):
    return list(session.scalars(select(Escalation).where(Escalation.item_id == item_id)
                                .order_by(Escalation.overdue_since, Escalation.id)))


def measures(session, department=None, year=None, limit=50, offset=0):
    query = select(Measure)
    if department:
        query = query.where(Measure.department == department)
    if year:
        query = query.where(Measure.year == year)
    return _page(session, query, (Measure.at, Measure.id), limit, offset)
