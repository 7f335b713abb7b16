"""The leader's cockpit (驾驶舱): one read of the figures leaders and the secretariat watch.

Open items and problems by light, overdue steps by department, this week's due steps, the
month's ranking (top and bottom), and items registered / closed per week over 12 weeks.

Contract:
- **Scope**: the reader's, as every list (``queries.scope`` for items,
  ``rectification.queries.scope`` for problems — the SQL twins of ``access.may_see_item`` /
  ``may_see_problem``): the secretariat, supervisors and admins count everything, a leader the
  items he is in charge of (or his department takes part in) and his department's problems.
  The ranking is published to every department, so it is never cut.
- **Clock**: every figure is as of ``now`` (the engine clock, simulated in tests); weeks and
  months are local (the calendar's timezone), weeks ISO (Monday 00:00 to the next Monday).
- **Cost**: aggregate queries only (COUNT / GROUP BY in SQL), a fixed number of statements
  whatever the number of items — no Python loop over items or tasks. Lights use
  ``workflows.lights`` (the semi-joins driven from the few tasks due soon).
"""
import datetime as dt

from sqlalchemy import case, func, or_, select

from engine.models import HumanTask
from engine.tasks import OPEN
from workflows import access, lights
from workflows.rectification import queries as problem_queries
from workflows.rectification.models import Problem
from workflows.supervision import queries, reports
from workflows.supervision.models import Item

TOP_DEPARTMENTS = 8    # overdue by department: the worst N
LISTED_STEPS = 10      # this week's due steps: the first N by due time
RANKED = 3             # the month's ranking: top N and bottom N
TREND_WEEKS = 12


def figures(session, actor, calendar, now, department_names, ranked_departments):
    """The cockpit's figures as a JSON-ready dict (``department_names``: ``{code: name}`` of
    every department; ``ranked_departments``: those the ranking ranks)."""
    week_start, week_end = week_bounds(calendar, now)
    keys = _visible_keys(actor)
    return {
        "as_of": now.isoformat(),
        "scope": "all" if access.sees_every_item(actor) else "own",
        "items": _with_total(queries.light_counts(session, actor, calendar, now)),
        "problems": _with_total(problem_light_counts(session, actor, calendar, now)),
        "overdue_by_department": overdue_by_department(session, keys, now, department_names),
        "due_this_week": due_between(session, keys, calendar, now, week_start, week_end, department_names),
        "ranking": ranking_ends(session, calendar, now, ranked_departments),
        "trend": weekly_flow(session, actor, calendar, now),
    }


def _with_total(counts):
    return {**counts, "total": sum(counts.values())}


def week_bounds(calendar, moment):
    """The local ISO week holding ``moment``: (Monday 00:00, next Monday 00:00) as instants."""
    monday = calendar.local(moment).date()
    monday -= dt.timedelta(days=monday.weekday())
    return calendar.at(monday, dt.time(0)), calendar.at(monday + dt.timedelta(days=7), dt.time(0))


def _visible_keys(actor):
    """A condition on ``HumanTask.business_key``: a step of an item or a problem in ``actor``'s
    scope (so generic processes' steps never count)."""
    return or_(HumanTask.business_key.in_(queries.scope(select(Item.id), actor)),
               HumanTask.business_key.in_(problem_queries.scope(select(Problem.id), actor)))


def problem_light_counts(session, actor, calendar, now):
    """Open problems in ``actor``'s scope by light: three counts, as ``queries.light_counts``."""
    now, warning_limit = lights.thresholds(calendar, now)
    base = problem_queries.scope(select(func.count()).select_from(Problem), actor).where(Problem.status == "open")
    red, soon = (session.scalar(base.where(lights.has_task_due_before(Problem.id, moment, from_tasks=True)))
                 for moment in (now, warning_limit))
    total = session.scalar(base)
    return {"green": total - soon, "yellow": soon - red, "red": red}


def overdue_by_department(session, keys, now, department_names, limit=TOP_DEPARTMENTS):
    """The departments with the most open steps past due (items' and problems'), worst first:
    ``[{department, name, overdue_steps, records}]`` (``records``: distinct items/problems)."""
    rows = session.execute(
        select(HumanTask.candidate_department, func.count().label("steps"),
               func.count(func.distinct(HumanTask.business_key)))
        .where(HumanTask.state == OPEN, HumanTask.due_at.is_not(None), HumanTask.due_at < now,
               HumanTask.candidate_department.is_not(None), keys)
        .group_by(HumanTask.candidate_department)
        .order_by(func.count().desc(), HumanTask.candidate_department).limit(limit))
    return [{"department": code, "name": department_names.get(code, code), "overdue_steps": steps,
             "records": records} for code, steps, records in rows]


