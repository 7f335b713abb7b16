"""Read-side queries over the rectification projection — the ledger (问题台账): no workflow loads.

Scope: the secretariat, supervisors and admins see every problem (a secretariat or supervisor
of a non-root department those of its subtree, ``access.confinement``); everyone else the
problems of their own department.
"""
from sqlalchemy import func, or_, select

from workflows import access, departments, lights
from workflows.campaigns.models import CampaignCategory
from workflows.rectification.models import Problem, ProblemReport

MAX_EXPORT_ROWS = 50_000


def scope(query, actor):
    """Limit a Problem query to ``actor``'s scope: the SQL twin of ``access.may_see_problem``."""
    if access.sees_every_problem(actor):
        return query
    subtree = access.confinement(actor)
    if subtree:
        return query.where(Problem.department.in_(departments.subtree_codes(subtree)))
    return query.where(Problem.department == actor.department) if actor.department else query.where(False)


def ledger(session, actor, calendar, now, source=None, department=None, status=None, light=None,
           q=None, limit=50, offset=0, under=None, campaign=None, category=None):
    """``(rows, total)``: the problems in ``actor``'s scope matching the filters, newest first
    (``under``: a department's path, the problems of its subtree's departments; ``campaign``:
    a campaign's id; ``category``: a category's id, a kind with its sub-kinds)."""
    query = scope(select(Problem), actor)
    if under:
        query = query.where(Problem.department.in_(departments.subtree_codes(under)))
    if campaign:
        query = query.where(Problem.campaign_id == campaign)
    if category:
        query = query.where(or_(Problem.category_id == category, Problem.category_id.in_(
            select(CampaignCategory.id).where(CampaignCategory.parent_id == category))))
    if source:
        query = query.where(Problem.source == source)
    if department:
        query = query.where(Problem.department == department)
    if status:
        query = query.where(Problem.status == status)
    if light:
        now, warning_limit = lights.thresholds(calendar, now)
        query = query.where(lights.item_light_filter(Problem.id, light, now, warning_limit))
    if q:
        pattern = f"%{q}%"
        query = query.where(or_(Problem.title.like(pattern), Problem.code.like(pattern),
                                Problem.description.like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(session.scalars(query.order_by(Problem.created_at.desc(), Problem.code.desc())
                                .limit(limit).offset(offset)))
    return rows, total


def reports(session, problem_id):
    return list(session.scalars(select(ProblemReport).where(ProblemReport.problem_id == problem_id)
                                .order_by(ProblemReport.id)))
