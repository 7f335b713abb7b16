"""Read-side queries over the supervision projection (items, plans, reports, escalations): no workflow loads."""
from sqlalchemy import func, or_, select

from engine.models import AuditRecord, HumanTask
from engine.tasks import OPEN
from workflows import lights
from workflows.supervision.models import Escalation, Item, ItemDepartment, ItemPlan, ItemReport, Measure

OVERSEERS = ("admin", "secretariat", "supervisor")


def _department_items(department, status=None):
    """Ids of the items ``department`` takes part in (with ``status``: one index range)."""
    query = select(ItemDepartment.item_id).where(ItemDepartment.department == department)
    return query.where(ItemDepartment.status == status) if status else query


def scope(query, actor, status=None):
    """Limit an Item query to what ``actor`` may see: overseers all, leaders theirs, staff their department's.

    ``status``, when the caller filters by it anyway, narrows the department's item ids early.
    """
    if actor.is_admin or actor.has_any(*OVERSEERS):
        return query
    conditions = []
    if "leader" in actor.roles:
        conditions.append(Item.leader == actor.username)
    if actor.department:
        conditions.append(Item.id.in_(_department_items(actor.department, status)))
    return query.where(or_(*conditions)) if conditions else query.where(False)


def may_see(session, actor, item):
    return session.scalar(scope(select(func.count()).select_from(Item).where(Item.id == item.id), actor)) == 1


def list_items(session, actor, calendar, now, status=None, department=None, light=None,
               overdue=None, q=None, limit=50, offset=0):
    query = scope(select(Item), actor, status)
    department_only = not (actor.is_admin or actor.has_any(*OVERSEERS) or "leader" in actor.roles)
    if status and not (department or (department_only and actor.department)):
        # (otherwise the department's rows already carry the status: item_department.status)
        query = query.where(Item.status == status)
    if department:
        query = query.where(Item.id.in_(_department_items(department, status)))
    now, warning_limit = lights.thresholds(calendar, now)
    if light:
        query = query.where(lights.item_light_filter(Item.id, light, now, warning_limit))
    if overdue is not None:
        red = lights.item_light_filter(Item.id, "red", now, warning_limit)
        query = query.where(red if overdue else ~red)
    if q:
        pattern = f"%{q}%"
        query = query.where(or_(Item.title.like(pattern), Item.code.like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(session.scalars(query.order_by(Item.created_at.desc(), Item.code.desc())
                                .limit(limit).offset(offset)))
    return rows, total


def light_counts(session, actor, calendar, now):
    """Open items in ``actor``'s scope by light: the list's own scope and light filter, counted."""
    now, warning_limit = lights.thresholds(calendar, now)
    query = scope(select(func.count()).select_from(Item), actor).where(Item.status == "open")
    return {light: session.scalar(query.where(lights.item_light_filter(Item.id, light, now, warning_limit)))
            for light in ("green", "yellow", "red")}


def open_tasks_by_item(session, item_ids):
    tasks = {}
    for row in session.scalars(select(HumanTask).where(
            HumanTask.business_key.in_(item_ids), HumanTask.state == OPEN)
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at)):
        tasks.setdefault(row.business_key, []).append(row)
    return tasks


def plans(session, item_id):
    return list(session.scalars(select(ItemPlan).where(ItemPlan.item_id == item_id).order_by(ItemPlan.id)))


def reports(session, item_id):
    return list(session.scalars(select(ItemReport).where(ItemReport.item_id == item_id)
                                .order_by(ItemReport.id)))


def timeline(session, item_id, limit=500):
    return list(session.scalars(select(AuditRecord).where(AuditRecord.business_key == item_id)
                                .order_by(AuditRecord.seq).limit(limit)))


def _page(session, query, order, limit, offset):
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    return list(session.scalars(query.order_by(*order).limit(limit).offset(offset))), total


def escalations(session, actor, state=None, item_id=None, department=None, limit=50, offset=0):
    """Escalations, oldest overdue first: supervisors and admins see all, leaders their items'."""
    query = select(Escalation)
    if not actor.has_any("admin", "supervisor"):
        query = query.where(Escalation.item_id.in_(select(Item.id).where(Item.leader == actor.username)))
    for column, value in ((Escalation.state, state), (Escalation.item_id, item_id),
                          (Escalation.department, department)):
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
