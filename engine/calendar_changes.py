"""Moving open tasks' due times after a year's holiday schedule changed: preview, then apply.

Due times are data (computed once, when the step opened), so a newly entered schedule moves
nothing by itself. An admin previews the change and applies it; nothing else moves a due time.

Which tasks, and where to: a change is the newest entered schedule of a year compared with
the calendar the tasks were computed with — the year's previous entered schedule, or the
package's estimate when there was none (``baseline="previous"``); or, for tasks computed by
a version that counted a year without data as weekends only (before issue 14),
``baseline="weekends"``. Only open tasks created before the schedule was entered count
(later ones were computed with it); "before" includes the same instant, which only a
simulated clock standing still produces: such a task shows in the preview, to be unticked,
rather than being silently left out. A due time that was ``n`` working days after its task's
creation day under the old calendar (and fell on a working day) becomes the ``n``-th working
day after that day under the new one, at the same time of day: ``working_day_end(now(), n)``
and ``add_working_days`` give exactly that. Trade-off: a deadline computed another way (a
weekly report's Friday, an extension a person chose) is also shifted by the count; the
preview shows every move and the admin applies only the ones ticked.

Applying reschedules each task through the engine's reschedule command (engine.tasks, one
unit of work per task: the instance's due-date variable, its boundary timers re-evaluated,
``human_task.due_at`` and the ``timer`` rows projected, a ``task_rescheduled`` audit record)
and then marks the change applied with a ``calendar_change_applied`` audit record; a change
is applied once. A task that closed or lost its due variable meanwhile is reported as
skipped. A crash in the middle leaves the tasks moved so far moved (each audited) and the
change unmarked: the next preview lists them again, to be unticked.
"""
import dataclasses
import datetime as dt

from sqlalchemy import select

from engine.calendar import Schedule
from engine.errors import Conflict, InvalidInput, NotFound, StaleInstance
from engine.models import HumanTask

BASELINES = ("previous", "weekends")
_RETRIES = 3


@dataclasses.dataclass(frozen=True)
class Move:
    task_id: str
    instance_id: str
    business_key: str | None
    key: str
    title: str | None
    created_at: dt.datetime
    old_due: dt.datetime
    new_due: dt.datetime


@dataclasses.dataclass
class Change:
    """The newest entered schedule of ``year`` against its baseline, and the moves it implies."""

    year: int
    schedule: object              # the CalendarSchedule row in force
    baseline: str
    moves: list


def moved_due(old, new, created, due):
    """``due`` (of a task created at ``created``) under calendar ``new``, if it was counted
    in working days under ``old``; else ``due`` unchanged (see the module's rule)."""
    start, local_due = old.local(created).date(), old.local(due)
    day = local_due.date()
    n = old.working_days_between(start, day)
    if n == 0 or not old.is_working_day(day):
        return due
    moved = new.nth_working_day(start, n)
    return due if moved == day else new.at(moved, local_due.timetz().replace(tzinfo=None))


def preview(rt, year, baseline="previous"):
    """The :class:`Change` of ``year``'s newest entered schedule. NotFound when none was
    entered; InvalidInput for an unknown baseline."""
    if baseline not in BASELINES:
        raise InvalidInput(f"baseline must be one of {BASELINES}",
                           details=[{"field": "baseline", "code": "invalid_choice", "message": "unknown baseline"}])
    rows = rt.calendar_schedules.history(year, limit=2)
    if not rows:
        raise NotFound(f"no schedule was entered for {year}", reason="no_schedule")
    latest = rows[0]
    if baseline == "weekends":
        before = Schedule(frozenset(), frozenset())
    else:
        before = Schedule.of(rows[1].holidays, rows[1].working_days) if len(rows) > 1 else None
    old = rt.calendar.with_schedule(year, before)
    new = rt.calendar.with_schedule(year, Schedule.of(latest.holidays, latest.working_days))
    # A task can only move when the year lies between its creation and its due time.
    year_start = new.at(dt.date(year, 1, 1), dt.time())
    year_end = new.at(dt.date(year + 1, 1, 1), dt.time())
    query = (select(HumanTask).where(HumanTask.state == "open", HumanTask.due_at.is_not(None),
                                     HumanTask.due_at >= year_start, HumanTask.created_at < year_end,
                                     HumanTask.created_at <= latest.entered_at)
             .order_by(HumanTask.due_at, HumanTask.id))
    moves = []
    with rt.db.read() as session:
        for task in session.scalars(query):
            due = moved_due(old, new, task.created_at, task.due_at)
            if due != task.due_at:
                moves.append(Move(task.id, task.instance_id, task.business_key, task.key, task.title,
                                  task.created_at, task.due_at, due))
    return Change(year, latest, baseline, moves)


def apply(rt, year, actor, task_ids=None, baseline="previous", schedule_id=None):
    """Move the previewed tasks (all, or those in ``task_ids``) and mark the change applied.

    ``actor``: an :class:`engine.actor.Actor` (the tasks' units of work run as it).

    ``schedule_id``: the schedule the admin previewed; a newer one entered since is a 409
    (``schedule_changed``), as is a change already applied (``calendar_applied``). A task
    whose due time changed since the preview is skipped, not moved twice. Returns
    ``(moved, skipped)``: lists of :class:`Move`, and of ``(Move, reason)``.
    """
    change = preview(rt, year, baseline)
    if schedule_id is not None and change.schedule.id != schedule_id:
        raise Conflict(f"a newer schedule for {year} was entered; preview again", reason="schedule_changed")
    if change.schedule.applied_at is not None:
        raise Conflict(f"the {year} schedule was already applied", reason="calendar_applied")
    wanted = None if task_ids is None else {str(t) for t in task_ids}
    moved, skipped = [], []
    for move in change.moves:
        if wanted is not None and move.task_id not in wanted:
            continue
        reason = _reschedule(rt, move, actor, change)
        if reason is None:
            moved.append(move)
        else:
            skipped.append((move, reason))
    with rt.db.write() as session:
        if not rt.calendar_schedules.mark_applied(session, change.schedule.id, actor.username):
            raise Conflict(f"the {year} schedule was already applied", reason="calendar_applied")
        rt.audit.append(session, "calendar_change_applied", actor=actor.username, data={
            "year": year, "schedule_id": change.schedule.id, "baseline": baseline,
            "moved": [{"task_id": m.task_id, "business_key": m.business_key, "task": m.key,
                       "previous_due": m.old_due.isoformat(), "due": m.new_due.isoformat()} for m in moved],
            "skipped": [{"task_id": m.task_id, "reason": reason} for m, reason in skipped]})
    return moved, skipped


def _reschedule(rt, move, actor, change):
    """Reschedule one task; None when moved, else why not (a problem code)."""
    for _attempt in range(_RETRIES):
        try:
            task = rt.tasks.get(move.task_id)
            if task.state != "open":
                return "task_closed"
            if task.due_at != move.old_due:
                return "due_changed"
            rt.tasks.reschedule(move.task_id, move.new_due, actor,
                                reason=f"calendar {change.year} (schedule {change.schedule.id})")
            return None
        except StaleInstance:
            continue  # the instance moved on meanwhile: look again
        except (Conflict, NotFound) as err:
            return err.reason or err.code
    return "stale"
