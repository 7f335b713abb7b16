"""A campaign's figures (专项行动统计): per department and per category, aggregate SQL only.

For the problems of the campaign that the reader may see (the ledger's scope,
``workflows.rectification.queries.scope``), cancelled ones left out:

- ``found``: problems registered (发现问题);
- ``open``: in rectification (整改中, status open);
- ``overdue``: open with a red light — an open step past its due time, the ledger's light
  condition (``workflows.lights.has_task_due_before``) at the engine clock's now;
- ``closed``: 销号 (status closed);
- ``rate``: 销号率 = closed / found as a percentage with one decimal (66.7), None when nothing
  was found — the share of what was found that is finished, not of what was due.

Departments are those of the campaign's scope the reader may see (with zeros), plus any other
department that has problems of the campaign. Categories: each kind (its own problems and its
sub-kinds'), then its sub-kinds; problems without a category in a row of their own (``id``
None) when there are any. Two grouped counts per call, whatever the number of problems.
"""
from sqlalchemy import and_, case, func, select

from workflows import access, departments, lights
from workflows.campaigns import campaigns
from workflows.rectification import queries
from workflows.rectification.models import Problem

MEASURES = ("found", "open", "overdue", "closed")


def figures(session, actor, campaign_id, now):
    """``{"departments": [...], "categories": [...], "total": {...}}``; each row has ``found``,
    ``open``, ``overdue``, ``closed`` and ``rate``; department rows ``code`` and ``name``,
    category rows ``id``, ``name``, ``parent_id``."""
    by_department = _counts(session, actor, campaign_id, now, Problem.department)
    by_category = _counts(session, actor, campaign_id, now, Problem.category_id)
    codes = [c for c in _visible_scope(session, actor, campaign_id) if c not in by_department] + list(by_department)
    names = dict(session.execute(select(departments.DEPARTMENT.c.code, departments.DEPARTMENT.c.name)
                                 .where(departments.DEPARTMENT.c.code.in_(codes))).all())
    department_rows = [_row({"code": c, "name": names.get(c, c)}, by_department.get(c))
                       for c in sorted(codes)]
    return {"departments": department_rows,
            "categories": _category_rows(campaigns.categories(session, campaign_id), by_category),
            "total": _row({}, [sum(c[i] for c in by_department.values()) for i in range(len(MEASURES))])}


def _counts(session, actor, campaign_id, now, column):
    """``{group: (found, open, overdue, closed)}`` grouped by ``column``."""
    is_open = Problem.status == "open"
    red = and_(is_open, lights.has_task_due_before(Problem.id, now))
    query = select(column, func.count(), _sum(is_open), _sum(red), _sum(Problem.status == "closed")).where(
        Problem.campaign_id == campaign_id, Problem.status != "cancelled")
    return {group: tuple(int(v or 0) for v in values)
            for group, *values in session.execute(queries.scope(query, actor).group_by(column))}


def _sum(condition):
    return func.sum(case((condition, 1), else_=0))


def _row(fields, values):
    row = dict(zip(MEASURES, values or (0, 0, 0, 0)))
    row["rate"] = round(100 * row["closed"] / row["found"], 1) if row["found"] else None
    return {**fields, **row}


def _category_rows(categories, counts):
    rows = []
    for category in categories:
        members = [category.id] + [c.id for c in categories if c.parent_id == category.id]
        values = [sum(counts.get(i, (0,) * 4)[m] for i in members) for m in range(len(MEASURES))]
        rows.append(_row({"id": category.id, "name": category.name, "parent_id": category.parent_id}, values))
    if counts.get(None):
        rows.append(_row({"id": None, "name": None, "parent_id": None}, counts[None]))
    return rows


def _visible_scope(session, actor, campaign_id):
    """The campaign's scope as far as ``actor`` sees problems (``queries.scope``'s rule)."""
    codes = campaigns.scope(session, campaign_id)
    if access.sees_every_problem(actor):
        return codes
    path = access.confinement(actor)
    if path:
        return [c for c in codes if departments.in_subtree(session, c, path)]
    return [c for c in codes if c == actor.department]