def due_between(session, keys, calendar, now, start, end, department_names, limit=LISTED_STEPS):
    """Open steps due in [start, end): ``{start, end, total, red, steps: [first ``limit`` by due time]}``.

    Each listed step names its record (item or problem: code and title), its department (or
    lane, for a leader's or the secretariat's step) and its light now.
    """
    due = [HumanTask.state == OPEN, HumanTask.due_at >= start, HumanTask.due_at < end, keys]
    total, red = session.execute(select(func.count(), func.sum(case((HumanTask.due_at < now, 1), else_=0)))
                                 .where(*due)).one()
    rows = session.execute(
        select(HumanTask.id, HumanTask.title, HumanTask.key, HumanTask.lane, HumanTask.candidate_department,
               HumanTask.due_at, HumanTask.business_key, Item.code, Item.title, Problem.code, Problem.title)
        .outerjoin(Item, Item.id == HumanTask.business_key)
        .outerjoin(Problem, Problem.id == HumanTask.business_key)
        .where(*due).order_by(HumanTask.due_at, HumanTask.id).limit(limit))
    now, warning_limit = lights.thresholds(calendar, now)
    steps = [{"task_id": task_id, "step": title or key, "record": "item" if item_code else "problem",
              "record_id": business_key, "code": item_code or problem_code, "title": item_title or problem_title,
              "department": department, "department_name": department_names.get(department, department)
              if department else lane, "due_at": due_at.isoformat(),
              "light": lights.light(due_at, now, warning_limit)}
             for (task_id, title, key, lane, department, due_at, business_key, item_code, item_title,
                  problem_code, problem_title) in rows]
    return {"start": start.isoformat(), "end": end.isoformat(), "total": total, "red": int(red or 0),
            "steps": steps}


def ranking_ends(session, calendar, now, ranked_departments, count=RANKED):
    """This month's ranking (``reports.ranking``, the published one): its ``count`` best and
    ``count`` worst departments among those with an on-time rate (none repeated)."""
    month = f"{calendar.local(now).year}-{calendar.local(now).month:02d}"
    rows = [row for row in reports.ranking(session, calendar, month, now, ranked_departments)["departments"]
            if row["on_time_rate"] is not None]
    fields = ("rank", "department", "name", "on_time_rate", "steps_due", "overdue_steps")
    top = rows[:count]
    bottom = rows[max(count, len(rows) - count):][::-1]
    return {"month": month, "ranked": len(rows),
            "top": [{f: row[f] for f in fields} for row in top],
            "bottom": [{f: row[f] for f in fields} for row in bottom]}


def weekly_flow(session, actor, calendar, now, weeks=TREND_WEEKS):
    """Items registered and closed per local ISO week, the ``weeks`` weeks ending with this one
    (oldest first): ``{weeks: [{week, start, registered, closed}]}``. Two GROUP BY queries,
    each over a CASE putting an instant in its week (portable: no dialect's date functions)."""
    this_monday, _ = week_bounds(calendar, now)
    monday = calendar.local(this_monday).date()
    days = [monday - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks + 1)]
    bounds = [calendar.at(day, dt.time(0)) for day in days]
    registered = _per_week(session, actor, Item.created_at, bounds)
    closed = _per_week(session, actor, Item.closed_at, bounds, Item.status == "closed")
    return {"weeks": [{"week": "{}-W{:02d}".format(*days[i].isocalendar()[:2]), "start": days[i].isoformat(),
                       "registered": registered.get(i, 0), "closed": closed.get(i, 0)} for i in range(weeks)]}


def _per_week(session, actor, column, bounds, *conditions):
    """``{week index: count}`` of the items in scope whose ``column`` falls in a week of ``bounds``."""
    week = case(*[(column < bound, index) for index, bound in enumerate(bounds[1:])]).label("week")
    inner = queries.scope(select(week), actor).where(column >= bounds[0], column < bounds[-1], *conditions).subquery()
    return dict(session.execute(select(inner.c.week, func.count()).group_by(inner.c.week)).all())
