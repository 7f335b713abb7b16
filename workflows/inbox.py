"""The inbox's filters and the working days left on a task (issue 17, item 6).

The engine pages a person's open tasks (``engine.tasks.Tasks.inbox``: the access arms, one
union of small index scans); this module adds what a person narrows it by, as SQL conditions
on ``human_task`` that the engine ANDs into every arm:

* ``process``: the process the step belongs to (its definition's key; any version);
* ``key``: the kind of step (its BPMN id, e.g. ``approve_plan``);
* ``light``: red (due before now), yellow (due within the warning window), green (the rest,
  no due time included) — the same thresholds as every light (``workflows.lights``);
* ``department``: the department the step is routed to;
* ``q``: text in the item's or problem's code or title, or in the step's title (LIKE, with the
  person's ``%`` and ``_`` taken literally).

Trade-off: a filtered inbox builds its statements per request (the unfiltered one is cached
in the engine); a few milliseconds of Python, against a cache keyed on every filter's shape.
"""
from sqlalchemy import and_, or_, select, union_all

from engine.models import Definition, HumanTask
from workflows import lights
from workflows.rectification.models import Problem
from workflows.supervision.models import Item

LIGHTS = ("green", "yellow", "red")
MAX_DAYS = 3660  # working days are counted day by day: a due time further than this shows none


def conditions(calendar, now, process=None, key=None, light=None, department=None, q=None):
    """The SQL conditions on ``human_task`` for the given filters (None: not filtered)."""
    where = []
    if process:
        where.append(HumanTask.definition_id.in_(select(Definition.id).where(Definition.key == process)))
    if key:
        where.append(HumanTask.key == key)
    if department:
        where.append(HumanTask.candidate_department == department)
    if light:
        where.append(light_condition(calendar, now, light))
    if q:
        records = union_all(
            select(Item.id).where(or_(Item.code.contains(q, autoescape=True), Item.title.contains(q, autoescape=True))),
            select(Problem.id).where(or_(Problem.code.contains(q, autoescape=True),
                                         Problem.title.contains(q, autoescape=True))))
        where.append(or_(HumanTask.business_key.in_(records), HumanTask.title.contains(q, autoescape=True)))
    return where


def light_condition(calendar, now, light):
    """Open tasks whose own light is ``light`` (one of :data:`LIGHTS`)."""
    now, warning_limit = lights.thresholds(calendar, now)
    if light == "red":
        return HumanTask.due_at < now
    if light == "yellow":
        return and_(HumanTask.due_at >= now, HumanTask.due_at < warning_limit)
    if light == "green":
        return or_(HumanTask.due_at.is_(None), HumanTask.due_at >= warning_limit)
    raise ValueError(f"unknown light {light!r}")


def working_days_left(calendar, due, now):
    """Working days from ``now``'s date to ``due``'s (the engine's working-day calendar, local
    dates): 0 when due today, negative once past (−N: N working days after the due date), None
    without a due time or more than :data:`MAX_DAYS` days away."""
    if due is None:
        return None
    today, day = calendar.local(now).date(), calendar.local(due).date()
    if abs((day - today).days) > MAX_DAYS:
        return None
    if day >= today:
        return calendar.working_days_between(today, day)
    return -calendar.working_days_between(day, today)


def days_left_words(left, overdue):
    """A person's words for :func:`working_days_left` (剩余工作日 column)."""
    if left is None:
        return "—"
    if overdue:
        return f"已超期 {-left} 个工作日" if left < 0 else "已超期"
    return "今日到期" if left == 0 else f"剩 {left} 个工作日"
